//go:build linux

package main

// Tests of the reaper: `step-metrics run` as PID 1 of a new PID namespace
// (root only), as a child subreaper (anyone), and the reaper alone, in a
// helper process of its own so that it cannot reap another test's
// children.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// With RUN_TEST_REAPER set, the test binary is a helper process: a child
// subreaper that runs `step-metrics run ARGS` in-process ("run"), or the
// reaper alone ("unit").
const reaperSwitch = "RUN_TEST_REAPER"

const prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER, <linux/prctl.h>

func init() {
	mode := os.Getenv(reaperSwitch)
	if mode == "" {
		return
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		fmt.Fprintln(os.Stderr, "helper: PR_SET_CHILD_SUBREAPER:", errno)
		os.Exit(99)
	}
	switch mode {
	case "run":
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	case "unit":
		os.Exit(reaperUnit(os.Stdout))
	}
	os.Exit(98)
}

// orphanScript leaves an orphan (a sleep whose parent, a subshell, exits
// at once) that exits while the script still runs, records the orphan's
// PID in its PID namespace and its own parent's, and exits 3 when the
// test creates $D/done.
const orphanScript = `(sleep 1 & echo $! > "$D/orphan")
echo $PPID > "$D/parent"
while [ ! -e "$D/done" ]; do sleep 0.02; done
exit 3`

// TestRunReapsOrphansAsPID1: as PID 1 of its PID namespace (a container
// without an init), the wrapper reaps the orphan its command leaves: the
// orphan is gone from /proc, no zombie, while the wrapper still runs; and
// the command's exit code stays exactly its own.
func TestRunReapsOrphansAsPID1(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a new PID namespace (unshare CLONE_NEWPID); TestRunReapsOrphansAsSubreaper covers the reaper without it")
	}
	dir := t.TempDir()
	cmd := exec.Command(binary, "run", "--output-file", filepath.Join(dir, "m.prom"), "--", "/bin/sh", "-c", orphanScript)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "D=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	checkReapsOrphan(t, cmd, dir, "1")
}

// TestRunReapsOrphansAsSubreaper: the same without a PID namespace, for
// any user: a child subreaper inherits orphans as PID 1 does.
func TestRunReapsOrphansAsSubreaper(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(childBinary(t), "run", "--output-file", filepath.Join(dir, "m.prom"), "--", "/bin/sh", "-c", orphanScript)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "D=" + dir, reaperSwitch + "=run"}
	checkReapsOrphan(t, cmd, dir, "")
}

// checkReapsOrphan starts the wrapper cmd running orphanScript and checks
// the orphan is reaped while the wrapper runs, then that the wrapper
// exits 3. parent is what the script's $PPID must be ("" for the
// wrapper's own PID).
func checkReapsOrphan(t *testing.T, cmd *exec.Cmd, dir, parent string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
			t.Skipf("no new PID namespace here: %v", err)
		}
		t.Fatal(err)
	}
	finished := false
	t.Cleanup(func() {
		if !finished {
			_ = os.WriteFile(filepath.Join(dir, "done"), nil, 0o644)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	wrapper := cmd.Process.Pid
	if parent == "" {
		parent = strconv.Itoa(wrapper)
	}
	waitForFile(t, filepath.Join(dir, "parent"), 20*time.Second)
	waitForFile(t, filepath.Join(dir, "orphan"), 20*time.Second)
	if got := readTrimmed(t, filepath.Join(dir, "parent")); got != parent {
		t.Fatalf("the command's parent is %s, want %s: the set-up is wrong", got, parent)
	}
	nsPID := readTrimmed(t, filepath.Join(dir, "orphan"))

	// The orphan, by its PID on this side (it sleeps for a second).
	var orphan int
	for deadline := time.Now().Add(900 * time.Millisecond); orphan == 0; {
		orphan = findDescendant(wrapper, nsPID)
		if orphan == 0 && time.Now().After(deadline) {
			t.Fatalf("the orphan (PID %s in the command's namespace) was not found", nsPID)
		}
	}
	sawParent := false
	for deadline := time.Now().Add(10 * time.Second); ; {
		state, ppid, ok := procStat(orphan)
		if !ok {
			break // reaped
		}
		sawParent = sawParent || ppid == wrapper
		if time.Now().After(deadline) {
			t.Fatalf("orphan %d still there after its sleep: state %s, parent %d (the wrapper is %d): not reaped\n%s", orphan, state, ppid, wrapper, stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the wrapper exited before the command: %v\n%s", err, stderr.String())
	}
	t.Logf("orphan %d reaped (seen as the wrapper's child: %v)", orphan, sawParent)

	if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	finished = true
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("wrapper: %v, want exit code 3\n%s", err, stderr.String())
	}
	if m := readMetrics(t, filepath.Join(dir, "m.prom")); m["command_exit_code"] != 3 {
		t.Errorf("command_exit_code %v, want 3", m["command_exit_code"])
	}
}

// TestRunPID1KeepsExitCodes: orphans exiting all around the command's own
// exit never take its status: run after run, the wrapper as PID 1 exits
// with the command's code and records it. A reaper that waited for any
// PID could take the command's (os/exec's Wait would then fail with
// ECHILD and the code would be 126); the race is narrow here, so
// TestReaperNeverTakesTheCommand is the test that catches it every time.
func TestRunPID1KeepsExitCodes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a new PID namespace (unshare CLONE_NEWPID); TestReaperNeverTakesTheCommand covers it without")
	}
	script := `i=0
while [ $i -lt 40 ]; do (sh -c 'exit 1' &); i=$((i+1)); done
exit $1`
	for i := range 10 {
		code := 3 + i
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, binary, "run", "--output-file", filepath.Join(dir, "m.prom"), "--", "/bin/sh", "-c", script, "sh", strconv.Itoa(code))
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != code {
			t.Fatalf("run %d: %v, want exit code %d\n%s", i, err, code, stderr.String())
		}
		if m := readMetrics(t, filepath.Join(dir, "m.prom")); m["command_exit_code"] != float64(code) || m["command_cpu_user_seconds"] < 0 {
			t.Fatalf("run %d: metrics %v, want command_exit_code %d", i, m, code)
		}
	}
}

