//go:build unix

package main

// End-to-end tests of `step-metrics run`: the real binary (built in
// TestMain) wraps this test binary as its command (see childMain), with a
// clean environment (runCLI), against a real Pushgateway.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

// TestRunForwardsSignals: a signal sent to the wrapper reaches the command;
// the wrapper exits as the command did (128+N when it died by signal N)
// and still writes the metrics.
func TestRunForwardsSignals(t *testing.T) {
	bin := childBinary(t)
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{
		{syscall.SIGTERM, 128 + 15},
		{syscall.SIGINT, 128 + 2},
		{syscall.SIGHUP, 128 + 1},
		{syscall.SIGQUIT, 42}, // the child catches it and exits 42
	} {
		t.Run(c.sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			ready, marker, out := filepath.Join(dir, "ready"), filepath.Join(dir, "got"), filepath.Join(dir, "m.prom")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "run", "--output-file", out, "--", bin, "wait-signal", ready, marker)
			cmd.Env = []string{"PATH=/usr/bin:/bin", childSwitch + "=1"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitForFile(t, ready, 20*time.Second)
			start := time.Now()
			if err := cmd.Process.Signal(c.sig); err != nil { // the wrapper, not the child
				t.Fatal(err)
			}
			err := cmd.Wait()
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode() // -1 if the wrapper itself died by the signal
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.code {
				t.Fatalf("wrapper exit code %d, want %d\n%s", code, c.code, stderr.String())
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v after the signal: the child waited for its 30s timeout?", took)
			}
			got, _ := os.ReadFile(marker)
			if want := c.sig.String(); string(got) != want {
				t.Errorf("the child got %q, want %q", got, want)
			}
			if m := readMetrics(t, out); m["command_exit_code"] != float64(c.code) {
				t.Errorf("command_exit_code %v, want %d", m["command_exit_code"], c.code)
			}
		})
	}
}

