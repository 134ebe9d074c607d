//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/pkg/custom"
)

// The test binary doubles as the command `step-metrics run` wraps: with
// RUN_TEST_CHILD=1 it runs the child program below instead of the tests.
const childSwitch = "RUN_TEST_CHILD"

func init() {
	if os.Getenv(childSwitch) == "1" {
		os.Exit(childMain(os.Args[1:]))
	}
}

// childMain runs a list of instructions, e.g. `metrics "x 1" sleep 100ms
// exit 3`:
//
//	exit N                 exit with N
//	sleep D                sleep for duration D
//	cat                    copy stdin to stdout
//	noise SEED N           write N bytes of noise(SEED) to stdout, of noise(SEED+1) to stderr
//	metrics TEXT           append TEXT and a newline to $STEP_METRICS_FILE
//	write TEXT             replace $STEP_METRICS_FILE with TEXT
//	fifo                   replace $STEP_METRICS_FILE with a FIFO (no writer)
//	alloc MIB              allocate and touch MIB MiB, kept until exit
//	spin MS                burn user CPU until this process used MS ms of it
//	args                   print the remaining arguments, one per line, and exit 0
//	env NAME               print $NAME
//	kill-self SIG          kill itself with signal number SIG
//	wait-signal READY OUT  write READY, wait (30s at most) for TERM, INT, HUP or QUIT,
//	                       write its name to OUT, then die by it (QUIT: exit 42)
func childMain(args []string) int {
	var keep [][]byte
	for len(args) > 0 {
		op := args[0]
		arg := func(i int) string {
			if len(args) <= i {
				fmt.Fprintf(os.Stderr, "child: %s needs %d arguments\n", op, i)
				os.Exit(90)
			}
			return args[i]
		}
		n := 1
		switch op {
		case "exit":
			c, _ := strconv.Atoi(arg(1))
			return c
		case "sleep":
			d, _ := time.ParseDuration(arg(1))
			time.Sleep(d)
			n = 2
		case "cat":
			if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
				return 91
			}
		case "noise":
			seed, _ := strconv.ParseUint(arg(1), 10, 64)
			size, _ := strconv.Atoi(arg(2))
			_, _ = os.Stdout.Write(noise(seed, size))
			_, _ = os.Stderr.Write(noise(seed+1, size/4))
			n = 3
		case "metrics", "write":
			flag := os.O_APPEND | os.O_WRONLY
			text := arg(1)
			if op == "write" {
				flag = os.O_TRUNC | os.O_WRONLY
			} else {
				text += "\n"
			}
			f, err := os.OpenFile(os.Getenv(metricsFileEnv), flag, 0)
			if err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				return 92
			}
			_, _ = f.WriteString(text)
			f.Close()
			n = 2
		case "fifo":
			path := os.Getenv(metricsFileEnv)
			_ = os.Remove(path)
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				return 98
			}
		case "alloc":
			mib, _ := strconv.Atoi(arg(1))
			b := make([]byte, mib<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
			n = 2
		case "spin":
			ms, _ := strconv.Atoi(arg(1))
			x := 0
			for {
				var ru syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
				if time.Duration(ru.Utime.Nano()) >= time.Duration(ms)*time.Millisecond {
					break
				}
				for i := 0; i < 1e6; i++ {
					x += i
				}
			}
			_ = x
			n = 2
		case "args":
			for _, a := range args[1:] {
				fmt.Println(a)
			}
			return 0
		case "env":
			fmt.Println(os.Getenv(arg(1)))
			n = 2
		case "kill-self":
			sig, _ := strconv.Atoi(arg(1))
			_ = syscall.Kill(os.Getpid(), syscall.Signal(sig))
			time.Sleep(10 * time.Second)
			return 93
		case "wait-signal":
			ch := make(chan os.Signal, 1)
			sigs := []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT}
			signal.Notify(ch, sigs...)
			if err := os.WriteFile(arg(1), []byte("ready"), 0o644); err != nil {
				return 94
			}
			select {
			case s := <-ch:
				_ = os.WriteFile(arg(2), []byte(s.String()), 0o644)
				if s == syscall.SIGQUIT {
					return 42 // Go's runtime would dump goroutines and exit 2
				}
				signal.Reset(s)
				_ = syscall.Kill(os.Getpid(), s.(syscall.Signal))
				time.Sleep(10 * time.Second)
				return 95
			case <-time.After(30 * time.Second):
				return 96
			}
		default:
			fmt.Fprintf(os.Stderr, "child: unknown instruction %q\n", op)
			return 97
		}
		args = args[n:]
	}
	_ = keep
	return 0
}

