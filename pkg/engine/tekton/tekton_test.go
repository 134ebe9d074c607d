package tekton

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/pipeline"

	"sigs.k8s.io/yaml"
)

const tektonDir = "../../../testdata/tekton"

// The raw Tekton objects, read with generic YAML decoding into the test's
// own types, so that expectations do not reuse the code under test.
type rawTektonCond struct {
	Type, Status, Reason string
}

type rawTektonAttempt struct {
	Conditions     []rawTektonCond `json:"conditions"`
	StartTime      *string         `json:"startTime"`
	CompletionTime *string         `json:"completionTime"`
	Steps          []struct {
		Name              string `json:"name"`
		TerminationReason string `json:"terminationReason"`
		Terminated        *struct {
			ExitCode   int     `json:"exitCode"`
			StartedAt  *string `json:"startedAt"`
			FinishedAt *string `json:"finishedAt"`
		} `json:"terminated"`
	} `json:"steps"`
	Results []struct {
		Name  string `json:"name"`
		Value any    `json:"value"`
	} `json:"results"`
	TaskResults []struct {
		Name  string `json:"name"`
		Value any    `json:"value"`
	} `json:"taskResults"`
	RetriesStatus []rawTektonAttempt `json:"retriesStatus"`
}

type rawTektonObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name   string            `json:"name"`
		UID    string            `json:"uid"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Status struct {
		rawTektonAttempt
		ChildReferences []struct {
			Name             string `json:"name"`
			PipelineTaskName string `json:"pipelineTaskName"`
		} `json:"childReferences"`
		SkippedTasks []struct {
			Name string `json:"name"`
		} `json:"skippedTasks"`
		PipelineSpec *struct {
			Finally []struct {
				Name string `json:"name"`
			} `json:"finally"`
		} `json:"pipelineSpec"`
		TaskRuns map[string]struct {
			PipelineTaskName string           `json:"pipelineTaskName"`
			Status           rawTektonAttempt `json:"status"`
		} `json:"taskRuns"`
	} `json:"status"`
	Items []rawTektonObject `json:"items"`
}

// rawTektonInput splits a fixture with a regexp and generic YAML, and
// returns its PipelineRun and TaskRuns (by name, with their pipeline task).
func rawTektonInput(t *testing.T, data []byte) (pr rawTektonObject, trs map[string]rawTektonAttempt, task map[string]string) {
	t.Helper()
	var objs []rawTektonObject
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		var o rawTektonObject
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("generic decode: %v", err)
		}
		if o.Kind == "List" {
			objs = append(objs, o.Items...)
		} else if o.Metadata.Name != "" {
			objs = append(objs, o)
		}
	}
	trs, task = map[string]rawTektonAttempt{}, map[string]string{}
	for _, o := range objs {
		if o.Kind == "TaskRun" {
			trs[o.Metadata.Name] = o.Status.rawTektonAttempt
			task[o.Metadata.Name] = o.Metadata.Labels["tekton.dev/pipelineTask"]
		} else {
			pr = o
		}
	}
	for _, c := range pr.Status.ChildReferences {
		task[c.Name] = c.PipelineTaskName
	}
	for name, e := range pr.Status.TaskRuns {
		if _, ok := trs[name]; !ok {
			trs[name] = e.Status
		}
		task[name] = e.PipelineTaskName
	}
	return pr, trs, task
}

func rawTime(t *testing.T, s *string) time.Time {
	t.Helper()
	return parseTime(t, s)
}

// tektonReasonResult is the expected mapping of a False condition's
// reason, written out independently of TektonResult.
var tektonReasonResult = map[string]pipeline.Result{
	"Failed": pipeline.ResultFailure, "FailureIgnored": pipeline.ResultFailure,
	"PipelineRunTimeout": pipeline.ResultTimeout, "TaskRunTimeout": pipeline.ResultTimeout,
	"Cancelled": pipeline.ResultCancellation, "PipelineRunCancelled": pipeline.ResultCancellation, "TaskRunCancelled": pipeline.ResultCancellation,
	"CancelledRunningFinally": pipeline.ResultCancellation, "StoppedRunningFinally": pipeline.ResultCancellation,
	"CouldntGetTask": pipeline.ResultError, "CouldntGetPipeline": pipeline.ResultError, "CreateRunFailed": pipeline.ResultError,
	"InvalidTaskResultReference": pipeline.ResultError, "TaskRunImagePullFailed": pipeline.ResultError, "PipelineValidationFailed": pipeline.ResultError,
	"TaskRunValidationFailed": pipeline.ResultError, "ExceededResourceQuota": pipeline.ResultError, "PodCreationFailed": pipeline.ResultError,
}

func wantCondResult(c []rawTektonCond) pipeline.Result {
	for _, x := range c {
		if x.Type != "Succeeded" {
			continue
		}
		switch x.Status {
		case "True":
			return pipeline.ResultSuccess
		case "False":
			if r, ok := tektonReasonResult[x.Reason]; ok {
				return r
			}
			return pipeline.ResultError
		}
	}
	return pipeline.ResultNone
}

// stepKey is what a step is compared on.
type stepKey struct {
	Name     string
	Type     string
	Attempt  int
	Result   pipeline.Result
	Finished bool
	Duration time.Duration
}

func keyOf(s pipeline.Step) stepKey {
	return stepKey{s.Name, s.Type, s.Attempt, s.Result, s.Finished, s.Duration}
}

func sortKeys(ks []stepKey) {
	sort.Slice(ks, func(i, j int) bool { return fmt.Sprint(ks[i]) < fmt.Sprint(ks[j]) })
}

func readTekton(t *testing.T, data []byte, opts options) *pipeline.Run {
	t.Helper()
	tr, _, err := decode(data)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return fromObjects(tr, opts)
}

func TestFromTektonFixtures(t *testing.T) {
	tests := []struct {
		file        string
		opts        options
		pipeline    string
		phase       string
		result      pipeline.Result
		duration    time.Duration // with finished
		finished    bool
		unavailable bool // no TaskRun in the input
		retries     int
	}{
		// PipelineRuns alone: pipeline level only.
		{"01-pipelinerun-succeeded-childrefs.yaml", options{}, "test-pipeline", "Succeeded", pipeline.ResultSuccess, time.Minute, true, true, 0},
		{"02-pipelinerun-running-2-childrefs.yaml", options{}, "7103-reproducer", "Running", pipeline.ResultNone, 0, false, true, 0},
		{"02-pipelinerun-running-2-childrefs.yaml", options{Status: "Succeeded"}, "7103-reproducer", "Succeeded", pipeline.ResultSuccess, 0, false, true, 0},
		{"06-docs-pipelinerun-succeeded.yaml", options{}, "pipelinerun-object-param-resultpxp59", "Succeeded", pipeline.ResultSuccess, 4 * time.Second, true, true, 0},
		// 02 with 03's TaskRuns: running, and no pipelineSpec to tell
		// whether more tasks are to come, unless a finally task says so.
		{"generated/02-03-pipelinerun-with-taskruns.yaml", options{}, "7103-reproducer", "Running", pipeline.ResultNone, 0, false, false, 0},
		{"generated/02-03-pipelinerun-with-taskruns.yaml", options{Status: "None"}, "7103-reproducer", "Running", pipeline.ResultNone, 0, false, false, 0},
		{"generated/02-03-pipelinerun-with-taskruns.yaml", options{Status: "Succeeded"}, "7103-reproducer", "Succeeded", pipeline.ResultSuccess, 7 * time.Second, true, false, 0},
		{"generated/02-03-pipelinerun-with-taskruns.yaml", options{SelfTaskRun: "7103-reproducer-run-7jp4w-final"}, "7103-reproducer", "Succeeded", pipeline.ResultSuccess, 7 * time.Second, true, false, 0},
		{"generated/05-taskrun-in-pipelinerun.yaml", options{}, "hello-pipeline", "Succeeded", pipeline.ResultSuccess, 8 * time.Second, true, false, 0},
		// Complete: the PipelineRun's own condition wins over --status.
		{"generated/05-taskrun-in-pipelinerun.yaml", options{Status: "Failed"}, "hello-pipeline", "Succeeded", pipeline.ResultSuccess, 8 * time.Second, true, false, 0},
		// In finally: 10:00:00 to evaluate's end at 10:27:00; a task was skipped.
		{"generated/ml-pipeline-in-finally.yaml", options{SelfTaskRun: "ml-pipeline-run-x7k2p-step-metrics"}, "ml-pipeline", "Completed", pipeline.ResultSuccess, 27 * time.Minute, true, false, 1},
		{"generated/ml-pipeline-in-finally.yaml", options{Status: "Completed", SelfTaskRun: "ml-pipeline-run-x7k2p-step-metrics"}, "ml-pipeline", "Completed", pipeline.ResultSuccess, 27 * time.Minute, true, false, 1},
		// The pipelineSpec says notify is a finally task, so even without
		// --task-run the outcome is known; our TaskRun is then a step.
		{"generated/ml-pipeline-in-finally.yaml", options{}, "ml-pipeline", "Completed", pipeline.ResultSuccess, 27 * time.Minute, true, false, 1},
		{"generated/v1beta1-embedded-failed.yaml", options{}, "ci", "Failed", pipeline.ResultFailure, 280 * time.Second, true, false, 0},
	}
	seen := map[string]bool{}
	outputsChecked := 0
	for _, tc := range tests {
		seen[tc.file] = true
		t.Run(tc.file+fmt.Sprintf("%+v", tc.opts), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(tektonDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !detect(data) {
				t.Error("IsTekton = false")
			}
			run := readTekton(t, data, tc.opts)
			pr, trs, task := rawTektonInput(t, data)
			if run.Engine != "tekton" || run.Name != pr.Metadata.Name || run.UID != pr.Metadata.UID {
				t.Errorf("engine/name/uid = %q/%q/%q", run.Engine, run.Name, run.UID)
			}
			if run.Pipeline != tc.pipeline || run.Phase != tc.phase || run.Result != tc.result {
				t.Errorf("pipeline/phase/result = %q/%q/%q, want %q/%q/%q", run.Pipeline, run.Phase, run.Result, tc.pipeline, tc.phase, tc.result)
			}
			if run.Finished != tc.finished || run.Duration != tc.duration {
				t.Errorf("finished/duration = %v/%v, want %v/%v (warnings %q)", run.Finished, run.Duration, tc.finished, tc.duration, run.Warnings)
			}
			if run.StepsUnavailable != tc.unavailable {
				t.Errorf("steps unavailable = %v, want %v", run.StepsUnavailable, tc.unavailable)
			}
			// A complete PipelineRun: its condition and completionTime.
			if r := wantCondResult(pr.Status.Conditions); r != pipeline.ResultNone {
				if run.Result != r {
					t.Errorf("result %q, the raw condition says %q", run.Result, r)
				}
				if want := rawTime(t, pr.Status.CompletionTime).Sub(rawTime(t, pr.Status.StartTime)); run.Duration != want {
					t.Errorf("duration %v, raw completionTime-startTime %v", run.Duration, want)
				}
			}

			// Every step against the raw TaskRun it came from.
			var want []stepKey
			retries, outputs := 0, 0
			for name, tr := range trs {
				if name == tc.opts.SelfTaskRun {
					continue
				}
				attempts := append(append([]rawTektonAttempt(nil), tr.RetriesStatus...), tr)
				if len(attempts) > 1 {
					retries += len(attempts) - 1
				}
				for i, a := range attempts {
					attempt := -1
					if len(attempts) > 1 {
						attempt = i
					}
					k := stepKey{Name: task[name], Type: "TaskRun", Attempt: attempt, Result: wantCondResult(a.Conditions)}
					if k.Result != pipeline.ResultNone {
						k.Finished, k.Duration = true, rawTime(t, a.CompletionTime).Sub(rawTime(t, a.StartTime))
					}
					want = append(want, k)
					for _, s := range a.Steps {
						k := stepKey{Name: task[name] + "/" + s.Name, Type: "Step", Attempt: attempt}
						switch {
						case s.Terminated == nil:
						case s.TerminationReason == "Skipped":
							k.Result = pipeline.ResultSkip
						default:
							k.Result, k.Finished = pipeline.ResultSuccess, true
							if s.Terminated.ExitCode != 0 {
								k.Result = pipeline.ResultFailure
							}
							k.Duration = rawTime(t, s.Terminated.FinishedAt).Sub(rawTime(t, s.Terminated.StartedAt))
						}
						want = append(want, k)
					}
					// String results are outputs, as they are.
					for _, r := range append(a.Results, a.TaskResults...) {
						if sv, ok := r.Value.(string); ok {
							outputs++
							found := false
							for _, s := range run.Steps {
								if s.Name == task[name] && s.Attempt == attempt && s.Outputs[r.Name] == sv {
									found = true
								}
							}
							if !found {
								t.Errorf("result %s of %s (attempt %d) is not an output", r.Name, name, attempt)
							}
						}
					}
				}
			}
			for _, s := range pr.Status.SkippedTasks {
				want = append(want, stepKey{Name: s.Name, Type: "TaskRun", Attempt: -1, Result: pipeline.ResultSkip})
			}
			var got []stepKey
			ids := map[string]bool{}
			for _, s := range run.Steps {
				got = append(got, keyOf(s))
				if ids[s.ID] {
					t.Errorf("step ID %s twice", s.ID)
				}
				ids[s.ID] = true
				if s.Name == "" || s.Template == "" || s.ID == "" {
					t.Errorf("step without name, template or ID: %+v", s)
				}
			}
			sortKeys(want)
			sortKeys(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("steps:\n got %v\nwant %v", got, want)
			}
			n := 0
			for _, r := range run.Retries {
				n += r.Retries()
			}
			if n != retries || n != tc.retries {
				t.Errorf("retries = %d, raw retriesStatus %d, table %d", n, retries, tc.retries)
			}
			outputsChecked += outputs
		})
	}
	if outputsChecked < 10 {
		t.Errorf("checked %d task results, want >= 10", outputsChecked)
	}
	files, _ := filepath.Glob(filepath.Join(tektonDir, "*.yaml"))
	gen, _ := filepath.Glob(filepath.Join(tektonDir, "generated", "*.yaml"))
	if len(files) != 5 || len(gen) < 4 {
		t.Fatalf("found %d fixtures and %d generated inputs, want 5 and >= 4", len(files), len(gen))
	}
	// 03 and 05 hold no PipelineRun; they are read in generated/ inputs
	// (and 05 on its own in TestTektonStandaloneTaskRun).
	seen["03-taskruns-status-only-for-02.yaml"], seen["05-docs-taskrun-status-succeeded.yaml"] = true, true
	for _, f := range append(files, gen...) {
		rel, _ := filepath.Rel(tektonDir, f)
		if !seen[filepath.ToSlash(rel)] {
			t.Errorf("%s is not in the table", rel)
		}
	}
}

// TestDecodeTektonAlone: fixture 03 holds TaskRuns without their
// PipelineRun, which is an error naming what was found. (05, a TaskRun in
// no PipelineRun, is a run of its own: TestTektonStandaloneTaskRun.)
func TestDecodeTektonAlone(t *testing.T) {
	for file, want := range map[string]string{
		"03-taskruns-status-only-for-02.yaml": "no PipelineRun in the input (found 2 TaskRun(s))",
	} {
		data, err := os.ReadFile(filepath.Join(tektonDir, file))
		if err != nil {
			t.Fatal(err)
		}
		if !detect(data) {
			t.Errorf("%s: detect = false", file)
		}
		if _, _, err := decode(data); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", file, err, want)
		}
	}
}

// The generated objects below are built as maps and written as JSON: every
// reason, retries, skips, self exclusion, the finally timing, v1beta1.

const genStart = "2025-06-01T12:00:00Z"

// at is genStart plus sec seconds, as Tekton writes times.
func at(sec int) string {
	t0, _ := time.Parse(time.RFC3339, genStart)
	return t0.Add(time.Duration(sec) * time.Second).Format(time.RFC3339)
}

type obj = map[string]any

func cond(status, reason string) []any {
	return []any{obj{"type": "Succeeded", "status": status, "reason": reason}}
}

// genTaskRun is a TaskRun of PipelineRun "run" for pipeline task task,
// running from start to end (end < 0: unfinished).
func genTaskRun(task, status, reason string, start, end int) obj {
	st := obj{"conditions": cond(status, reason), "startTime": at(start), "podName": "run-" + task + "-pod"}
	if end >= 0 {
		st["completionTime"] = at(end)
	}
	return obj{
		"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
		"metadata": obj{"name": "run-" + task, "namespace": "ns", "labels": obj{"tekton.dev/pipelineRun": "run", "tekton.dev/pipelineTask": task}},
		"status":   st,
	}
}

// genPipelineRun is PipelineRun "run" with the given tasks and finally
// tasks in its status.pipelineSpec (nil: no pipelineSpec) and condition.
func genPipelineRun(status, reason string, end int, tasks, finally []string, children ...obj) obj {
	st := obj{"conditions": cond(status, reason), "startTime": at(0)}
	if end >= 0 {
		st["completionTime"] = at(end)
	}
	if tasks != nil {
		var ts, fs []any
		for _, n := range tasks {
			ts = append(ts, obj{"name": n, "taskRef": obj{"name": n + "-task"}})
		}
		for _, n := range finally {
			fs = append(fs, obj{"name": n})
		}
		st["pipelineSpec"] = obj{"tasks": ts, "finally": fs}
	}
	var refs []any
	for _, c := range children {
		md := c["metadata"].(obj)
		refs = append(refs, obj{"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": md["name"], "pipelineTaskName": md["labels"].(obj)["tekton.dev/pipelineTask"]})
	}
	if refs != nil {
		st["childReferences"] = refs
	}
	return obj{
		"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
		"metadata": obj{"name": "run", "namespace": "ns", "uid": "uid-1", "generateName": "gen-pipe-"},
		"spec":     obj{"pipelineRef": obj{"name": "pipe"}},
		"status":   st,
	}
}

func list(items ...obj) []byte {
	var is []any
	for _, i := range items {
		is = append(is, i)
	}
	b, err := json.Marshal(obj{"apiVersion": "v1", "kind": "List", "items": is})
	if err != nil {
		panic(err)
	}
	return b
}

func stepsOf(run *pipeline.Run) map[string]pipeline.Step {
	m := map[string]pipeline.Step{}
	for _, s := range run.Steps {
		m[s.ID] = s
	}
	return m
}

func hasWarning(run *pipeline.Run, sub string) bool {
	for _, w := range run.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// TestTektonReasons: a complete PipelineRun, and a TaskRun, with each
// condition reason.
func TestTektonReasons(t *testing.T) {
	cases := []struct {
		status, reason string
		want           pipeline.Result
	}{
		{"True", "Succeeded", pipeline.ResultSuccess},
		{"True", "Completed", pipeline.ResultSuccess},
		{"False", "Failed", pipeline.ResultFailure},
		{"False", "PipelineRunTimeout", pipeline.ResultTimeout},
		{"False", "TaskRunTimeout", pipeline.ResultTimeout},
		{"False", "Cancelled", pipeline.ResultCancellation},
		{"False", "PipelineRunCancelled", pipeline.ResultCancellation},
		{"False", "TaskRunCancelled", pipeline.ResultCancellation},
		{"False", "CancelledRunningFinally", pipeline.ResultCancellation},
		{"False", "StoppedRunningFinally", pipeline.ResultCancellation},
		{"False", "CouldntGetTask", pipeline.ResultError},
		{"False", "CouldntGetPipeline", pipeline.ResultError},
		{"False", "CreateRunFailed", pipeline.ResultError},
		{"False", "InvalidTaskResultReference", pipeline.ResultError},
		{"False", "TaskRunImagePullFailed", pipeline.ResultError},
		{"False", "ExceededResourceQuota", pipeline.ResultError},
		{"False", "SomethingNew", pipeline.ResultError},
		{"Unknown", "Running", pipeline.ResultNone},
		{"Unknown", "ToBeRetried", pipeline.ResultNone},
		{"Unknown", "PipelineRunPending", pipeline.ResultNone},
	}
	for _, c := range cases {
		t.Run(c.status+"/"+c.reason, func(t *testing.T) {
			if got := Result(c.status, c.reason); got != c.want {
				t.Errorf("TektonResult = %q, want %q", got, c.want)
			}
			tr := genTaskRun("a", c.status, c.reason, 10, 70)
			end := 80
			if c.status == "Unknown" {
				end = -1
			}
			run := readTekton(t, list(genPipelineRun(c.status, c.reason, end, []string{"a"}, nil, tr), tr), options{})
			if run.Result != c.want || run.Phase != c.reason {
				t.Errorf("pipeline result/phase = %q/%q, want %q/%q", run.Result, run.Phase, c.want, c.reason)
			}
			if c.want == pipeline.ResultNone {
				if run.Finished || run.Duration != 0 || !run.End.IsZero() {
					t.Errorf("unfinished pipeline has a duration: %v %v", run.Duration, run.End)
				}
			} else if !run.Finished || run.Duration != 80*time.Second {
				t.Errorf("pipeline duration %v (finished %v), want 80s", run.Duration, run.Finished)
			}
			s := stepsOf(run)["run-a"]
			if s.Result != c.want || s.Phase != c.reason || s.Type != "TaskRun" || s.Kind != pipeline.KindWork {
				t.Errorf("step = %+v", s)
			}
			if (c.want != pipeline.ResultNone) != s.Finished || (s.Finished && s.Duration != time.Minute) {
				t.Errorf("step finished/duration = %v/%v", s.Finished, s.Duration)
			}
		})
	}
}

// TestTektonInFinally: the PipelineRun is running (its finally tasks are),
// so outcome and duration come from --status or the non-finally TaskRuns.
func TestTektonInFinally(t *testing.T) {
	self := genTaskRun("metrics", "Unknown", "Running", 200, -1)
	notify := genTaskRun("notify", "True", "Succeeded", 200, 400) // finally, done later
	tasks, finally := []string{"a", "b"}, []string{"metrics", "notify"}
	build := func(b obj, spec bool, extra ...obj) []byte {
		a := genTaskRun("a", "True", "Succeeded", 5, 60)
		children := append([]obj{a, b, self, notify}, extra...)
		ts := tasks
		if !spec {
			ts = nil
		}
		pr := genPipelineRun("Unknown", "Running", -1, ts, finally, children...)
		return list(append([]obj{pr}, children...)...)
	}
	bOK := genTaskRun("b", "True", "Succeeded", 61, 150)
	cases := []struct {
		name     string
		data     []byte
		opts     options
		phase    string
		result   pipeline.Result
		duration time.Duration
		warning  string
	}{
		{"derived success", build(bOK, true), options{SelfTaskRun: "run-metrics"}, "Succeeded", pipeline.ResultSuccess, 150 * time.Second, ""},
		{"derived without self", build(bOK, true), options{}, "Succeeded", pipeline.ResultSuccess, 150 * time.Second, ""},
		{"status Succeeded", build(bOK, true), options{Status: "Succeeded", SelfTaskRun: "run-metrics"}, "Succeeded", pipeline.ResultSuccess, 150 * time.Second, ""},
		{"status None derives", build(bOK, true), options{Status: "None", SelfTaskRun: "run-metrics"}, "Succeeded", pipeline.ResultSuccess, 150 * time.Second, ""},
		{"derived failure", build(genTaskRun("b", "False", "Failed", 61, 90), true), options{SelfTaskRun: "run-metrics"}, "Failed", pipeline.ResultFailure, 90 * time.Second, ""},
		{"derived timeout", build(genTaskRun("b", "False", "TaskRunTimeout", 61, 120), true), options{SelfTaskRun: "run-metrics"}, "TaskRunTimeout", pipeline.ResultTimeout, 120 * time.Second, ""},
		{"derived cancellation", build(genTaskRun("b", "False", "TaskRunCancelled", 61, 70), true), options{SelfTaskRun: "run-metrics"}, "TaskRunCancelled", pipeline.ResultCancellation, 70 * time.Second, ""},
		{"derived error", build(genTaskRun("b", "False", "TaskRunImagePullFailed", 61, 62), true), options{SelfTaskRun: "run-metrics"}, "TaskRunImagePullFailed", pipeline.ResultError, 62 * time.Second, ""},
		{"ignored failure", build(genTaskRun("b", "False", "FailureIgnored", 61, 62), true), options{SelfTaskRun: "run-metrics"}, "Succeeded", pipeline.ResultSuccess, 62 * time.Second, ""},
		{"status Failed refined by reason", build(genTaskRun("b", "False", "TaskRunTimeout", 61, 120), true), options{Status: "Failed", SelfTaskRun: "run-metrics"}, "Failed", pipeline.ResultTimeout, 120 * time.Second, ""},
		{"status Failed", build(genTaskRun("b", "False", "Failed", 61, 120), true), options{Status: "Failed", SelfTaskRun: "run-metrics"}, "Failed", pipeline.ResultFailure, 120 * time.Second, ""},
		{"status Completed", build(bOK, true), options{Status: "Completed"}, "Completed", pipeline.ResultSuccess, 150 * time.Second, ""},
		{"task still running", build(genTaskRun("b", "Unknown", "Running", 61, -1), true), options{SelfTaskRun: "run-metrics"}, "Running", pipeline.ResultNone, 0, "task(s) b not finished"},
		{"task not started", build(bOK, true, genTaskRun("c", "True", "Succeeded", 1, 2)), options{}, "Succeeded", pipeline.ResultSuccess, 150 * time.Second, ""},
		{"no spec, no self", build(bOK, false), options{}, "Running", pipeline.ResultNone, 0, "task(s) metrics not finished"},
		{"no spec, self", build(bOK, false), options{SelfTaskRun: "run-metrics"}, "Succeeded", pipeline.ResultSuccess, 400 * time.Second, ""},
		{"bad status ignored", build(bOK, true), options{Status: "Error", SelfTaskRun: "run-metrics"}, "Succeeded", pipeline.ResultSuccess, 150 * time.Second, `status "Error" is not`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := readTekton(t, c.data, c.opts)
			if run.Phase != c.phase || run.Result != c.result || run.Duration != c.duration || run.Finished != (c.result != pipeline.ResultNone) {
				t.Errorf("phase/result/duration/finished = %q/%q/%v/%v, want %q/%q/%v (warnings %q)", run.Phase, run.Result, run.Duration, run.Finished, c.phase, c.result, c.duration, run.Warnings)
			}
			if c.warning != "" && !hasWarning(run, c.warning) {
				t.Errorf("warnings %q lack %q", run.Warnings, c.warning)
			}
			if !run.Start.Equal(mustTime(genStart)) {
				t.Errorf("start %v", run.Start)
			}
			_, selfStep := stepsOf(run)["run-metrics"]
			if selfStep != (c.opts.SelfTaskRun == "") {
				t.Errorf("our own TaskRun is a step: %v, want %v", selfStep, c.opts.SelfTaskRun == "")
			}
			if _, ok := stepsOf(run)["run-notify"]; !ok {
				t.Error("the other finally task is not a step")
			}
		})
	}

	// A pipeline task in the spec without a TaskRun and not skipped has
	// not started: no outcome.
	pr := genPipelineRun("Unknown", "Running", -1, []string{"a", "late"}, finally, genTaskRun("a", "True", "Succeeded", 5, 60))
	run := readTekton(t, list(pr, genTaskRun("a", "True", "Succeeded", 5, 60)), options{})
	if run.Result != pipeline.ResultNone || !hasWarning(run, "task(s) late not started") {
		t.Errorf("pending task: result %q, warnings %q", run.Result, run.Warnings)
	}
	// A skipped task completes the pipeline as Completed.
	pr["status"].(obj)["skippedTasks"] = []any{obj{"name": "late", "reason": "When Expressions evaluated to false"}}
	run = readTekton(t, list(pr, genTaskRun("a", "True", "Succeeded", 5, 60)), options{})
	if run.Result != pipeline.ResultSuccess || run.Phase != "Completed" || run.Duration != time.Minute {
		t.Errorf("with a skipped task: %q/%q/%v", run.Phase, run.Result, run.Duration)
	}
	s := stepsOf(run)["run/late"]
	if s.Kind != pipeline.KindSkip || s.Result != pipeline.ResultSkip || s.Phase != "When Expressions evaluated to false" || s.Finished || s.Template != "late-task" || s.Attempt != -1 {
		t.Errorf("skipped step = %+v", s)
	}

	// No pipelineSpec, no --task-run: nothing tells that no task is to come.
	a := genTaskRun("a", "True", "Succeeded", 5, 60)
	run = readTekton(t, list(genPipelineRun("Unknown", "Running", -1, nil, nil, a), a), options{})
	if run.Result != pipeline.ResultNone || run.Finished || !hasWarning(run, "no pipelineSpec") {
		t.Errorf("without spec: %q %v %q", run.Result, run.Finished, run.Warnings)
	}

	// Gracefully cancelled or stopped, finally tasks running.
	for _, reason := range []string{"CancelledRunningFinally", "StoppedRunningFinally"} {
		a := genTaskRun("a", "False", "TaskRunCancelled", 5, 30)
		run := readTekton(t, list(genPipelineRun("Unknown", reason, -1, []string{"a"}, nil, a), a), options{})
		if run.Result != pipeline.ResultCancellation || run.Phase != reason || run.Duration != 30*time.Second {
			t.Errorf("%s: %q/%q/%v", reason, run.Phase, run.Result, run.Duration)
		}
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestTektonRetries: each entry of retriesStatus is an earlier attempt.
func TestTektonRetries(t *testing.T) {
	tr := genTaskRun("train", "True", "Succeeded", 100, 200)
	step := func(exit int, reason string, s, e int) obj {
		return obj{"name": "fit", "container": "step-fit", "terminated": obj{"exitCode": exit, "reason": reason, "startedAt": at(s), "finishedAt": at(e)}}
	}
	st := tr["status"].(obj)
	st["steps"] = []any{step(0, "Completed", 101, 199)}
	st["results"] = []any{obj{"name": "step-metrics", "value": "loss 0.1"}}
	st["retriesStatus"] = []any{
		obj{"conditions": cond("False", "Failed"), "startTime": at(1), "completionTime": at(40), "steps": []any{step(137, "OOMKilled", 2, 39)}},
		obj{"conditions": cond("False", "TaskRunTimeout"), "startTime": at(41), "completionTime": at(99), "steps": []any{step(1, "TaskRunTimeout", 42, 99)},
			"results": []any{obj{"name": "step-metrics", "value": "loss 0.5"}}},
	}
	run := readTekton(t, list(genPipelineRun("True", "Succeeded", 201, []string{"train"}, nil, tr), tr), options{})
	if len(run.Retries) != 1 {
		t.Fatalf("retries = %+v", run.Retries)
	}
	if r := run.Retries[0]; r.ID != "run-train" || r.Name != "train" || r.Template != "train-task" || r.Attempts != 3 || r.Retries() != 2 || r.Result != pipeline.ResultSuccess {
		t.Errorf("retry = %+v", r)
	}
	want := []struct {
		id      string
		attempt int
		result  pipeline.Result
		phase   string
		dur     time.Duration
		output  string
	}{
		{"run-train/attempt-0", 0, pipeline.ResultFailure, "Failed", 39 * time.Second, ""},
		{"run-train/attempt-0/step-fit", 0, pipeline.ResultFailure, "OOMKilled", 37 * time.Second, ""},
		{"run-train/attempt-1", 1, pipeline.ResultTimeout, "TaskRunTimeout", 58 * time.Second, "loss 0.5"},
		{"run-train/attempt-1/step-fit", 1, pipeline.ResultTimeout, "TaskRunTimeout", 57 * time.Second, ""},
		{"run-train/attempt-2", 2, pipeline.ResultSuccess, "Succeeded", 100 * time.Second, "loss 0.1"},
		{"run-train/attempt-2/step-fit", 2, pipeline.ResultSuccess, "Completed", 98 * time.Second, ""},
	}
	if len(run.Steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(run.Steps), len(want))
	}
	for i, w := range want {
		s := run.Steps[i] // sorted by start time
		if s.ID != w.id || s.Attempt != w.attempt || s.Result != w.result || s.Phase != w.phase || s.Duration != w.dur || s.RetryID != "run-train" || s.Outputs["step-metrics"] != w.output {
			t.Errorf("step %d = %+v, want %+v", i, s, w)
		}
	}
	if run.Steps[1].Name != "train/fit" || run.Steps[1].Template != "train-task" || run.Steps[1].Type != "Step" {
		t.Errorf("container step = %+v", run.Steps[1])
	}
	// Without retries: Attempt -1 and no Retry.
	one := genTaskRun("a", "True", "Succeeded", 1, 2)
	run = readTekton(t, list(genPipelineRun("True", "Succeeded", 3, []string{"a"}, nil, one), one), options{})
	if len(run.Retries) != 0 || run.Steps[0].Attempt != -1 || run.Steps[0].RetryID != "" || run.Steps[0].ID != "run-a" {
		t.Errorf("unretried: %+v %+v", run.Retries, run.Steps)
	}
}

// TestTektonContainerSteps: every state of a step container.
func TestTektonContainerSteps(t *testing.T) {
	term := func(name, tr string, exit int) obj {
		return obj{"name": name, "terminationReason": tr, "terminated": obj{"exitCode": exit, "startedAt": at(1), "finishedAt": at(3)}}
	}
	steps := []any{
		term("ok", "Completed", 0),
		term("continued", "Continued", 2),
		term("skipped", "Skipped", 1),
		term("timeout", "TimeoutExceeded", 1),
		term("cancelled", "Cancelled", 1),
		obj{"name": "oom", "terminated": obj{"exitCode": 137, "reason": "OOMKilled", "startedAt": at(1), "finishedAt": at(3)}},
		obj{"name": "plain-error", "terminated": obj{"exitCode": 1, "startedAt": at(1), "finishedAt": at(3)}},
		obj{"name": "skew", "terminated": obj{"exitCode": 0, "startedAt": at(5), "finishedAt": at(3)}},
		obj{"name": "run", "running": obj{"startedAt": at(2)}},
		obj{"name": "wait", "waiting": obj{"reason": "PodInitializing"}},
		obj{"container": "step-unnamed"},
	}
	want := map[string]struct {
		kind     pipeline.Kind
		result   pipeline.Result
		phase    string
		finished bool
		dur      time.Duration
	}{
		"a/ok":          {pipeline.KindWork, pipeline.ResultSuccess, "Completed", true, 2 * time.Second},
		"a/continued":   {pipeline.KindWork, pipeline.ResultFailure, "Continued", true, 2 * time.Second},
		"a/skipped":     {pipeline.KindSkip, pipeline.ResultSkip, "Skipped", false, 0},
		"a/timeout":     {pipeline.KindWork, pipeline.ResultTimeout, "TimeoutExceeded", true, 2 * time.Second},
		"a/cancelled":   {pipeline.KindWork, pipeline.ResultCancellation, "Cancelled", true, 2 * time.Second},
		"a/oom":         {pipeline.KindWork, pipeline.ResultFailure, "OOMKilled", true, 2 * time.Second},
		"a/plain-error": {pipeline.KindWork, pipeline.ResultFailure, "Error", true, 2 * time.Second},
		"a/skew":        {pipeline.KindWork, pipeline.ResultSuccess, "Completed", true, 0},
		"a/run":         {pipeline.KindWork, pipeline.ResultNone, "Running", false, 0},
		"a/wait":        {pipeline.KindWork, pipeline.ResultNone, "PodInitializing", false, 0},
		"a/unnamed":     {pipeline.KindWork, pipeline.ResultNone, "Waiting", false, 0},
	}
	tr := genTaskRun("a", "Unknown", "Running", 0, -1)
	tr["status"].(obj)["steps"] = steps
	run := readTekton(t, list(genPipelineRun("Unknown", "Running", -1, []string{"a"}, nil, tr), tr), options{})
	got := map[string]pipeline.Step{}
	for _, s := range run.Steps {
		if s.Type == "Step" {
			got[s.Name] = s
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d container steps, want %d", len(got), len(want))
	}
	for name, w := range want {
		s := got[name]
		if s.Kind != w.kind || s.Result != w.result || s.Phase != w.phase || s.Finished != w.finished || s.Duration != w.dur {
			t.Errorf("%s = %+v, want %+v", name, s, w)
		}
	}
	if got["a/unnamed"].ID != "run-a/step-unnamed" {
		t.Errorf("ID from the container name: %q", got["a/unnamed"].ID)
	}
	if !hasWarning(run, "1 step(s) end before they start") {
		t.Errorf("no clock skew warning: %q", run.Warnings)
	}
	// Once the TaskRun is over, containers that never ran are skips.
	tr = genTaskRun("a", "False", "TaskRunImagePullFailed", 0, 10)
	tr["status"].(obj)["steps"] = []any{obj{"name": "wait", "waiting": obj{"reason": "ImagePullBackOff"}}, obj{"name": "never"}}
	run = readTekton(t, list(genPipelineRun("False", "Failed", 11, []string{"a"}, nil, tr), tr), options{})
	for _, s := range run.Steps {
		if s.Type == "Step" && (s.Kind != pipeline.KindSkip || s.Result != pipeline.ResultSkip) {
			t.Errorf("container of a finished TaskRun that never ran: %+v", s)
		}
	}
	if s := stepsOf(run)["run-a/step-wait"]; s.Phase != "ImagePullBackOff" {
		t.Errorf("phase %q", s.Phase)
	}
	if s := stepsOf(run)["run-a/step-never"]; s.Phase != "NotRun" {
		t.Errorf("phase %q", s.Phase)
	}
}

// TestTektonSelf: our own TaskRun is left out of everything.
func TestTektonSelf(t *testing.T) {
	a := genTaskRun("a", "True", "Succeeded", 1, 50)
	self := genTaskRun("metrics", "Unknown", "Running", 60, -1)
	self["status"].(obj)["retriesStatus"] = []any{obj{"conditions": cond("False", "Failed"), "startTime": at(51), "completionTime": at(59)}}
	data := list(genPipelineRun("Unknown", "Running", -1, []string{"a"}, []string{"metrics"}, a, self), a, self)
	run := readTekton(t, data, options{SelfTaskRun: "run-metrics"})
	for _, s := range run.Steps {
		if strings.HasPrefix(s.ID, "run-metrics") {
			t.Errorf("own TaskRun is a step: %+v", s)
		}
	}
	if len(run.Retries) != 0 || len(run.Steps) != 1 {
		t.Errorf("steps %+v, retries %+v", run.Steps, run.Retries)
	}
	if run.Result != pipeline.ResultSuccess || run.Duration != 50*time.Second {
		t.Errorf("result %q duration %v", run.Result, run.Duration)
	}
	if len(run.Warnings) != 0 {
		t.Errorf("warnings %q", run.Warnings)
	}
	run = readTekton(t, data, options{SelfTaskRun: "run-other"})
	if !hasWarning(run, "run-other (our own, to leave out) is not among") {
		t.Errorf("no warning for an unknown own TaskRun: %q", run.Warnings)
	}
	// Only our own TaskRun given: no step status at all.
	pr := genPipelineRun("Unknown", "Running", -1, []string{"a"}, []string{"metrics"}, a, self)
	run = readTekton(t, list(pr, self), options{SelfTaskRun: "run-metrics", Status: "Succeeded"})
	if !run.StepsUnavailable || run.Result != pipeline.ResultSuccess || run.Finished {
		t.Errorf("unavailable %v result %q finished %v", run.StepsUnavailable, run.Result, run.Finished)
	}
}

// TestTektonV1beta1: the embedded status.taskRuns map, taskResults, and an
// object given besides its embedded status (the object wins, once).
func TestTektonV1beta1(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(tektonDir, "generated", "v1beta1-embedded-failed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tr, warnings, err := decode(data)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("decode: %v %q", err, warnings)
	}
	if len(tr.TaskRuns) != 2 || tr.TaskRuns[0].Name != "ci-run-4tq8z-build" || tr.TaskRuns[1].Name != "ci-run-4tq8z-test" {
		t.Fatalf("embedded TaskRuns = %+v", tr.TaskRuns)
	}
	run := fromObjects(tr, options{})
	if s := stepsOf(run)["ci-run-4tq8z-build"]; s.Outputs["IMAGE_DIGEST"] != "sha256:4f1d" || s.Name != "build" || s.Template != "buildah" {
		t.Errorf("build = %+v", s)
	}
	// The same TaskRun also as an object, with a label naming its Task.
	doc := "\n---\napiVersion: tekton.dev/v1beta1\nkind: TaskRun\nmetadata:\n  name: ci-run-4tq8z-build\n  labels: {tekton.dev/task: buildah-v2}\nstatus:\n  conditions: [{type: Succeeded, status: \"True\", reason: Succeeded}]\n  startTime: \"2022-05-10T08:00:01Z\"\n  completionTime: \"2022-05-10T08:00:11Z\"\n"
	tr, _, err = decode(append(append([]byte(nil), data...), doc...))
	if err != nil {
		t.Fatal(err)
	}
	run = fromObjects(tr, options{})
	n := 0
	for _, s := range run.Steps {
		if s.Name == "build" {
			n++
			if s.Template != "buildah-v2" || s.Duration != 10*time.Second {
				t.Errorf("build from the object = %+v", s)
			}
		}
	}
	if n != 1 {
		t.Errorf("build appears %d times", n)
	}
}

func TestTektonPipelineName(t *testing.T) {
	cases := []struct {
		meta, spec obj
		want       string
	}{
		{obj{"name": "r-x7k2p", "labels": obj{"tekton.dev/pipeline": "etl"}}, obj{"pipelineRef": obj{"name": "other"}}, "etl"},
		// Tekton labels an embedded pipelineSpec's run with its own name.
		{obj{"name": "r-x7k2p", "generateName": "train-", "labels": obj{"tekton.dev/pipeline": "r-x7k2p"}}, obj{"pipelineSpec": obj{}}, "train"},
		{obj{"name": "r-x7k2p"}, obj{"pipelineRef": obj{"name": "ref"}}, "ref"},
		{obj{"name": "r-x7k2p", "generateName": "train."}, obj{}, "train"},
		{obj{"name": "r-x7k2p"}, obj{}, "r-x7k2p"},
	}
	for _, c := range cases {
		b, _ := json.Marshal(obj{"kind": "PipelineRun", "metadata": c.meta, "spec": c.spec})
		if run := readTekton(t, b, options{}); run.Pipeline != c.want {
			t.Errorf("%v %v: pipeline %q, want %q", c.meta, c.spec, run.Pipeline, c.want)
		}
	}
}

func TestTektonClockSkew(t *testing.T) {
	a := genTaskRun("a", "True", "Succeeded", 50, 40) // ends before it starts
	pr := genPipelineRun("True", "Succeeded", -1, []string{"a"}, nil, a)
	pr["status"].(obj)["startTime"], pr["status"].(obj)["completionTime"] = at(100), at(60)
	run := readTekton(t, list(pr, a), options{})
	s := stepsOf(run)["run-a"]
	if !s.Finished || s.Duration != 0 || !run.Finished || run.Duration != 0 {
		t.Errorf("step %v/%v, run %v/%v", s.Finished, s.Duration, run.Finished, run.Duration)
	}
	for _, w := range []string{"pipeline ends", "1 step(s) end before they start"} {
		if !hasWarning(run, w) {
			t.Errorf("warnings %q lack %q", run.Warnings, w)
		}
	}
	// In finally: the last task ends before the run starts.
	pr = genPipelineRun("Unknown", "Running", -1, []string{"a"}, nil, a)
	pr["status"].(obj)["startTime"] = at(100)
	run = readTekton(t, list(pr, a), options{Status: "Succeeded"})
	if !run.Finished || run.Duration != 0 || !hasWarning(run, "clock skew") {
		t.Errorf("in finally: %v %v %q", run.Finished, run.Duration, run.Warnings)
	}
	// A finished TaskRun without startTime: no duration, a warning.
	b := genTaskRun("b", "True", "Succeeded", 1, 2)
	delete(b["status"].(obj), "startTime")
	run = readTekton(t, list(genPipelineRun("True", "Succeeded", 3, []string{"b"}, nil, b), b), options{})
	if s := stepsOf(run)["run-b"]; s.Finished || s.Result != pipeline.ResultSuccess || !hasWarning(run, "lack a start or end time") {
		t.Errorf("no start: %+v %q", s, run.Warnings)
	}
}

// TestDecodeTektonForms: the same run from a multi-document stream, a List
// in YAML and JSON, typed lists, and matched by label alone.
func TestDecodeTektonForms(t *testing.T) {
	a := genTaskRun("a", "True", "Succeeded", 1, 30)
	b := genTaskRun("b", "False", "Failed", 31, 40)
	pr := genPipelineRun("False", "Failed", 41, []string{"a", "b"}, nil, a, b)
	toYAML := func(o any) string {
		y, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		return string(y)
	}
	jsonList := list(pr, a, b)
	forms := map[string][]byte{
		"json list":  jsonList,
		"yaml list":  []byte(toYAML(json.RawMessage(jsonList))),
		"multi-doc":  []byte("# a comment\n---\n" + toYAML(pr) + "---\n" + toYAML(a) + "\n---\n" + toYAML(b) + "...\n"),
		"typed list": []byte(toYAML(obj{"kind": "PipelineRunList", "items": []any{pr}}) + "---\n" + toYAML(obj{"kind": "TaskRunList", "items": []any{a, b}})),
	}
	want := readTekton(t, jsonList, options{})
	if len(want.Steps) != 2 || want.Result != pipeline.ResultFailure {
		t.Fatalf("reference run: %+v", want)
	}
	for name, data := range forms {
		if got := readTekton(t, data, options{}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: run differs:\n got %+v\nwant %+v", name, got, want)
		}
		if !detect(data) {
			t.Errorf("%s: detect = false", name)
		}
	}
	// Matched by the tekton.dev/pipelineRun label alone; other runs'
	// TaskRuns and other kinds are ignored with warnings.
	delete(pr["status"].(obj), "childReferences")
	other := genTaskRun("x", "True", "Succeeded", 1, 2)
	other["metadata"].(obj)["labels"].(obj)["tekton.dev/pipelineRun"] = "another-run"
	unnamed := genTaskRun("y", "True", "Succeeded", 1, 2)
	delete(unnamed["metadata"].(obj), "name")
	cm := obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": "c"}}
	tr, warnings, err := decode(list(pr, a, b, other, unnamed, cm, a))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.TaskRuns) != 2 {
		t.Errorf("matched %d TaskRuns, want 2", len(tr.TaskRuns))
	}
	joined := strings.Join(warnings, "\n")
	for _, w := range []string{"1 TaskRun(s) that belong to another PipelineRun", "1 TaskRun(s) without metadata.name", "1 TaskRun(s) given twice", "1 document(s) of kind ConfigMap"} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings %q lack %q", warnings, w)
		}
	}
	if got := fromObjects(tr, options{}); len(got.Steps) != 2 || got.Steps[0].Name != "a" {
		t.Errorf("steps by label: %+v", got.Steps)
	}
}

// TestDecodeTektonLenient: a field of the wrong type is skipped with a
// warning; the rest is read.
func TestDecodeTektonLenient(t *testing.T) {
	a := genTaskRun("a", "True", "Succeeded", 1, 30)
	a["status"].(obj)["podName"] = obj{"new": "shape"}
	a["status"].(obj)["someNewField"] = []any{1, 2}
	pr := genPipelineRun("True", "Succeeded", 31, []string{"a"}, nil, a)
	tr, warnings, err := decode(list(pr, a))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `ignored field "status.podName"`) {
		t.Errorf("warnings %q", warnings)
	}
	if run := fromObjects(tr, options{}); len(run.Steps) != 1 || run.Steps[0].Duration != 29*time.Second {
		t.Errorf("steps %+v", run.Steps)
	}
}

func TestDecodeTektonBadInput(t *testing.T) {
	pr := "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata: {name: p}\n"
	cases := []struct{ name, in, want string }{
		{"empty", "", "input is empty"},
		{"blank", " \n\t ", "input is empty"},
		{"only comments", "# nothing\n---\n# here\n", "holds no document"},
		{"not yaml", "kind: [unclosed", "not YAML or JSON"},
		{"scalar", "just a string", "expected an object"},
		{"array", "[1, 2]", "expected an object"},
		{"bad json", `{"kind": "PipelineRun",`, "decode tekton"},
		{"pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", `kind is "Pod"`},
		{"argo workflow", "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\n", `kind is "Workflow"`},
		{"no kind", "metadata: {name: x}\n", "no kind, and no field of a PipelineRun or TaskRun"},
		{"wrong group", "apiVersion: example.com/v1\nkind: PipelineRun\nmetadata: {name: p}\n", `apiVersion is "example.com/v1"`},
		{"empty list", "apiVersion: v1\nkind: List\nitems: []\n", "no PipelineRun in the input"},
		{"list of pods", "apiVersion: v1\nkind: List\nitems: [{kind: Pod, metadata: {name: a}}, {kind: Pod}]\n", "found 2 Pod"},
		{"two runs", pr + "---\n" + strings.Replace(pr, "name: p", "name: q", 1), "2 PipelineRuns in the input (p, q)"},
		{"no name", "apiVersion: tekton.dev/v1\nkind: PipelineRun\nstatus: {startTime: '2024-01-01T00:00:00Z'}\n", "metadata.name is missing"},
		{"second doc scalar", pr + "---\nhello\n", "document 2: expected an object"},
		{"list item scalar", "kind: List\nitems: [3]\n", "item 1: expected an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, _, err := decode([]byte(c.in))
			if err == nil {
				t.Fatalf("decode(%q) = %+v, want an error containing %q", c.in, tr, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestIsTekton: Tekton input is told apart from every Argo fixture.
func TestIsTekton(t *testing.T) {
	argo, _ := filepath.Glob(filepath.Join("../../../testdata/argo", "*.yaml"))
	if len(argo) < 15 {
		t.Fatalf("%d Argo fixtures", len(argo))
	}
	for _, f := range argo {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if detect(b) {
			t.Errorf("%s: detect = true", filepath.Base(f))
		}
	}
	for in, want := range map[string]bool{
		"":          false,
		"kind: Pod": false,
		"{":         false,
		"apiVersion: tekton.dev/v1\nkind: Pipeline": true,
		"kind: List\nitems: [{kind: TaskRun}]":      true,
		"kind: List\nitems: [{kind: Workflow}]":     false,
		"status: {childReferences: []}":             true,
		"spec: {taskRef: {name: x}}":                true,
	} {
		if got := detect([]byte(in)); got != want {
			t.Errorf("detect(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestTektonRunFromArguments(t *testing.T) {
	cases := []struct {
		status string
		result pipeline.Result
		phase  string
	}{
		{"Succeeded", pipeline.ResultSuccess, "Succeeded"},
		{"Completed", pipeline.ResultSuccess, "Completed"},
		{"Failed", pipeline.ResultFailure, "Failed"},
		{"None", pipeline.ResultNone, ""},
		{"", pipeline.ResultNone, ""},
	}
	for _, c := range cases {
		run := RunFromArguments("ml-pipeline-run-x7k2p", "ml", "u", c.status)
		if run.Engine != "tekton" || run.Pipeline != "ml-pipeline-run" || run.Result != c.result || run.Phase != c.phase ||
			!run.StepsUnavailable || run.Finished || len(run.Warnings) != 1 || run.UID != "u" || run.Namespace != "ml" {
			t.Errorf("%q: %+v", c.status, run)
		}
	}
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

// TestDecodeTektonBadTimes: a time that is not RFC 3339, or that no
// timestamp can hold (year 9999: UnixNano overflows to a negative end), is
// dropped with a warning; the rest of the object is read (metav1.Time
// failed the whole decode, or gave a negative timestamp).
func TestDecodeTektonBadTimes(t *testing.T) {
	in := `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: p}
