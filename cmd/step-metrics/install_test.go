package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstall: `step-metrics install DIR` copies the binary to
// DIR/step-metrics, mode 0755, runnable; again replaces it; a DIR it cannot
// create fails with 1; usage errors are 2.
func TestInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "run", "step-metrics")
	r := runCLI(t, nil, nil, "install", dir)
	r.want(t, 0)
	dst := filepath.Join(dir, "step-metrics")
	if !strings.Contains(r.stdout, "installed "+dst) {
		t.Errorf("stdout %q", r.stdout)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode().Perm())
	}
	src, _ := os.Stat(binary)
	if fi.Size() != src.Size() {
		t.Errorf("size %d, the binary's %d", fi.Size(), src.Size())
	}
	// The copy runs, and can install itself again (over itself).
	out, err := exec.Command(dst, "version").CombinedOutput()
	if err != nil || string(out) != "step-metrics e2e-test\n" {
		t.Errorf("the copy: %v %q", err, out)
	}
	if out, err := exec.Command(dst, "install", dir).CombinedOutput(); err != nil {
		t.Errorf("the copy installing itself: %v %s", err, out)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d entries in %s: a temporary file is left", len(entries), dir)
	}

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, nil, nil, "install", filepath.Join(file, "dir"))
	r.want(t, 1)
	if !strings.Contains(r.stderr, "not a directory") {
		t.Errorf("stderr %q", r.stderr)
	}
	runCLI(t, nil, nil, "install").want(t, 2)
	runCLI(t, nil, nil, "install", "a", "b").want(t, 2)
	runCLI(t, nil, nil, "install", "--help").want(t, 0)
}
