package argo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/pkg/pipeline"

	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/internal/example"
)

const fixtureDir = "../../../testdata/argo"

// rawNode is the subset of a node read straight from the fixture with
// generic YAML decoding, so expectations do not reuse the code under test.
type rawNode struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName"`
	Type        string   `json:"type"`
	Phase       string   `json:"phase"`
	StartedAt   *string  `json:"startedAt"`
	FinishedAt  *string  `json:"finishedAt"`
	BoundaryID  string   `json:"boundaryID"`
	Children    []string `json:"children"`
	NodeFlag    *struct {
		Hooked bool `json:"hooked"`
	} `json:"nodeFlag"`
	ResourcesDuration map[string]float64 `json:"resourcesDuration"`
}

type rawWorkflow struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Status struct {
		Nodes map[string]rawNode `json:"nodes"`
	} `json:"status"`
}

func loadFixture(t *testing.T, name string) ([]byte, rawWorkflow) {
	t.Helper()
	var data []byte
	if name == "example" {
		data = example.Workflow
	} else {
		var err error
		data, err = os.ReadFile(filepath.Join(fixtureDir, name))
		if err != nil {
			t.Fatal(err)
		}
	}
	var raw rawWorkflow
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatalf("generic decode of %s: %v", name, err)
	}
	return data, raw
}

func readRun(t *testing.T, data []byte, opts Options) *pipeline.Run {
	t.Helper()
	wf, _, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return FromWorkflow(wf, opts)
}

func parseTime(t *testing.T, s *string) time.Time {
	t.Helper()
	if s == nil || *s == "" {
		return time.Time{}
	}
	tm, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		t.Fatalf("fixture time %q: %v", *s, err)
	}
	return tm
}

// phaseResult is the expected mapping, written out independently.
var phaseResult = map[string]pipeline.Result{
	"Succeeded": pipeline.ResultSuccess, "Failed": pipeline.ResultFailure, "Error": pipeline.ResultError,
	"Skipped": pipeline.ResultSkip, "Omitted": pipeline.ResultSkip, "Running": pipeline.ResultNone, "Pending": pipeline.ResultNone, "": pipeline.ResultNone,
}

var workTypes = map[string]pipeline.Kind{"Pod": pipeline.KindWork, "Container": pipeline.KindWork, "HTTP": pipeline.KindWork, "Plugin": pipeline.KindWork, "Suspend": pipeline.KindWait, "Skipped": pipeline.KindSkip}

// hookedIDs finds exit handler subtrees in the raw fixture.
func hookedIDs(raw rawWorkflow) map[string]bool {
	h := map[string]bool{}
	var mark func(id string)
	mark = func(id string) {
		if h[id] {
			return
		}
		h[id] = true
		for _, c := range raw.Status.Nodes[id].Children {
			mark(c)
		}
	}
	for id, n := range raw.Status.Nodes {
		if (n.NodeFlag != nil && n.NodeFlag.Hooked) || strings.HasSuffix(n.Name, ".onExit") {
			mark(id)
		}
	}
	for changed := true; changed; {
		changed = false
		for id, n := range raw.Status.Nodes {
			if !h[id] && h[n.BoundaryID] {
				mark(id)
				changed = true
			}
		}
	}
	return h
}