status:
  startTime: yesterday
  completionTime: "9999-12-31T23:59:59Z"
  conditions: [{type: Succeeded, status: "True", reason: Succeeded}]
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: p-a, labels: {tekton.dev/pipelineRun: p, tekton.dev/pipelineTask: a}}
status:
  startTime: "2024-01-01T00:00:00Z"
  completionTime: "2024-01-01T00:01:00Z"
  conditions: [{type: Succeeded, status: "True", reason: Succeeded}]
  steps:
  - name: s
    terminated: {exitCode: 0, startedAt: "1000-01-01T00:00:00Z", finishedAt: 17}
`
	objs, warnings, err := decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if objs.PipelineRun.Name != "p" || len(objs.PipelineRun.Status.Conditions) != 1 || len(objs.TaskRuns) != 1 {
		t.Fatalf("the rest was not decoded: %+v", objs)
	}
	if !objs.PipelineRun.Status.CompletionTime.IsZero() || !objs.PipelineRun.Status.StartTime.IsZero() {
		t.Errorf("bad run times kept: %+v", objs.PipelineRun.Status)
	}
	joined := strings.Join(warnings, "\n")
	if !strings.Contains(joined, "ignored 2 time(s)") || len(warnings) != 2 {
		t.Errorf("warnings %q, want one per object (2 times each)", warnings)
	}
	run, _, err := Engine{}.Read([]byte(in), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range append([]time.Time{run.Start, run.End}, stepTimes(run)...) {
		if !ts.IsZero() && ts.UnixNano() < 0 {
			t.Errorf("a time before 1970 survived: %v", ts)
		}
	}
}

func stepTimes(run *pipeline.Run) []time.Time {
	var out []time.Time
	for _, s := range run.Steps {
		out = append(out, s.Start, s.End)
	}
	return out
}
