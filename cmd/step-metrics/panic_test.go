package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestPanicDoesNotFailTheWorkflow: a panic while reading the run and
// computing its metrics (a bug, or an input no test foresaw) would crash
// the exit handler and fail the workflow; it is logged as an internal
// error, the outcome is pushed from the arguments with
// pipeline_run_metrics_incomplete{reason="unreadable"}, and push exits 0.
func TestPanicDoesNotFailTheWorkflow(t *testing.T) {
	prepareHook = func() { panic("boom") }
	t.Cleanup(func() { prepareHook = nil })
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"push", "--workflow", "train-x7k2p", "-n", "ml", "--workflow-uid", "u-1",
		"--status", "Failed", "--dry-run", "--log-format", "json"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{`pipeline_run_metrics_incomplete{`, `reason="unreadable"`, `pipeline_run_result{`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr.String(), "internal error") || !strings.Contains(stderr.String(), "boom") {
		t.Errorf("stderr does not report the internal error:\n%s", stderr.String())
	}
}