// commands is how many commands reaperUnit runs: enough for a reaper that
// takes the command's status to be caught most times.
const commands = 40

// reaperResult is what the "unit" helper reports.
type reaperResult struct {
	ZombieCode int   // the exit code of a command drained while a zombie
	ExitCodes  []int // the commands', as os/exec's Wait returned them
	WaitErrs   []string
	Reaped     int    // children the reaper reaped
	Orphans    int    // orphans the commands left
	Zombies    int    // zombie children left after stop
	Err        string // a set-up failure
}

// reaperUnit drives the reaper as run does, in a child subreaper: each
// command leaves orphans, some exiting before it, some with it, one after
// (which the next command's reaper reaps); os/exec waits for the command
// while the reaper reaps the rest.
func reaperUnit(w io.Writer) int {
	var res reaperResult
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The command's zombie, however often drained, stays os/exec's.
	r := startReaper(log)
	cmd := exec.Command("/bin/sh", "-c", "exit 7")
	if err := cmd.Start(); err != nil {
		res.Err = err.Error()
	} else {
		r.watch(cmd.Process.Pid)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if state, _, _ := procStat(cmd.Process.Pid); state == "Z" {
				break
			}
		}
		for range 3 {
			r.drain()
		}
		res.ZombieCode = exitCodeOf(cmd.Wait())
		r.waited()
		res.Reaped += r.stop()
	}

	script := `(sh -c 'exit 0' &); (sh -c 'exit 0' &); sleep 0.02; (sh -c 'exit 0' &); (sh -c 'exit 0' &); (sleep 0.1 &); exit $1`
	for i := range commands {
		r := startReaper(log)
		cmd := exec.Command("/bin/sh", "-c", script, "sh", strconv.Itoa(i))
		if err := cmd.Start(); err != nil {
			res.Err = err.Error()
			break
		}
		res.Orphans += 5
		r.watch(cmd.Process.Pid)
		err := cmd.Wait()
		r.waited()
		res.ExitCodes = append(res.ExitCodes, exitCodeOf(err))
		if exitCodeOf(err) < 0 {
			res.WaitErrs = append(res.WaitErrs, err.Error())
		}
		res.Reaped += r.stop()
	}
	time.Sleep(300 * time.Millisecond) // the last sleep ends
	res.Reaped += startReaper(log).stop()
	res.Zombies = zombieChildren(os.Getpid())
	_ = json.NewEncoder(w).Encode(res)
	return 0
}

// exitCodeOf is the exit code in cmd.Wait's error; -1 when Wait failed.
func exitCodeOf(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// TestReaperNeverTakesTheCommand: the reaper reaps every orphan, before,
// with and after the command's exit, and never the command, whose status
// os/exec gets exactly. It runs in a child subreaper of its own.
func TestReaperNeverTakesTheCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, childBinary(t))
	cmd.Env = []string{"PATH=/usr/bin:/bin", reaperSwitch + "=unit"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	var res reaperResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("helper said %q: %v", out, err)
	}
	if res.Err != "" {
		t.Fatal(res.Err)
	}
	if res.ZombieCode != 7 {
		t.Errorf("the command drained while a zombie: exit code %d, want 7 (the reaper took it)", res.ZombieCode)
	}
	for i, c := range res.ExitCodes {
		if c != i {
			t.Errorf("command %d: exit code %d, want %d", i, c, i)
		}
	}
	if len(res.WaitErrs) > 0 {
		t.Errorf("os/exec's Wait failed %d times (the reaper took the command): %s", len(res.WaitErrs), res.WaitErrs[0])
	}
	if len(res.ExitCodes) != commands {
		t.Errorf("%d commands ran, want %d", len(res.ExitCodes), commands)
	}
	if res.Reaped != res.Orphans || res.Zombies != 0 {
		t.Errorf("reaped %d of %d orphans, %d zombies left", res.Reaped, res.Orphans, res.Zombies)
	}
}

func readTrimmed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// procStat returns a process's state and parent, from /proc/PID/stat.
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid, true
}

// findDescendant returns the PID, on this side, of the descendant of
// ancestor whose PID in its own namespace is nsPID (the last NSpid field
// of /proc/PID/status); 0 when there is none.
func findDescendant(ancestor int, nsPID string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == ancestor {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		var ns []string
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
				ns = strings.Fields(rest)
			}
		}
		if len(ns) == 0 || ns[len(ns)-1] != nsPID {
			continue
		}
		for p, n := pid, 0; p > 1 && n < 64; n++ {
			_, ppid, ok := procStat(p)
			if !ok {
				break
			}
			if ppid == ancestor {
				return pid
			}
			p = ppid
		}
	}
	return 0
}

// zombieChildren counts pid's children that are zombies.
func zombieChildren(pid int) int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, ppid, ok := procStat(p); ok && ppid == pid && state == "Z" {
			n++
		}
	}
	return n
}