func TestFromArgoFixtures(t *testing.T) {
	tests := []struct {
		file         string
		pipeline     string
		phase        string
		result       pipeline.Result
		duration     time.Duration // 0 with finished=false means unknown
		finished     bool
		steps        int
		retries      int // sum of attempts after the first
		hookedSteps  int // work nodes excluded as exit handlers
		skewWarnings bool
	}{
		{"01-dag-disable-fail-fast.yaml", "dag-disable-fail-fast", "Failed", pipeline.ResultFailure, 48 * time.Second, true, 6, 1, 0, false},
		{"02-dag-exhausted-retries-xfail.yaml", "retry-with-dags", "Running", pipeline.ResultNone, 0, false, 4, 1, 0, false},
		{"03-steps-failed-retries.yaml", "failed-retries", "Running", pipeline.ResultNone, 0, false, 4, 2, 0, true},
		{"04-dag-xfail.yaml", "dag-fail", "Running", pipeline.ResultNone, 0, false, 3, 0, 0, false},
		{"05-dag-retry-succeeded.yaml", "dag-with-retries", "", pipeline.ResultNone, 0, false, 3, 2, 0, false},
		{"07-steps-withitems-fanout-succeeded.yaml", "many-items", "Succeeded", pipeline.ResultSuccess, 40 * time.Second, true, 13, 0, 0, false},
		{"08-nested-dag-succeeded.yaml", "dag-nested", "Succeeded", pipeline.ResultSuccess, 58 * time.Second, true, 16, 0, 0, false},
		{"10-subdag-iterate-taskgroup-succeeded.yaml", "subdag-iterate", "Succeeded", pipeline.ResultSuccess, 75 * time.Second, true, 6, 0, 0, false},
		// The workflow took 41s including its exit handler; the pipeline 30s.
		{"11-onexit-succeeded-work-avoidance.yaml", "work-avoidance", "Succeeded", pipeline.ResultSuccess, 30 * time.Second, true, 4, 0, 1, false},
		// The main step succeeded and the exit handler failed: the workflow
		// is Failed, the pipeline's own outcome is success.
		{"13-onexit-handler-failed.yaml", "retry-workflow-with-failed-exit-handler", "Succeeded", pipeline.ResultSuccess, 4 * time.Second, true, 1, 0, 1, false},
		{"15-steps-retry-expression-error.yaml", "retry-script-9z9pv", "Running", pipeline.ResultNone, 0, false, 3, 1, 0, false},
		{"16-dag-retry-failed.yaml", "workflow-retry", "Failed", pipeline.ResultFailure, 152 * time.Second, true, 2, 0, 0, false},
		{"17-steps-failed.yaml", "steps", "Failed", pipeline.ResultFailure, 98 * time.Second, true, 2, 0, 0, false},
		{"18-dag-skipped-node-running.yaml", "dag-primay-branch-sd6rg", "Running", pipeline.ResultNone, 0, false, 3, 0, 0, false},
		{"19-dag-containerset-running.yaml", "dag-containerset-qlmzl", "Running", pipeline.ResultNone, 0, false, 4, 0, 0, false},
		{"example", "train-pipeline", "Succeeded", pipeline.ResultSuccess, 1300 * time.Second, true, 9, 1, 1, false},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			data, raw := loadFixture(t, tc.file)
			run := readRun(t, data, Options{})
			if run.Engine != "argo" || run.Name != raw.Metadata.Name {
				t.Errorf("engine/name = %q/%q", run.Engine, run.Name)
			}
			if run.Pipeline != tc.pipeline {
				t.Errorf("pipeline = %q, want %q", run.Pipeline, tc.pipeline)
			}
			if run.Phase != tc.phase || run.Result != tc.result {
				t.Errorf("phase/result = %q/%q, want %q/%q", run.Phase, run.Result, tc.phase, tc.result)
			}
			if run.Finished != tc.finished || run.Duration != tc.duration {
				t.Errorf("finished/duration = %v/%v, want %v/%v", run.Finished, run.Duration, tc.finished, tc.duration)
			}
			if len(run.Steps) != tc.steps {
				t.Errorf("%d steps, want %d", len(run.Steps), tc.steps)
			}
			retries := 0
			for _, r := range run.Retries {
				retries += r.Retries()
			}
			if retries != tc.retries {
				t.Errorf("retries = %d, want %d", retries, tc.retries)
			}
			hasSkew := false
			for _, w := range run.Warnings {
				if strings.Contains(w, "clock skew") {
					hasSkew = true
				}
			}
			if hasSkew != tc.skewWarnings {
				t.Errorf("clock skew warning = %v, want %v (warnings %q)", hasSkew, tc.skewWarnings, run.Warnings)
			}

			// Every step against the raw node it came from.
			hooked := hookedIDs(raw)
			byID := map[string]pipeline.Step{}
			for _, s := range run.Steps {
				if _, dup := byID[s.ID]; dup {
					t.Errorf("step %s appears twice", s.ID)
				}
				byID[s.ID] = s
			}
			wantSteps, excluded := 0, 0
			for id, n := range raw.Status.Nodes {
				kind, isStep := workTypes[n.Type]
				if !isStep {
					if _, ok := byID[id]; ok {
						t.Errorf("node %s of type %s became a step", n.Name, n.Type)
					}
					continue
				}
				if hooked[id] {
					excluded++
					if _, ok := byID[id]; ok {
						t.Errorf("exit handler node %s became a step", n.Name)
					}
					continue
				}
				wantSteps++
				s, ok := byID[id]
				if !ok {
					t.Errorf("node %s (%s) is not a step", n.Name, n.Type)
					continue
				}
				wantResult := phaseResult[n.Phase]
				if s.Result != wantResult || s.Phase != n.Phase {
					t.Errorf("%s: result %q phase %q, want %q %q", n.Name, s.Result, s.Phase, wantResult, n.Phase)
				}
				if wantResult == pipeline.ResultSkip {
					kind = pipeline.KindSkip
				}
				if s.Kind != kind {
					t.Errorf("%s: kind %q, want %q", n.Name, s.Kind, kind)
				}
				start, end := parseTime(t, n.StartedAt), parseTime(t, n.FinishedAt)
				wantFinished := wantResult != pipeline.ResultNone && wantResult != pipeline.ResultSkip && !start.IsZero() && !end.IsZero()
				if s.Finished != wantFinished {
					t.Errorf("%s: finished = %v, want %v", n.Name, s.Finished, wantFinished)
				}
				if wantFinished {
					want := end.Sub(start)
					if want < 0 {
						want = 0 // clock skew
					}
					if s.Duration != want {
						t.Errorf("%s: duration %v, want finishedAt-startedAt = %v", n.Name, s.Duration, want)
					}
				} else if s.Duration != 0 {
					t.Errorf("%s: unfinished step has duration %v", n.Name, s.Duration)
				}
				for r, v := range n.ResourcesDuration {
					if s.Resources[r] != v {
						t.Errorf("%s: resource %s = %v, want %v", n.Name, r, s.Resources[r], v)
					}
				}
			}
			if wantSteps != len(run.Steps) {
				t.Errorf("%d steps, the raw fixture has %d work nodes outside exit handlers", len(run.Steps), wantSteps)
			}
			if excluded != tc.hookedSteps {
				t.Errorf("%d exit handler work nodes excluded, want %d", excluded, tc.hookedSteps)
			}
		})
	}
	// Every fixture is covered by the table.
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.yaml"))
	if len(files) < 15 {
		t.Fatalf("found %d fixtures, want at least 15", len(files))
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("fixture %s is not in the table", filepath.Base(f))
		}
	}
}

