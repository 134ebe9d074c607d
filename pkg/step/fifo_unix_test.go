//go:build unix

package step

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteFileRefusesFIFO: a FIFO at the output path (nothing writes to
// it) is refused at once with an error; os.Open would block forever.
func TestWriteFileRefusesFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.prom")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	s := New(Info{Workflow: "w", NodeID: "w-1"})
	if err := s.Set("acc", 0.9); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.WriteFile(path) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("WriteFile to a FIFO: %v, want a refusal", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WriteFile blocked on a FIFO")
	}
}
