// Package workflow holds the engine-neutral model of one pipeline run (the
// run, its steps, phases, times and resource usage) and the pure functions
// that build it from an engine's status object.
//
// Reading is split in two: DecodeArgo turns bytes (YAML or JSON, as
// `kubectl get -o yaml` or `argo get -o json` print them) into Argo's own
// v1alpha1.Workflow type, and FromArgo turns that into a Run. Neither does
// I/O; fetching from files, the Kubernetes API or Argo Server lives in
// package source, so this package stays cheap to test and to fuzz.
//
//	wf, warnings, err := workflow.DecodeArgo(data)
//	run := workflow.FromArgo(wf, workflow.ArgoOptions{})
//	for _, s := range run.Steps { fmt.Println(s.Name, s.Result, s.Duration) }
//
// Tekton is read the same way: DecodeTekton reads a PipelineRun and its
// TaskRuns (one object, a multi-document stream or a List), FromTekton
// turns them into the same Run, so both engines give the same metrics.
//
//	tr, warnings, err := workflow.DecodeTekton(data)
//	run := workflow.FromTekton(tr, workflow.TektonOptions{Status: "Succeeded", SelfTaskRun: "run-x-step-metrics"})
//
// Unlike Argo's, Tekton's objects are decoded into small local types
// (PipelineRun, TaskRun and the fields step-metrics reads), not into
// tektoncd/pipeline's: that module pulls ~470 packages (knative, cel-go)
// into a tool that needs a dozen fields, and its types refuse real objects
// in a strict decode (v1 PipelineRuns still carrying v1beta1 fields such as
// spec.serviceAccountName). The local types read tekton.dev/v1 and
// v1beta1 (whose status.taskRuns embeds the TaskRun statuses) alike.
package workflow

import (
	"time"
)

// Result is the engine-neutral outcome of a pipeline run or a step. The
// values follow the OpenTelemetry CI/CD semantic conventions
// (cicd.pipeline.result / cicd.pipeline.task.run.result).
type Result string

// The result values. ResultNone means the run or step has not finished.
const (
	ResultNone         Result = ""
	ResultSuccess      Result = "success"
	ResultFailure      Result = "failure"
	ResultError        Result = "error"
	ResultTimeout      Result = "timeout"
	ResultCancellation Result = "cancellation"
	ResultSkip         Result = "skip"
)

// Results lists every result value a finished run or step can have, in a
// fixed order. Metrics that give one series per result use this order.
var Results = []Result{ResultSuccess, ResultFailure, ResultError, ResultTimeout, ResultCancellation, ResultSkip}

// Kind says what a step spent its time on.
type Kind string

// The step kinds.
const (
	// KindWork is a step that ran something: a pod, a container of a
	// container set, an HTTP request or a plugin call.
	KindWork Kind = "work"
	// KindWait is a step that waited (an Argo suspend node); its time is
	// waiting time, not work.
	KindWait Kind = "wait"
	// KindSkip is a step that was skipped or omitted and never ran.
	KindSkip Kind = "skip"
)

// Run is one pipeline run: an Argo Workflow or a Tekton PipelineRun.
type Run struct {
	// Engine names the engine that ran it: "argo" or "tekton".
	Engine string
	// Namespace, Name and UID identify the run object.
	Namespace, Name, UID string
	// Pipeline is the stable name of the pipeline the run belongs to
	// (its template, cron workflow or generateName stem).
	Pipeline string
	// Phase is the engine's raw phase for the pipeline outcome.
	Phase string
	// Result is the outcome; ResultNone while the run is unfinished.
	Result Result
	// Start and End are zero when unknown.
	Start, End time.Time
	// Duration is End-Start, never negative; valid only if Finished.
	Duration time.Duration
	// Finished says whether Duration and End are known.
	Finished bool
	// Labels and Annotations are copied from the run object.
	Labels, Annotations map[string]string
	// Steps are the units of work, sorted by start time, then name, then ID.
	Steps []Step
	// Retries are the retried steps (Argo Retry nodes, retried Tekton
	// TaskRuns), sorted by ID.
	Retries []Retry
	// StepsUnavailable is set when the run's step status could not be read
	// (for instance offloaded to Argo's database); only pipeline-level
	// facts are then known.
	StepsUnavailable bool
	// Warnings are problems found while reading the status, one line each.
	Warnings []string
}

// Step is one unit of work of a run, or one attempt of a retried one.
type Step struct {
	// ID is the engine's unique ID of the node or task run.
	ID string
	// Name is the step's stable name: its display name, or the display
	// name of its Retry parent for an attempt.
	Name string
	// Template names the template (or task) the step ran.
	Template string
	// Type is the engine's raw node type (Pod, Container, Suspend...), or
	// for Tekton TaskRun or Step (a step container of a TaskRun).
	Type string
	// Kind classifies the step.
	Kind Kind
	// HostNode is the Kubernetes node it ran on, if known.
	HostNode string
	// Phase is the engine's raw phase.
	Phase string
	// Result is ResultNone while the step runs.
	Result Result
	// Start and End are zero when unknown.
	Start, End time.Time
	// Duration is End-Start, never negative; valid only if Finished.
	Duration time.Duration
	// Finished says whether Duration is known.
	Finished bool
	// Attempt is the 0-based attempt number under a Retry parent, or -1.
	Attempt int
	// RetryID is the ID of the Retry parent, if any.
	RetryID string
	// Resources are resource-seconds by resource name (cpu, memory,
	// nvidia.com/gpu...), in the engine's units.
	Resources map[string]float64
	// Outputs are the step's output parameters or results by name.
	Outputs map[string]string
}

// Retry is a step that the engine retried: an Argo Retry node, or a Tekton
// TaskRun with a retriesStatus.
type Retry struct {
	// ID is the Retry node's ID.
	ID string
	// Name and Template as in Step.
	Name, Template string
	// Attempts is how many attempts were started.
	Attempts int
	// Phase and Result are the retried step's overall outcome.
	Phase  string
	Result Result
}

// Retries returns how many times the step was retried: attempts after the first.
func (r Retry) Retries() int {
	if r.Attempts <= 1 {
		return 0
	}
	return r.Attempts - 1
}

// span returns end-start, clamped at zero, and whether the clocks were
// skewed (end before start).
func span(start, end time.Time) (d time.Duration, skewed bool) {
	d = end.Sub(start)
	if d < 0 {
		return 0, true
	}
	return d, false
}