func TestFromArgoRetryAttempts(t *testing.T) {
	run := readRun(t, example.Workflow, Options{})
	var attempts []pipeline.Step
	for _, s := range run.Steps {
		if s.Name == "train(1:lr-0.001)" {
			attempts = append(attempts, s)
		}
	}
	if len(attempts) != 2 {
		t.Fatalf("got %d attempts of train(1:lr-0.001), want 2", len(attempts))
	}
	if attempts[0].Attempt != 0 || attempts[0].Result != pipeline.ResultFailure || attempts[1].Attempt != 1 || attempts[1].Result != pipeline.ResultSuccess {
		t.Errorf("attempts = %+v", attempts)
	}
	if attempts[0].RetryID != "train-x7k2p-2748263958" || attempts[0].Template != "train" {
		t.Errorf("retry id/template = %q/%q", attempts[0].RetryID, attempts[0].Template)
	}
	for _, s := range run.Steps {
		if s.Name == "register-model" && s.Template != "model-registry/register" {
			t.Errorf("templateRef step template = %q", s.Template)
		}
		if s.Name == "approve" && (s.Kind != pipeline.KindWait || s.Duration != 158*time.Second) {
			t.Errorf("suspend step = %+v", s)
		}
	}
}

func TestFromArgoStatusOverride(t *testing.T) {
	data, _ := loadFixture(t, "13-onexit-handler-failed.yaml")
	run := readRun(t, data, Options{Status: "Failed"})
	if run.Phase != "Failed" || run.Result != pipeline.ResultFailure {
		t.Errorf("phase/result = %q/%q, want Failed/failure", run.Phase, run.Result)
	}
	if !run.Finished || run.Duration != 4*time.Second {
		t.Errorf("duration = %v", run.Duration)
	}
}

func TestArgoResult(t *testing.T) {
	tests := []struct {
		phase, message string
		want           pipeline.Result
	}{
		{"Succeeded", "", pipeline.ResultSuccess},
		{"Failed", "Error (exit code 1)", pipeline.ResultFailure},
		{"Error", "failed to create pod", pipeline.ResultError},
		{"Failed", "Step exceeded its deadline", pipeline.ResultTimeout},
		{"Failed", "Max duration limit exceeded", pipeline.ResultTimeout},
		{"Failed", "Pod was active on the node longer than the specified deadline", pipeline.ResultTimeout},
		{"Failed", "Stopped with strategy 'Terminate'", pipeline.ResultCancellation},
		{"Error", "Stopped with strategy 'Stop'", pipeline.ResultCancellation},
		{"Skipped", "when 'false' evaluated false", pipeline.ResultSkip},
		{"Omitted", "", pipeline.ResultSkip},
		{"Running", "", pipeline.ResultNone},
		{"Pending", "", pipeline.ResultNone},
		{"", "", pipeline.ResultNone},
		{"SomethingNew", "", pipeline.ResultNone},
	}
	for _, tc := range tests {
		if got := Result(tc.phase, tc.message); got != tc.want {
			t.Errorf("Result(%q, %q) = %q, want %q", tc.phase, tc.message, got, tc.want)
		}
	}
}