// noise returns n deterministic pseudo-random bytes: every byte value,
// NULs and invalid UTF-8 included.
func noise(seed uint64, n int) []byte {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// childBinary is this test binary, the command the tests wrap.
func childBinary(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runInProcess runs `step-metrics run ARGS` in this process (the command
// still is a child process).
func runInProcess(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv(childSwitch, "1")
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"run"}, args...), bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// readMetrics parses an output file as the exit handler does.
func readMetrics(t *testing.T, path string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	samples, warnings := custom.Parse(b, custom.DefaultLimits, nil)
	if len(warnings) > 0 {
		t.Errorf("the exit handler would warn: %v\n%s", warnings, b)
	}
	out := map[string]float64{}
	for _, s := range samples {
		k := s.Name
		for _, l := range s.Labels {
			k += fmt.Sprintf(",%s=%s", l.Name, l.Value)
		}
		out[k] = s.Value
	}
	return out
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "train.py")
	if err := os.WriteFile(notExec, []byte("print(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badInterp := filepath.Join(dir, "script")
	if err := os.WriteFile(badInterp, []byte("#!/nonexistent/python\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := childBinary(t)
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"success", []string{"--", bin, "exit", "0"}, 0, ""},
		{"the command's code", []string{"--", bin, "exit", "3"}, 3, ""},
		{"high code", []string{"--", bin, "exit", "255"}, 255, ""},
		{"killed by a signal", []string{"--", bin, "kill-self", "9"}, 128 + 9, ""},
		{"not found in PATH", []string{"--", "no-such-command-x7k2p"}, 127, "executable file not found"},
		{"not found by path", []string{"--", filepath.Join(dir, "nope")}, 127, "no such file"},
		{"not executable", []string{"--", notExec}, 126, "permission denied"},
		{"a directory", []string{"--", dir}, 126, "cannot run the command"},
		{"missing interpreter", []string{"--", badInterp}, 126, "cannot run the command"},
		{"no command", []string{}, 125, "no command"},
		{"only flags", []string{"--timeout", "3s", "--"}, 125, "no command"},
		{"unknown flag", []string{"--bogus", "--", bin}, 125, "bogus"},
		{"bad log level", []string{"--log-level", "loud", "--", bin}, 125, "--log-level"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.prom")
			code, _, stderr := runInProcess(t, nil, append([]string{"--output-file", out}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit code %d, want %d\n%s", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.stderr) {
				t.Errorf("stderr lacks %q:\n%s", c.stderr, stderr)
			}
			if c.code == 125 {
				if _, err := os.Stat(out); err == nil {
					t.Error("a usage error wrote metrics")
				}
				return
			}
			m := readMetrics(t, out)
			if m["command_exit_code"] != float64(c.code) {
				t.Errorf("command_exit_code %v, want %d", m["command_exit_code"], c.code)
			}
			_, ran := m["command_duration_seconds"]
			if started := c.code < 126 || c.code > 127; ran != started {
				t.Errorf("duration recorded: %v, want %v: %v", ran, started, m)
			}
		})
	}
}

func TestRunBadEnvironmentIsAUsageError(t *testing.T) {
	t.Setenv("STEP_METRICS_TIMEOUT", "soon")
	code, _, stderr := runInProcess(t, nil, "--", childBinary(t), "exit", "0")
	if code != 125 || !strings.Contains(stderr, "STEP_METRICS_TIMEOUT") {
		t.Errorf("code %d, stderr:\n%s", code, stderr)
	}
}

func TestRunHelp(t *testing.T) {
	code, _, stderr := runInProcess(t, nil, "--help")
	if code != 0 || !strings.Contains(stderr, "-- COMMAND [ARGS...]") || !strings.Contains(stderr, "$STEP_METRICS_OUTPUT_FILE") {
		t.Errorf("code %d:\n%s", code, stderr)
	}
}

// TestRunFlagsStopAtTheCommand: run's flags end at "--" or at the first
// argument that is not a flag; everything after is the command's.
func TestRunFlagsStopAtTheCommand(t *testing.T) {
	bin := childBinary(t)
	out := filepath.Join(t.TempDir(), "m.prom")
	for _, args := range [][]string{
		{"--output-file", out, "--", bin, "args", "--output-file", "x", "--", "-v"},
		{"--output-file", out, bin, "args", "--output-file", "x", "--", "-v"},
		{"-o", out, "--timeout=2s", bin, "args", "--output-file", "x", "--", "-v"},
	} {
		code, stdout, stderr := runInProcess(t, nil, args...)
		if code != 0 || stdout != "--output-file\nx\n--\n-v\n" {
			t.Errorf("%q: code %d, the command got %q\n%s", args, code, stdout, stderr)
		}
	}
}

// TestRunCommandMetrics: the wrapper's own measurements and what the
// command appends to $STEP_METRICS_FILE end up in the output file, as the
// exit handler reads it; what the exit handler would refuse is dropped
// with a warning.
func TestRunCommandMetrics(t *testing.T) {
	out := filepath.Join(t.TempDir(), "step-metrics.prom")
	code, _, stderr := runInProcess(t, nil, "--output-file", out, "--",
		childBinary(t),
		"metrics", "# HELP accuracy Accuracy on the test set.",
		"metrics", "accuracy 0.93",
		"metrics", `samples_per_second{split="train"} 1200`,
		"metrics", "command_exit_code 0", // the wrapper's own: not the command's to set
		"metrics", `forged{workflow_id="other"} 1`, // reserved label
		"metrics", "not a metric line",
		"alloc", "64", "spin", "150", "sleep", "300ms", "exit", "4")
	if code != 4 {
		t.Fatalf("exit code %d\n%s", code, stderr)
	}
	m := readMetrics(t, out)
	check := func(name string, ok func(float64) bool, what string) {
		t.Helper()
		v, found := m[name]
		if !found || !ok(v) {
			t.Errorf("%s = %v (found %v), want %s", name, v, found, what)
		}
	}
	check("command_exit_code", func(v float64) bool { return v == 4 }, "4")
	check("command_duration_seconds", func(v float64) bool { return v >= 0.3 && v < 30 }, ">= the 300ms sleep")
	check("command_cpu_user_seconds", func(v float64) bool { return v >= 0.15 }, ">= the 150ms spin")
	check("command_cpu_system_seconds", func(v float64) bool { return v >= 0 }, ">= 0")
	check("command_max_rss_bytes", func(v float64) bool { return v >= 64<<20 && v < 8<<30 }, ">= the 64 MiB touched (in bytes, not KiB)")
	check("accuracy", func(v float64) bool { return v == 0.93 }, "0.93")
	check("samples_per_second,split=train", func(v float64) bool { return v == 1200 }, "1200")
	if len(m) != 7 {
		t.Errorf("%d series, want 7: %v", len(m), m)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), "# HELP accuracy Accuracy on the test set.\n") {
		t.Errorf("the command's HELP is lost:\n%s", b)
	}
	for _, want := range []string{"command_exit_code is the wrapper's own", `label \"workflow_id\" is reserved`, "line 6"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("no warning %q:\n%s", want, stderr)
		}
	}
}

// TestRunJSONAndEnvironment: the command may write a JSON object instead;
// it gets a fresh, empty $STEP_METRICS_FILE even when one is set around
// the wrapper.
func TestRunJSONAndEnvironment(t *testing.T) {
	t.Setenv(metricsFileEnv, "/outer/file")
	out := filepath.Join(t.TempDir(), "m.prom")
	code, stdout, stderr := runInProcess(t, nil, "-o", out, "--", childBinary(t),
		"env", metricsFileEnv, "write", `{"accuracy": 0.93, "loss": 0.12}`)
	if code != 0 {
		t.Fatalf("code %d\n%s", code, stderr)
	}
	file := strings.TrimSpace(stdout)
	if file == "/outer/file" || !filepath.IsAbs(file) {
		t.Errorf("the command got STEP_METRICS_FILE=%q", file)
	}
	if _, err := os.Stat(file); err == nil {
		t.Errorf("the command's file %s was not cleaned up", file)
	}
	m := readMetrics(t, out)
	if m["accuracy"] != 0.93 || m["loss"] != 0.12 || len(m) != 7 {
		t.Errorf("metrics %v", m)
	}
}

// TestRunOutputFileMerges: two wrapped commands in one step (or a file
// already there) add up; the second's own metrics replace the first's.
func TestRunOutputFileMerges(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.prom")
	bin := childBinary(t)
	runInProcess(t, nil, "-o", out, "--", bin, "metrics", "rows_read 100", "exit", "0")
	runInProcess(t, nil, "-o", out, "--", bin, "metrics", "accuracy 0.9", "exit", "2")
	m := readMetrics(t, out)
	if m["rows_read"] != 100 || m["accuracy"] != 0.9 || m["command_exit_code"] != 2 || len(m) != 7 {
		t.Errorf("metrics %v", m)
	}
}

// TestRunMetricsTroubleKeepsTheExitCode: an output file that cannot be
// written (a path under a file), a bad Pushgateway URL or a missing CA
// file are warnings; the exit code is the command's. --strict turns them
// into exit 1, only when the command succeeded.
func TestRunMetricsTroubleKeepsTheExitCode(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := childBinary(t)
	troubles := map[string][]string{
		"unwritable output file": {"--output-file", filepath.Join(file, "m.prom")},
		"bad pushgateway URL":    {"--pushgateway", "pushgateway:9091", "--workflow-uid", "u", "--step", "s"},
		"missing CA file":        {"--pushgateway", "https://127.0.0.1:1", "--ca-file", "/nonexistent/ca.crt", "--workflow-uid", "u", "--step", "s"},
		"no workflow ID":         {"--pushgateway", "http://127.0.0.1:1", "--step", "s"},
		"no destination":         {},
	}
	for name, flags := range troubles {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				strict bool
				child  string
				want   int
			}{{false, "0", 0}, {false, "3", 3}, {true, "0", 1}, {true, "3", 3}} {
				args := append([]string{}, flags...)
				if c.strict {
					args = append(args, "--strict")
				}
				code, _, stderr := runInProcess(t, nil, append(args, "--", bin, "exit", c.child)...)
				if code != c.want {
					t.Errorf("strict=%v, command exits %s: code %d, want %d\n%s", c.strict, c.child, code, c.want, stderr)
				}
				if !strings.Contains(stderr, "level=WARN") {
					t.Errorf("no warning:\n%s", stderr)
				}
				if strings.Contains(stderr, "panic") {
					t.Errorf("panic:\n%s", stderr)
				}
			}
		})
	}
}

func TestStartFailureCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("wrapped: %w", syscall.EACCES), 126},
		{fmt.Errorf("wrapped: %w", syscall.ENOEXEC), 126},
		{fmt.Errorf("wrapped: %w", syscall.ENOENT), 127},
	} {
		cmd := exec.Command("/nonexistent/x")
		if got := startFailureCode(cmd, c.err); got != c.want {
			t.Errorf("%v: %d, want %d", c.err, got, c.want)
		}
	}
}

// TestRunBadPushFlagsNameTheFlag: --timeout 0s (or negative) and --retries
// out of range are metrics trouble, said when pushing: the command runs,
// its exit code stays, and the warning names the one flag that is wrong.
func TestRunBadPushFlagsNameTheFlag(t *testing.T) {
	bin := childBinary(t)
	for _, c := range []struct {
		flags     []string
		want, not string
	}{
		{[]string{"--timeout", "0s"}, "--timeout 0s must be positive", "--retries"},
		{[]string{"--timeout", "-1s"}, "--timeout -1s must be positive", "--retries"},
		{[]string{"--retries", "21"}, "--retries 21 must be between 0 and 20", "--timeout"},
	} {
		args := append([]string{"--pushgateway", "http://127.0.0.1:1", "--workflow-uid", "u", "--step", "s"}, c.flags...)
		code, _, stderr := runInProcess(t, nil, append(args, "--", bin, "exit", "3")...)
		if code != 3 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, c.not) {
			t.Errorf("%v: code %d, want 3 and a warning %q without %q:\n%s", c.flags, code, c.want, c.not, stderr)
		}
	}
}
