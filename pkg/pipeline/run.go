// Package pipeline is the engine-neutral model of one pipeline run: the
// run, its steps (each attempt of a retried step is one), the retried steps,
// their outcomes, times and resource usage. It is what every engine adapter
// (package engine/argo, engine/tekton) produces and what package metrics
// turns into metric families, and it imports the standard library only, so
// any package can use it without pulling an engine's types.
//
// The names follow the metrics: a Run gives the pipeline_run_* series, a
// Step the pipeline_step_* series, and the steps that share a Stage (the
// items of a fan-out, all their attempts) the pipeline_stage_* series.
//
//	run, warnings, err := argo.Engine{}.Read(data, engine.Options{})
//	for _, s := range run.Steps {
//		fmt.Println(s.Name, s.Result, s.Duration)
//	}
package pipeline

import (
	"fmt"
	"math"
	"sort"
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
	// KindOverhead is an orchestration pod, such as a Kubeflow Pipelines
	// driver: it ran, but to prepare the pipeline's work, not to do it.
	// Its time is overhead, not a stage item's: stage figures leave it out
	// but for pipeline_stage_overhead_seconds (its Stage is the stage it
	// prepares; empty for run-level overhead, such as KFP's root DAG
	// driver).
	KindOverhead Kind = "overhead"
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
	// Stage is the stage the step belongs to: the task or step name
	// without a fan-out item suffix, so the items of one withItems,
	// withParam or matrix fan-out share it. Empty means Name (see
	// StageName).
	Stage string
	// Item is the step's index in its stage's fan-out ("0", "1", ...), or
	// empty when it is not a fan-out item. It is the index, never the
	// item's value, which can be long or secret.
	Item string
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
	// PodRestarts counts the times the engine re-created the step's pod
	// because it failed before its main container started (Argo v4's
	// failedPodRestarts): infrastructure failures, not retries, since the
	// step's code never ran in those pods.
	PodRestarts int
	// Parent is the ID of the step this one is a part of (a container of a
	// Tekton TaskRun or of an Argo container set, besides its pod), or
	// empty. A part is a step of its own, but stage figures count its
	// parent only, so no time is counted twice.
	Parent string
	// RetryID is the ID of the Retry parent, if any.
	RetryID string
	// Resources are resource-seconds by resource name (cpu, memory,
	// nvidia.com/gpu...), in the engine's units.
	Resources map[string]float64
	// Outputs are the step's output parameters or results by name.
	Outputs map[string]string
}

// StageName is s.Stage, or s.Name when the adapter set no stage. An
// overhead step without a Stage belongs to no stage: its StageName is empty.
func (s *Step) StageName() string {
	if s.Stage != "" || s.Kind == KindOverhead {
		return s.Stage
	}
	return s.Name
}

// Retry is a step that the engine retried: an Argo Retry node, or a Tekton
// TaskRun with a retriesStatus.
type Retry struct {
	// ID is the Retry node's ID.
	ID string
	// Name, Stage and Template as in Step.
	Name, Stage, Template string
	// Attempts is how many attempts were started.
	Attempts int
	// Phase and Result are the retried step's overall outcome.
	Phase  string
	Result Result
}

// StageName is r.Stage, or r.Name when the adapter set no stage.
func (r *Retry) StageName() string {
	if r.Stage != "" {
		return r.Stage
	}
	return r.Name
}

// Retries returns how many times the step was retried: attempts after the first.
func (r Retry) Retries() int {
	if r.Attempts <= 1 {
		return 0
	}
	return r.Attempts - 1
}

// Warnf adds a warning, one line, to the run.
func (r *Run) Warnf(format string, args ...any) {
	r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
}

// InheritParentStages gives every part (a step with a Parent) its parent's
// stage and item, so a container's series sit with its pod's or TaskRun's
// stage.
func (r *Run) InheritParentStages() {
	idx := make(map[string]int, len(r.Steps))
	for i := range r.Steps {
		idx[r.Steps[i].ID] = i
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		if s.Parent == "" {
			continue
		}
		if p, ok := idx[s.Parent]; ok {
			s.Stage, s.Item = r.Steps[p].StageName(), r.Steps[p].Item
		}
	}
}

// Span returns end-start, clamped at zero, and whether the clocks were
// skewed (end before start): durations are never negative.
func Span(start, end time.Time) (d time.Duration, skewed bool) {
	d = end.Sub(start)
	if d < 0 {
		return 0, true
	}
	return d, false
}

// SortSteps orders steps by start time (unknown last), then name, then ID.
func SortSteps(steps []Step) {
	sort.SliceStable(steps, func(i, j int) bool {
		a, b := &steps[i], &steps[j]
		if !a.Start.Equal(b.Start) {
			if a.Start.IsZero() || b.Start.IsZero() {
				return b.Start.IsZero() && !a.Start.IsZero()
			}
			return a.Start.Before(b.Start)
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
}

// The times a Unix timestamp in nanoseconds can hold (time.Time.UnixNano
// overflows outside them): from 1677-09-21 to 2262-04-11.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// ValidTime reports whether t is a time a timestamp can hold (between the
// years 1678 and 2262). Engine adapters drop, with a warning, the times
// outside it, so that no timestamp or duration computed from them
// overflows.
func ValidTime(t time.Time) bool {
	return !t.Before(minTime) && !t.After(maxTime)
}