func TestFromArgoPipelineName(t *testing.T) {
	base := "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: nightly-1700000000\n%s\nstatus:\n  phase: Running\n  startedAt: \"2024-01-01T00:00:00Z\"\n"
	tests := []struct{ meta, want string }{
		{"  labels:\n    workflows.argoproj.io/cron-workflow: nightly", "nightly"},
		{"  labels:\n    workflows.argoproj.io/workflow-template: etl\n    workflows.argoproj.io/cron-workflow: nightly", "etl"},
		{"  labels:\n    workflows.argoproj.io/cluster-workflow-template: shared", "shared"},
		{"  generateName: train-", "train"},
		{"  generateName: train.", "train"},
		{"  annotations: {}", "nightly-1700000000"},
	}
	for _, tc := range tests {
		run := readRun(t, []byte(strings.Replace(base, "%s", tc.meta, 1)), Options{})
		if run.Pipeline != tc.want {
			t.Errorf("%q: pipeline = %q, want %q", tc.meta, run.Pipeline, tc.want)
		}
	}
}

func TestFromArgoNeverNegative(t *testing.T) {
	// Root finishes before the workflow starts; a step ends before it starts.
	data := []byte(`apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: skew, uid: u1}
status:
  phase: Running
  startedAt: "2024-01-01T00:10:00Z"
  nodes:
    skew: {id: skew, name: skew, type: Steps, phase: Succeeded, startedAt: "2024-01-01T00:10:00Z", finishedAt: "2024-01-01T00:05:00Z", children: [a]}
    a: {id: a, name: skew.a, displayName: a, type: Pod, phase: Succeeded, startedAt: "2024-01-01T00:09:00Z", finishedAt: "2024-01-01T00:08:00Z"}
    b: {id: b, name: skew.b, displayName: b, type: Pod, phase: Running, startedAt: "2024-01-01T00:09:00Z"}
    c: {id: c, name: skew.c, displayName: c, type: Pod, phase: Failed, finishedAt: "2024-01-01T00:09:00Z"}
`)
	run := readRun(t, data, Options{})
	if run.Duration != 0 || !run.Finished || run.Result != pipeline.ResultSuccess {
		t.Errorf("run = finished %v duration %v result %q", run.Finished, run.Duration, run.Result)
	}
	got := map[string]pipeline.Step{}
	for _, s := range run.Steps {
		got[s.Name] = s
	}
	if s := got["a"]; !s.Finished || s.Duration != 0 {
		t.Errorf("skewed step = %+v", s)
	}
	if s := got["b"]; s.Finished || s.Duration != 0 || s.Result != pipeline.ResultNone {
		t.Errorf("running step = %+v", s)
	}
	if s := got["c"]; s.Finished || s.Result != pipeline.ResultFailure {
		t.Errorf("step without startedAt = %+v", s)
	}
	joined := strings.Join(run.Warnings, "\n")
	for _, want := range []string{"pipeline ends", "1 step(s) end before they start", "lack startedAt"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings %q lack %q", run.Warnings, want)
		}
	}
}

func TestArgoRunFromArguments(t *testing.T) {
	cases := []struct{ name, pipeline string }{
		{"ml-training-x7k2p", "ml-training"},
		{"nightly-retrain-1764205200", "nightly-retrain"},
		{"my-run", "my-run"},
		{"train-abcde", "train-abcde"}, // a and e are not in Kubernetes' generateName alphabet
		{"x7k2p", "x7k2p"},
	}
	for _, c := range cases {
		run := RunFromArguments(c.name, "ml", "u", "Failed")
		if run.Pipeline != c.pipeline {
			t.Errorf("%s: pipeline %q, want %q", c.name, run.Pipeline, c.pipeline)
		}
		if run.Result != pipeline.ResultFailure || !run.StepsUnavailable || run.Finished || len(run.Warnings) != 1 {
			t.Errorf("%s: %+v", c.name, run)
		}
	}
	if r := RunFromArguments("w", "ml", "", ""); r.Result != pipeline.ResultNone {
		t.Errorf("no status: result %q", r.Result)
	}
}
