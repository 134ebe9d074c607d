package tekton

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// The fixtures in testdata/tekton/controller/ are statuses shaped as
// tektoncd/pipeline v1.15.0's controller writes them (INDEX.md names the
// controller function behind each).

func readController(t *testing.T, file string, opts options) *pipeline.Run {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tektonDir, "controller", file))
	if err != nil {
		t.Fatal(err)
	}
	if !detect(data) {
		t.Errorf("%s: detect = false", file)
	}
	return readTekton(t, data, opts)
}

// TestTektonRetryStepsBelongToTheirAttempt: retryTaskRun archives the
// status in retriesStatus and keeps status.steps; the pod of the next
// attempt replaces them only once it reports container statuses. Until
// then the containers are the previous attempt's, not the current one's.
func TestTektonRetryStepsBelongToTheirAttempt(t *testing.T) {
	for _, file := range []string{"retry-to-be-retried.yaml", "retry-restarted-pod-pending.yaml"} {
		t.Run(file, func(t *testing.T) {
			run := readController(t, file, options{})
			failures := 0
			for _, s := range run.Steps {
				if s.Type == "Step" && s.Attempt != 0 {
					t.Errorf("container step %s in attempt %d: the previous attempt's steps reported again", s.ID, s.Attempt)
				}
				if s.Result == pipeline.ResultFailure && s.Type == "Step" {
					failures++
				}
			}
			if failures != 1 {
				t.Errorf("%d failed containers, want 1 (one failure, in attempt 0)", failures)
			}
			steps := stepsOf(run)
			if s, ok := steps["test-taskrun-run-retry-pod-failure/attempt-0/step-unamed-0"]; !ok || s.Result != pipeline.ResultFailure || s.Phase != "TaskRunImagePullFailed" {
				t.Errorf("attempt 0's container = %+v (found %v)", s, ok)
			}
			if s := steps["test-taskrun-run-retry-pod-failure/attempt-1"]; s.Result != pipeline.ResultNone || s.Finished {
				t.Errorf("current attempt = %+v", s)
			}
			if len(run.Retries) != 1 || run.Retries[0].Attempts != 2 {
				t.Errorf("retries = %+v", run.Retries)
			}
		})
	}
	// A new attempt whose pod reports its containers has its own steps.
	data, err := os.ReadFile(filepath.Join(tektonDir, "controller", "retry-restarted-pod-pending.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	own := strings.Replace(string(data), "  steps:\n  - container: step-unamed-0\n    name: unamed-0\n    terminated:\n      exitCode: 1\n      finishedAt: \"2022-01-01T00:00:00Z\"\n      reason: \"TaskRunImagePullFailed\"\n  retriesStatus:",
		"  steps:\n  - container: step-unamed-0\n    name: unamed-0\n    running:\n      startedAt: \"2022-01-01T00:00:05Z\"\n  retriesStatus:", 1)
	if own == string(data) {
		t.Fatal("fixture changed: edit did not apply")
	}
	run := readTekton(t, []byte(own), options{})
	if s, ok := stepsOf(run)["test-taskrun-run-retry-pod-failure/attempt-1/step-unamed-0"]; !ok || s.Phase != "Running" || s.Attempt != 1 {
		t.Errorf("the new attempt's own container = %+v (found %v)", s, ok)
	}
}

// TestTektonFailedFromTaskRunReasons: $(tasks.status) Failed says every
// DAG task is done and one failed (GetPipelineTaskStatus); the TaskRuns'
// reasons say whether it was a cancellation or a timeout, with or without
// a pipelineSpec in the status.
func TestTektonFailedFromTaskRunReasons(t *testing.T) {
	cases := []struct {
		file   string
		opts   options
		result pipeline.Result
		phase  string
	}{
		{"cancelled-taskrun-in-finally.yaml", options{Status: "Failed"}, pipeline.ResultCancellation, "Failed"},
		{"cancelled-taskrun-in-finally.yaml", options{Status: "Failed", SelfTaskRun: "cancel-run-step-metrics"}, pipeline.ResultCancellation, "Failed"},
		{"cancelled-taskrun-in-finally.yaml", options{SelfTaskRun: "cancel-run-step-metrics"}, pipeline.ResultCancellation, "TaskRunCancelled"},
		// Cancelled because the pipeline's timeout ran out: a timeout
		// (isCancelledForTimeOut counts it as a failure, not a cancellation).
		{"tasks-timeout-in-finally.yaml", options{Status: "Failed"}, pipeline.ResultTimeout, "Failed"},
		{"tasks-timeout-in-finally.yaml", options{Status: "Failed", SelfTaskRun: "slow-run-step-metrics"}, pipeline.ResultTimeout, "Failed"},
		{"tasks-timeout-in-finally.yaml", options{SelfTaskRun: "slow-run-step-metrics"}, pipeline.ResultTimeout, "TaskRunCancelled"},
	}
	for _, c := range cases {
		t.Run(c.file+" "+c.opts.Status+" "+c.opts.SelfTaskRun, func(t *testing.T) {
			run := readController(t, c.file, c.opts)
			if run.Result != c.result || run.Phase != c.phase {
				t.Errorf("result/phase = %s/%s, want %s/%s (warnings %q)", run.Result, run.Phase, c.result, c.phase, run.Warnings)
			}
			if !run.Finished {
				t.Errorf("not finished (warnings %q)", run.Warnings)
			}
		})
	}
	// The TaskRun cancelled by the pipeline's timeout is a timed-out step.
	run := readController(t, "tasks-timeout-in-finally.yaml", options{Status: "Failed", SelfTaskRun: "slow-run-step-metrics"})
	if s := stepsOf(run)["slow-run-train"]; s.Result != pipeline.ResultTimeout || s.Phase != "TaskRunCancelled" || s.Duration != 59*time.Second {
		t.Errorf("train = %+v", s)
	}
	// Succeeded is not made anything else.
	run = readController(t, "cancelled-taskrun-in-finally.yaml", options{Status: "Succeeded"})
	if run.Result != pipeline.ResultSuccess {
		t.Errorf("Succeeded: result %s", run.Result)
	}
}

// TestTektonStandaloneTaskRun: a TaskRun that belongs to no PipelineRun is
// a run of one task.
func TestTektonStandaloneTaskRun(t *testing.T) {
	run := readController(t, "standalone-taskrun-list.yaml", options{})
	if run.Engine != "tekton" || run.Name != "hello-run-x9k2m" || run.Namespace != "ci" || run.UID != "5a0c7e1b-3d2f-4b8a-9e6c-7f1d2a3b4c5d" || run.Pipeline != "hello" {
		t.Errorf("engine/name/namespace/uid/pipeline = %q/%q/%q/%q/%q", run.Engine, run.Name, run.Namespace, run.UID, run.Pipeline)
	}
	if run.Result != pipeline.ResultSuccess || run.Phase != "Succeeded" || !run.Finished || run.Duration != 6*time.Second || run.StepsUnavailable {
		t.Errorf("outcome = %s/%s finished %v duration %v unavailable %v (warnings %q)", run.Result, run.Phase, run.Finished, run.Duration, run.StepsUnavailable, run.Warnings)
	}
	if len(run.Warnings) != 0 {
		t.Errorf("warnings %q", run.Warnings)
	}
	want := map[string]struct {
		name     string
		typ      string
		duration time.Duration
	}{
		"hello-run-x9k2m":              {"hello", "TaskRun", 6 * time.Second},
		"hello-run-x9k2m/step-hello":   {"hello/hello", "Step", time.Second},
		"hello-run-x9k2m/step-goodbye": {"hello/goodbye", "Step", time.Second},
	}
	if len(run.Steps) != len(want) {
		t.Fatalf("steps %+v", run.Steps)
	}
	for _, s := range run.Steps {
		w, ok := want[s.ID]
		if !ok || s.Name != w.name || s.Type != w.typ || s.Template != "hello" || s.Duration != w.duration || s.Result != pipeline.ResultSuccess || s.Attempt != -1 {
			t.Errorf("step %+v, want %+v", s, w)
		}
	}

	// Fixture 05 (docs/taskruns.md): no labels, no taskRef, no
	// generateName: the pipeline is the TaskRun's name.
	data, err := os.ReadFile(filepath.Join(tektonDir, "05-docs-taskrun-status-succeeded.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	run = readTekton(t, data, options{})
	if run.Name != "status-taskrun" || run.Pipeline != "status-taskrun" || run.Result != pipeline.ResultSuccess || run.Duration != 6*time.Second {
		t.Errorf("05: %s/%s %s %v", run.Name, run.Pipeline, run.Result, run.Duration)
	}
	if s := stepsOf(run)["status-taskrun/step-hello"]; s.Name != "status-taskrun/hello" || s.Duration != 2*time.Second {
		t.Errorf("05 container = %+v", s)
	}

	// Unfinished, cancelled, generateName only.
	tr := genTaskRun("x", "Unknown", "Running", 1, -1)
	md := tr["metadata"].(obj)
	md["labels"], md["generateName"], md["name"] = obj{}, "nightly-lint-", "nightly-lint-4d7qz"
	run = readTekton(t, list(tr), options{})
	if run.Pipeline != "nightly-lint" || run.Result != pipeline.ResultNone || run.Finished || run.Phase != "Running" {
		t.Errorf("running: %s %s/%s finished %v", run.Pipeline, run.Result, run.Phase, run.Finished)
	}
	tr["status"] = obj{"conditions": cond("False", "TaskRunCancelled"), "startTime": at(1), "completionTime": at(5)}
	run = readTekton(t, list(tr), options{})
	if run.Result != pipeline.ResultCancellation || run.Phase != "TaskRunCancelled" || run.Duration != 4*time.Second {
		t.Errorf("cancelled: %s/%s %v", run.Result, run.Phase, run.Duration)
	}

	// Beside TaskRuns of a PipelineRun that is not given: the one that
	// belongs to no PipelineRun is read, the others ignored with a warning.
	other := genTaskRun("y", "True", "Succeeded", 1, 2)
	run = readTekton(t, list(other, tr), options{})
	if run.Name != "nightly-lint-4d7qz" {
		t.Errorf("with another run's TaskRun: %s", run.Name)
	}
	if _, w, _ := decode(list(other, tr)); len(w) != 1 || !strings.Contains(w[0], "belong to a PipelineRun") {
		t.Errorf("decode warnings %q", w)
	}

	// Still errors: TaskRuns of a PipelineRun without it (fixture 03 and
	// a labelled one), an owned one, several on their own, one unnamed.
	owned := genTaskRun("z", "True", "Succeeded", 1, 2)
	owned["metadata"] = obj{"name": "z", "ownerReferences": []any{obj{"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "name": "p", "uid": "u"}}}
	second := genTaskRun("w", "True", "Succeeded", 1, 2)
	second["metadata"] = obj{"name": "w"}
	unnamed := genTaskRun("v", "True", "Succeeded", 1, 2)
	unnamed["metadata"] = obj{}
	for name, c := range map[string]struct {
		in   []byte
		want string
	}{
		"labelled": {list(other), "no PipelineRun in the input (found 1 TaskRun(s))"},
		"owned":    {list(owned), "no PipelineRun in the input (found 1 TaskRun(s))"},
		"several":  {list(tr, second), "2 TaskRuns that belong to no PipelineRun (nightly-lint-4d7qz, w)"},
		"unnamed":  {list(unnamed), "no PipelineRun in the input (found 1 TaskRun(s))"},
	} {
		if _, _, err := decode(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
}