func waitForFile(t *testing.T, path string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunStreamsUntouched: the command's stdout and stderr reach the
// wrapper's byte for byte (4 MiB of binary noise, NULs and invalid UTF-8
// included), and so does stdin; the wrapper adds nothing at --log-level
// warn and one line after the command's stderr at info.
func TestRunStreamsUntouched(t *testing.T) {
	bin := childBinary(t)
	out := filepath.Join(t.TempDir(), "m.prom")
	env := []string{childSwitch + "=1"}
	const size = 4 << 20

	r := runCLI(t, nil, env, "run", "--output-file", out, "--log-level", "warn", "--", bin, "noise", "7", fmt.Sprint(size))
	r.want(t, 0)
	if !bytes.Equal([]byte(r.stdout), noise(7, size)) {
		t.Errorf("stdout differs: %d bytes, want %d", len(r.stdout), size)
	}
	if !bytes.Equal([]byte(r.stderr), noise(8, size/4)) {
		t.Errorf("stderr differs: %d bytes, want %d", len(r.stderr), size/4)
	}

	r = runCLI(t, nil, env, "run", "--output-file", out, "--", bin, "noise", "7", "1000")
	r.want(t, 0)
	rest, ok := strings.CutPrefix(r.stderr, string(noise(8, 250)))
	if !ok || strings.Count(rest, "\n") != 1 || !strings.Contains(rest, `level=INFO msg="command metrics delivered"`) {
		t.Errorf("stderr after the command's: %q", rest)
	}

	in := noise(9, 2<<20)
	r = runCLI(t, in, env, "run", "--output-file", out, "--", bin, "cat")
	r.want(t, 0)
	if !bytes.Equal([]byte(r.stdout), in) {
		t.Errorf("stdin did not reach the command unchanged: %d bytes out, %d in", len(r.stdout), len(in))
	}
}

// TestRunExitCodesE2E: the binary exits with the command's code, as a
// shell would for one it cannot start.
func TestRunExitCodesE2E(t *testing.T) {
	bin := childBinary(t)
	notExec := filepath.Join(t.TempDir(), "train.py")
	if err := os.WriteFile(notExec, []byte("print(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{childSwitch + "=1"}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{bin, "exit", "0"}, 0},
		{[]string{bin, "exit", "3"}, 3},
		{[]string{"no-such-command-x7k2p"}, 127},
		{[]string{notExec}, 126},
	} {
		r := runCLI(t, nil, env, append([]string{"run", "--log-level", "error", "--"}, c.args...)...)
		if r.code != c.code {
			t.Errorf("%v: exit code %d, want %d\n%s", c.args, r.code, c.code, r.stderr)
		}
	}
}

// TestRunPushgatewayOutage: a Pushgateway that refuses connections, or
// accepts and never answers, costs at most --timeout and never changes
// the exit code.
func TestRunPushgatewayOutage(t *testing.T) {
	bin := childBinary(t)
	refused := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	hole := blackHole(t)
	env := []string{childSwitch + "=1", "STEP_METRICS_WORKFLOW_UID=uid-1", "STEP_METRICS_STEP=train"}
	for name, url := range map[string]string{"refused": refused, "black hole": hole} {
		for _, child := range []string{"0", "3"} {
			name, url, child := name, url, child
			t.Run(fmt.Sprintf("%s exit %s", name, child), func(t *testing.T) {
				t.Parallel()
				out := filepath.Join(t.TempDir(), "m.prom")
				r := runCLI(t, nil, env, "run", "--pushgateway", url, "--timeout", "2s", "--output-file", out, "--", bin, "exit", child)
				r.want(t, int(child[0]-'0'))
				if r.took > 6*time.Second {
					t.Errorf("took %v with --timeout 2s", r.took)
				}
				if !strings.Contains(r.stderr, "step metrics not pushed") {
					t.Errorf("no warning:\n%s", r.stderr)
				}
				if m := readMetrics(t, out); len(m) != 5 {
					t.Errorf("the output file was not written despite the outage: %v", m)
				}
			})
		}
	}
}

// blackHole accepts connections and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { // read until the client hangs up, answer never
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// TestRunPushesStepGroups: two wrapped steps of one run push straight to a
// real Pushgateway, each into its own group (job, namespace, workflow_id,
// step) with the prefix and the automatic labels, beside the exit
// handler's run group, which neither replaces and which replaces neither.
func TestRunPushesStepGroups(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	bin := childBinary(t)
	identity := func(step string) []string {
		return []string{
			childSwitch + "=1",
			"STEP_METRICS_WORKFLOW=train-x7k2p",
			"STEP_METRICS_WORKFLOW_UID=" + exampleUID, // the example run's, so they share the run's key
			"POD_NAMESPACE=" + exampleNS,
			"ARGO_NODE_ID=train-x7k2p-" + step,
			"KUBERNETES_SERVICE_HOST=10.96.0.1", "HOSTNAME=train-x7k2p-" + step + "-pod",
			"PUSHGATEWAY_URL=" + pg.URL,
			"STEP_METRICS_STEP=" + step,
		}
	}
	out := filepath.Join(t.TempDir(), "m.prom")
	r := runCLI(t, nil, identity("train"), "run", "--output-file", out, "--", bin,
		"metrics", `accuracy{split="test"} 0.93`, "metrics", "training_seconds 812.5", "exit", "0")
	r.want(t, 0)
	if !strings.Contains(r.stderr, `group="job=\"step-metrics\",namespace=\"ml\",workflow_id=\"`+exampleUID+`\",step=\"train\""`) {
		t.Errorf("no delivery line naming the group:\n%s", r.stderr)
	}
	runCLI(t, nil, identity("evaluate"), "run", "--", bin, "metrics", "accuracy 0.91", "exit", "1").want(t, 1)
	runCLI(t, nil, nil, "push", "--example", "--pushgateway", pg.URL).want(t, 0)

	groups := pg.Groups(t)
	if len(groups) != 3 {
		t.Fatalf("%d groups, want the run's and two steps': %+v", len(groups), groups)
	}
	fams := pg.Scrape(t)
	auto := map[string]string{"job": "step-metrics", "namespace": exampleNS, "workflow_id": exampleUID, "step": "train",
		"workflow": "train-x7k2p", "node_id": "train-x7k2p-train", "pod": "train-x7k2p-train-pod"}
	with := func(extra ...string) map[string]string {
		m := map[string]string{}
		for k, v := range auto {
			m[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	for name, want := range map[string]float64{"pipeline_custom_training_seconds": 812.5, "pipeline_custom_command_exit_code": 0} {
		if s := testenv.Series(fams, name, with()); len(s) != 1 || s[0].Value != want {
			t.Errorf("%s: %+v, want one series = %v", name, s, want)
		}
	}
	if s := testenv.Series(fams, "pipeline_custom_accuracy", with("split", "test")); len(s) != 1 || s[0].Value != 0.93 {
		t.Errorf("train's accuracy: %+v", s)
	}
	for _, name := range []string{"pipeline_custom_command_duration_seconds", "pipeline_custom_command_cpu_user_seconds", "pipeline_custom_command_max_rss_bytes"} {
		if s := testenv.Series(fams, name, with()); len(s) != 1 {
			t.Errorf("%s: %+v", name, s)
		}
	}
	if s := testenv.Series(fams, "pipeline_custom_command_exit_code", map[string]string{"step": "evaluate", "workflow_id": exampleUID}); len(s) != 1 || s[0].Value != 1 {
		t.Errorf("evaluate's exit code: %+v", s)
	}
	runSeries := exitHandlerSeries(fams)
	if len(runSeries) < 20 {
		t.Fatalf("the run group holds %d series", len(runSeries))
	}

	// A step's re-push replaces its own group only.
	runCLI(t, nil, identity("train"), "run", "--", bin, "exit", "0").want(t, 0)
	fams = pg.Scrape(t)
	if s := testenv.Series(fams, "pipeline_custom_accuracy", map[string]string{"step": "train", "pod": "train-x7k2p-train-pod"}); len(s) != 0 {
		t.Errorf("train's re-push merged instead of replacing: %+v", s)
	}
	if s := testenv.Series(fams, "pipeline_custom_accuracy", map[string]string{"step": "evaluate", "pod": "train-x7k2p-evaluate-pod"}); len(s) != 1 || s[0].Value != 0.91 {
		t.Error("train's re-push touched evaluate's group")
	}
	if got := exitHandlerSeries(fams); fmt.Sprint(got) != fmt.Sprint(runSeries) {
		t.Errorf("the run group changed with a step's push:\n%v\nwas\n%v", got, runSeries)
	}
	if s := testenv.Series(fams, "pipeline_run_result", map[string]string{"workflow_id": exampleUID, "result": "success"}); len(s) != 1 {
		t.Error("a step's push replaced the exit handler's run group")
	}
	if len(pg.Groups(t)) != 3 {
		t.Errorf("%d groups after the re-push, want 3", len(pg.Groups(t)))
	}
}

// exitHandlerSeries returns the series of the example run's group: those
// of its key without the pod label, which only a step's own push sets.
func exitHandlerSeries(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for k, v := range groupSeries(fams, exampleNS, exampleUID) {
		if !strings.Contains(k, "{pod=") && !strings.Contains(k, ",pod=") {
			out[k] = v
		}
	}
	return out
}

// runWithin runs the binary with a clean environment plus env, killing it
// after limit: a wrapper that hangs fails the test, it does not hang it.
func runWithin(t *testing.T, limit time.Duration, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("run %v: still running after %v (killed), stderr:\n%s", args, limit, r.stderr)
	}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return r
}

// TestRunRefusesFIFOs: a FIFO where the wrapper reads (the command's
// $STEP_METRICS_FILE, replaced by the command) or merges and writes
// (--output-file) would block its open forever, with no writer, and the
// command's exit code would be lost. The wrapper never opens what is not
// a regular file: it warns, keeps the command's exit code and delivers
// the metrics it still can (the push, the other file).
func TestRunRefusesFIFOs(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	bin := childBinary(t)
	env := []string{childSwitch + "=1", "STEP_METRICS_WORKFLOW_UID=uid-fifo", "PUSHGATEWAY_URL=" + pg.URL}
	const limit = 10 * time.Second

	t.Run("STEP_METRICS_FILE", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "m.prom")
		r := runWithin(t, limit, append(env, "STEP_METRICS_STEP=metrics-fifo"), "run", "--output-file", out, "--", bin, "metrics", "accuracy 0.9", "fifo", "exit", "3")
		r.want(t, 3)
		if !strings.Contains(r.stderr, "is a FIFO, not a regular file") || !strings.Contains(r.stderr, "level=WARN") {
			t.Errorf("no warning about the FIFO:\n%s", r.stderr)
		}
		if m := readMetrics(t, out); m["command_exit_code"] != 3 || len(m) != 5 {
			t.Errorf("the output file lacks the wrapper's metrics: %v", m)
		}
	})
	t.Run("output-file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "m.prom")
		if err := syscall.Mkfifo(out, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, strict := range []bool{false, true} {
			args := []string{"run", "--output-file", out}
			if strict {
				args = append(args, "--strict")
			}
			r := runWithin(t, limit, append(env, "STEP_METRICS_STEP=output-fifo"), append(args, "--", bin, "metrics", "accuracy 0.9", "exit", "4")...)
			r.want(t, 4)
			if !strings.Contains(r.stderr, "is a FIFO, not a regular file") {
				t.Errorf("no warning about the FIFO:\n%s", r.stderr)
			}
			fi, err := os.Lstat(out)
			if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				t.Errorf("the FIFO was replaced or removed: %v, %v", fi, err)
			}
		}
		// The push still went out.
		group := map[string]string{"step": "output-fifo", "workflow_id": "uid-fifo"}
		s := testenv.Series(pg.Scrape(t), "pipeline_custom_accuracy", group)
		if len(s) != 1 || s[0].Value != 0.9 {
			t.Errorf("the push with a FIFO output file: %+v", s)
		}
		// The command succeeded, the file could not be written: --strict
		// fails, as for any metrics trouble, and the push goes out.
		r := runWithin(t, limit, append(env, "STEP_METRICS_STEP=output-fifo"), "run", "--output-file", out, "--strict", "--", bin, "exit", "0")
		r.want(t, 1)
		if s := testenv.Series(pg.Scrape(t), "pipeline_custom_command_exit_code", group); len(s) != 1 || s[0].Value != 0 {
			t.Errorf("the push with a FIFO output file and --strict: %+v", s)
		}
	})
}

// TestRunForwardsUserSignals: SIGUSR1, SIGUSR2 and SIGWINCH (a reload, a
// dump or a resized terminal) reach the command, as TERM and the others
// do; the wrapper neither swallows them nor dies of them.
func TestRunForwardsUserSignals(t *testing.T) {
	dir := t.TempDir()
	marks, ready, done, out := filepath.Join(dir, "marks"), filepath.Join(dir, "ready"), filepath.Join(dir, "done"), filepath.Join(dir, "m.prom")
	script := `for s in USR1 USR2 WINCH; do trap "echo $s >> '` + marks + `'" $s; done
: > '` + ready + `'
while [ ! -e '` + done + `' ]; do sleep 0.02; done
exit 5`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "run", "--output-file", out, "--", "/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	finished := false
	t.Cleanup(func() {
		if !finished {
			_ = os.WriteFile(done, nil, 0o644)
			_ = cmd.Wait()
		}
	})
	waitForFile(t, ready, 20*time.Second)
	var want string
	for _, c := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGUSR1, "USR1"}, {syscall.SIGUSR2, "USR2"}, {syscall.SIGWINCH, "WINCH"}} {
		sig, name := c.sig, c.name
		want += name + "\n"
		if err := cmd.Process.Signal(sig); err != nil { // the wrapper, not the command
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, _ := os.ReadFile(marks)
			if string(got) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after SIG%s the command's marks are %q, want %q: the signal was not forwarded\n%s", name, got, want, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	finished = true
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Fatalf("wrapper: %v, want exit code 5\n%s", err, stderr.String())
	}
	if m := readMetrics(t, out); m["command_exit_code"] != 5 {
		t.Errorf("command_exit_code %v, want 5", m["command_exit_code"])
	}
}
