package argo

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

const outcomeFixtureDir = "../../../testdata/argo/outcome"

// TestArgoOutcomeFixtures reads statuses shaped as the controller writes
// them while the exit handler runs (testdata/argo/outcome/INDEX.md says which
// controller code writes each message) and checks the run's and the steps'
// results, with and without {{workflow.status}}.
func TestArgoOutcomeFixtures(t *testing.T) {
	for _, tc := range []struct {
		file   string
		status string // {{workflow.status}} as the exit handler gets it
		run    pipeline.Result
		steps  map[string]pipeline.Result // by step ID suffix; Retry nodes too
	}{
		{"01-stop-steps.yaml", "Failed", pipeline.ResultCancellation, map[string]pipeline.Result{
			"1228741542": pipeline.ResultCancellation, // killed: 'main: Error (exit code 143)'
			"1245519161": pipeline.ResultCancellation, // 'workflow shutdown with strategy:  Stop'
		}},
		{"02-stop-dag.yaml", "Failed", pipeline.ResultCancellation, map[string]pipeline.Result{
			"1488588956": pipeline.ResultSuccess,
			"1538921813": pipeline.ResultCancellation, // 'terminated'
			"1522144194": pipeline.ResultCancellation, // Retry: 'Stopped with strategy ...'
			"2043927737": pipeline.ResultCancellation,
			"3629114292": pipeline.ResultCancellation, // 'workflow shutdown with strategy: Stop'
		}},
		{"03-terminate-during-exit-handler.yaml", "Failed", pipeline.ResultCancellation, map[string]pipeline.Result{
			"4009611010": pipeline.ResultFailure, // failed on its own (exit 1) before the stop
		}},
		{"04-deadline-steps.yaml", "Failed", pipeline.ResultTimeout, map[string]pipeline.Result{
			"3811230137": pipeline.ResultTimeout,
		}},
		{"05-deadline-dag.yaml", "Failed", pipeline.ResultTimeout, map[string]pipeline.Result{
			"1061227281": pipeline.ResultSuccess,
			"2208561903": pipeline.ResultTimeout, // killed after the workflow deadline
			"2158229046": pipeline.ResultTimeout,
		}},
		{"06-step-timeout-retry.yaml", "Failed", pipeline.ResultTimeout, map[string]pipeline.Result{
			"2619926859": pipeline.ResultTimeout, // Retry: 'No more retries left', last attempt timed out
			"4226357513": pipeline.ResultTimeout,
			"4209579894": pipeline.ResultTimeout,
		}},
		{"07-name-contains-timeout.yaml", "Failed", pipeline.ResultFailure, map[string]pipeline.Result{
			"1527906277": pipeline.ResultFailure,
		}},
	} {
		data, err := os.ReadFile(filepath.Join(outcomeFixtureDir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, status := range []string{"", tc.status} {
			t.Run(tc.file+"/status="+status, func(t *testing.T) {
				run := readRun(t, data, Options{Status: status})
				if run.Result != tc.run {
					t.Errorf("run result = %q, want %q", run.Result, tc.run)
				}
				got := map[string]pipeline.Result{}
				for _, s := range run.Steps {
					got[s.ID[strings.LastIndexByte(s.ID, '-')+1:]] = s.Result
				}
				for _, r := range run.Retries {
					got[r.ID[strings.LastIndexByte(r.ID, '-')+1:]] = r.Result
				}
				for id, want := range tc.steps {
					if got[id] != want {
						t.Errorf("step %s result = %q, want %q", id, got[id], want)
					}
				}
			})
		}
	}
}

// TestArgoOutcomeSucceededDespiteShutdown: a stop that comes after the main
// steps succeeded does not make the run a cancellation (operate marks the
// workflow Succeeded: the "Stopped with strategy" message is only for a
// failed or errored root).
func TestArgoOutcomeSucceededDespiteShutdown(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(outcomeFixtureDir, "07-name-contains-timeout.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wf, _, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	wf.Spec.Shutdown = "Stop"
	root := wf.Status.Nodes[wf.Name]
	root.Phase, root.Message = "Succeeded", ""
	wf.Status.Nodes[wf.Name] = root
	if r := FromWorkflow(wf, Options{}).Result; r != pipeline.ResultSuccess {
		t.Errorf("result = %q, want success", r)
	}
}

// TestArgoResultShapes: Result on the messages the controller writes, and
// on messages where outcome words only appear inside names.
func TestArgoResultShapes(t *testing.T) {
	for _, tc := range []struct {
		phase, message string
		want           pipeline.Result
	}{
		// Issue 5: words inside quoted names are not outcomes.
		{"Failed", "child 'nightly-timeout-report-x7k2p-1527906277' failed", pipeline.ResultFailure},
		{"Failed", "child 'deadline-watch-abc12-99' failed", pipeline.ResultFailure},
		{"Error", `pods "etl-timeout-x7k2p-1" is forbidden: exceeded quota: compute`, pipeline.ResultError},
		{"Failed", "child 'stopped-with-strategy-abc' failed", pipeline.ResultFailure},
		// Unquoted names (DNS labels) are single words too.
		{"Failed", "failed to create pod nightly-timeout-report-x7k2p-1527906277", pipeline.ResultFailure},
		// The controller's shapes.
		{"Failed", "workflow shutdown with strategy:  Terminate", pipeline.ResultCancellation},
		{"Failed", "workflow shutdown with strategy: Stop", pipeline.ResultCancellation},
		{"Failed", "Stopped with strategy 'Stop'", pipeline.ResultCancellation},
		{"Failed", "retry exceeded workflow deadline 2026-03-01 10:05:00 +0000 UTC", pipeline.ResultTimeout},
		{"Failed", "Backoff would exceed max duration limit", pipeline.ResultTimeout},
		{"Failed", "timeout", pipeline.ResultTimeout},
		{"Error", "nightly-timeout-x7k2p[0].fetch exceeded its deadline", pipeline.ResultTimeout},
		{"Failed", "main: Error (exit code 143): Step exceeded its deadline", pipeline.ResultTimeout},
		{"Failed", "main: Error (exit code 1)", pipeline.ResultFailure},
		{"Failed", "No more retries left", pipeline.ResultFailure},
		// Free text outside quotes still counts.
		{"Failed", "Get \"http://svc\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", pipeline.ResultTimeout},
		{"Failed", "request timed out", pipeline.ResultTimeout},
	} {
		if got := Result(tc.phase, tc.message); got != tc.want {
			t.Errorf("Result(%q, %q) = %q, want %q", tc.phase, tc.message, got, tc.want)
		}
	}
}

// TestArgoChildChainBounded: "child '<id>' failed" cycles and long chains
// end; a chain is followed by ID, else by node name.
func TestArgoChildChainBounded(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(outcomeFixtureDir, "04-deadline-steps.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wf, _, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	wf.Spec.ActiveDeadlineSeconds = nil
	// By name instead of ID.
	root := wf.Status.Nodes[wf.Name]
	root.Message = "child 'deploy-k5n3p[0].rollout' failed"
	wf.Status.Nodes[wf.Name] = root
	if r := FromWorkflow(wf, Options{}).Result; r != pipeline.ResultTimeout {
		t.Errorf("by name: result = %q, want timeout", r)
	}
	// A cycle: the root names itself.
	root.Message = "child '" + wf.Name + "' failed"
	wf.Status.Nodes[wf.Name] = root
	if r := FromWorkflow(wf, Options{}).Result; r != pipeline.ResultFailure {
		t.Errorf("cycle: result = %q, want failure", r)
	}
}

// FuzzResult: any phase and message give one of the known results, without
// panicking; a message whose only outcome words are inside quoted names is
// never a timeout or a cancellation.
func FuzzResult(f *testing.F) {
	for _, s := range []string{
		"", "timeout", "Step exceeded its deadline", "Stopped with strategy 'Stop'",
		"child 'nightly-timeout-report-x7k2p-1527906277' failed", "main: Error (exit code 143): Step exceeded its deadline",
		"'", "''", "\"timeout", "can't wait: timeout",
	} {
		f.Add("Failed", s, "nightly-timeout-report")
	}
	f.Add("Error", "x exceeded its deadline", "deadline")
	f.Fuzz(func(t *testing.T, phase, message, name string) {
		known := append([]pipeline.Result{pipeline.ResultNone}, pipeline.Results...)
		if r := Result(phase, message); !slices.Contains(known, r) {
			t.Fatalf("Result(%q, %q) = %q", phase, message, r)
		}
		name = strings.Map(func(r rune) rune {
			if r == '\'' || r == '"' || r == '\n' {
				return -1
			}
			return r
		}, name)
		for _, shape := range []string{"child '%s' failed", `pods "%s" is forbidden`, "'%s'", `"%s"`} {
			m := strings.Replace(shape, "%s", name, 1)
			if r := Result("Failed", m); r != pipeline.ResultFailure {
				t.Fatalf("Result(Failed, %q) = %q, want failure", m, r)
			}
		}
	})
}
