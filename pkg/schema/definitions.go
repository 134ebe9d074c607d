// Package schema is the one definition of what step-metrics writes: every
// metric family's name, type, labels and HELP text, the label names, the
// labels reserved for step-metrics, the grouping key of a run's group and
// of a step's group, and the rules that make any string a valid label name
// or value. It imports the standard library only, so every package (the
// metric builder, the sinks, prune, the Go API for steps, the dashboards
// and alert generators) uses it instead of spelling a name itself, and the
// README's metric table is checked against Definitions.
//
//	for _, d := range schema.Definitions {
//		fmt.Println(d.Name, d.Type, d.Labels)
//	}
//	key := schema.RunKey("step-metrics", "ml", uid) // job, namespace, workflow_id
package schema

import "fmt"

// Prefix starts every metric name step-metrics writes.
const Prefix = "pipeline_"

// Label names step-metrics sets.
const (
	// Grouping labels: the key of a Pushgateway group (and, in remote
	// write, ordinary labels on every series).
	LabelJob        = "job"
	LabelNamespace  = "namespace"
	LabelWorkflowID = "workflow_id"
	// LabelStep names a step: on step series, and in a step's own group.
	LabelStep = "step"
	// LabelStage names a stage: a step's name without its fan-out item
	// suffix (the items of a withItems/withParam/matrix share it).
	LabelStage = "stage"
	// LabelItem is a fan-out item's index in its stage.
	LabelItem = "item"

	// Run labels, on every series of a run.
	LabelEngine   = "engine"
	LabelPipeline = "pipeline"
	LabelWorkflow = "workflow"

	// Step labels.
	LabelTemplate = "template"
	LabelNodeID   = "node_id"
	LabelNode     = "node"
	LabelAttempt  = "attempt"
	LabelPod      = "pod"

	// Value labels.
	LabelResult   = "result"
	LabelPhase    = "phase"
	LabelResource = "resource"
	// LabelReason says why a run's metrics are incomplete
	// (pipeline_run_metrics_incomplete): one of IncompleteReasons.
	LabelReason = "reason"
	// LabelKept says what a run's step series were cut down to under the
	// series budget (pipeline_run_series_limited): one of KeptLevels.
	LabelKept = "kept"

	// LabelInstance is not set by step-metrics but by Prometheus (the
	// scraped target) or a Pushgateway group's pusher; reserved, and
	// dropped by the dashboards' queries.
	LabelInstance = "instance"
)

// DefaultJob is the job label of every group step-metrics pushes, a run's
// and a step's alike.
const DefaultJob = "step-metrics"

// The Pushgateway's own metrics about each group, which prune and the
// dashboards read.
const (
	PushTimeMetric        = "push_time_seconds"
	PushFailureTimeMetric = "push_failure_time_seconds"
)

// Custom metrics: what steps publish about themselves.
const (
	// CustomPrefix starts the name of every custom metric (pipeline_custom_<name>).
	CustomPrefix = Prefix + "custom_"
	// CustomHelp is the HELP of a custom metric whose step gave none. The
	// exit handler and a step's direct push use the same text, so the
	// Pushgateway sees one HELP per name.
	CustomHelp = "Custom metric published by a pipeline step (step-metrics output convention)."
	// OutputName is the name of the output parameter (Argo) or result
	// (Tekton) that carries a step's custom metrics; outputs named
	// OutputName + "-<anything>" carry them too.
	OutputName = "step-metrics"
)

// StepMode says how steps become series.
type StepMode string

// The step modes.
const (
	// StepsPerNode gives every step (node, attempt) its own series.
	StepsPerNode StepMode = "node"
	// StepsPerTemplate aggregates steps per template (count, sum, max), for
	// fan-outs of thousands of pods.
	StepsPerTemplate StepMode = "template"
	// StepsNone pushes pipeline-level metrics only.
	StepsNone StepMode = "none"
)

// ParseStepMode parses a --steps value.
func ParseStepMode(s string) (StepMode, error) {
	switch m := StepMode(s); m {
	case StepsPerNode, StepsPerTemplate, StepsNone:
		return m, nil
	}
	return "", fmt.Errorf("steps mode %q: want node, template or none", s)
}

// Why a run's metrics are incomplete: the reason label of
// pipeline_run_metrics_incomplete. A small fixed set, so that alerts and
// dashboards can name each one and the series never takes free text.
const (
	// The run's status could not be read, so only its outcome from the
	// exit handler's arguments is pushed: the API refused (403: the
	// ServiceAccount lacks the Role), did not accept the credentials or
	// there were none (401), has no such object (404), did not answer in
	// time, could not be reached, or sent an answer too large to read or
	// one that could not be decoded.
	IncompleteForbidden    = "forbidden"
	IncompleteUnauthorized = "unauthorized"
	IncompleteNotFound     = "not_found"
	IncompleteTimeout      = "timeout"
	IncompleteUnreachable  = "unreachable"
	IncompleteTooLarge     = "too_large"
	IncompleteUnreadable   = "unreadable"
	// The status was read but without its steps: Argo offloaded the node
	// status to its database (read it through Argo Server), or the
	// engine's step objects (Tekton's TaskRuns) were missing.
	IncompleteOffloaded    = "offloaded"
	IncompleteStepsMissing = "steps_missing"
)

// IncompleteReasons lists every reason value, in a fixed order.
var IncompleteReasons = []string{
	IncompleteForbidden, IncompleteUnauthorized, IncompleteNotFound, IncompleteTimeout, IncompleteUnreachable,
	IncompleteTooLarge, IncompleteUnreadable, IncompleteOffloaded, IncompleteStepsMissing,
}

// What a run's step series were cut down to when they were over the
// series budget: the kept label of pipeline_run_series_limited.
const (
	// KeptTemplate: per-template aggregates instead of per-step series.
	KeptTemplate = "template"
	// KeptStage: no step series; the stage and run series.
	KeptStage = "stage"
	// KeptRun: the run-level series only.
	KeptRun = "run"
)

// KeptLevels lists every kept value, from the most detailed.
var KeptLevels = []string{KeptTemplate, KeptStage, KeptRun}

// Metric types of Definition.Type, as the text format names them.
const (
	Gauge   = "gauge"
	Summary = "summary"
)

// Definition describes one metric family step-metrics pushes. The README's
// metric table is checked against Definitions.
type Definition struct {
	// Name is the family's name.
	Name string
	// Type is Gauge or Summary.
	Type string
	// Labels are the labels on the samples besides the run labels
	// (engine, pipeline, workflow and user labels) and the grouping labels.
	Labels []string
	// Mode is the step mode that emits it: "" for every mode.
	Mode StepMode
	// Help is the family's HELP text.
	Help string
}

// The metric families. Run-level families are pushed in every step mode.
var (
	RunResult          = Definition{"pipeline_run_result", Gauge, []string{"result", "phase"}, "", "Outcome of the pipeline run: 1 for its result (success, failure, error, timeout, cancellation, skip), 0 for the others; phase is the engine's raw phase."}
	RunDuration        = Definition{"pipeline_run_duration_seconds", Gauge, nil, "", "Wall time of the pipeline run from its start to the end of its last step, excluding exit handlers."}
	RunStartTimestamp  = Definition{"pipeline_run_start_timestamp_seconds", Gauge, nil, "", "Unix time the pipeline run started."}
	RunEndTimestamp    = Definition{"pipeline_run_end_timestamp_seconds", Gauge, nil, "", "Unix time the pipeline run's steps finished; when its status could not be read (pipeline_run_metrics_incomplete), the time the exit handler ran instead, not the run's end."}
	RunSteps           = Definition{"pipeline_run_steps", Gauge, []string{"result"}, "", "Number of finished steps of the run by result; each retry attempt counts as a step."}
	RunStepsUnfinished = Definition{"pipeline_run_steps_unfinished", Gauge, nil, "", "Number of steps still pending or running when the metrics were pushed."}
	RunRetries         = Definition{"pipeline_run_retries", Gauge, nil, "", "Number of retries (attempts after the first) over all steps of the run."}
	RunPodRestarts     = Definition{"pipeline_run_pod_restarts", Gauge, nil, "", "Number of times the engine re-created a step's pod because it failed before its main container started (Argo v4 failedPodRestarts: infrastructure failures, not retries), over all steps of the run."}
	RunWait            = Definition{"pipeline_run_wait_seconds", Gauge, nil, "", "Time spent in suspend (approval, wait) steps of the run."}
	RunOverhead        = Definition{"pipeline_run_overhead_seconds", Gauge, nil, "", "Time spent in orchestration pods (KFP drivers) of the run."}
	RunResources       = Definition{"pipeline_run_resource_seconds", Gauge, []string{"resource"}, "", "Resource usage of the run's steps as the engine reports it (Argo resourcesDuration: 1 = one CPU core, 100Mi of memory or one GPU for one second)."}
	RunIncomplete      = Definition{"pipeline_run_metrics_incomplete", Gauge, []string{"reason"}, "", "1 when the run's metrics are incomplete, with why: forbidden, unauthorized, not_found, timeout, unreachable, too_large or unreadable when its status could not be read (only the outcome from the exit handler's arguments is pushed), offloaded or steps_missing when it was read without its steps; absent when they are complete."}
	RunSeriesLimited   = Definition{"pipeline_run_series_limited", Gauge, []string{"kept"}, "", "1 when the run's series were over the series budget (--max-series): kept says what its step series were cut down to (template: aggregates per template instead of per step; stage: stage series only; run: run-level series only); absent when nothing was cut."}

	StepResult         = Definition{"pipeline_step_result", Gauge, []string{"step", "stage", "item", "template", "node_id", "node", "attempt", "result", "phase"}, StepsPerNode, "Outcome of a finished step: 1, with its result and the engine's raw phase as labels."}
	StepDuration       = Definition{"pipeline_step_duration_seconds", Gauge, []string{"step", "stage", "item", "template", "node_id", "node", "attempt"}, StepsPerNode, "Wall time of a finished step (one attempt), finishedAt minus startedAt."}
	StepWait           = Definition{"pipeline_step_wait_seconds", Gauge, []string{"step", "stage", "item", "template", "node_id", "node", "attempt"}, StepsPerNode, "Time a suspend step waited."}
	StepStartTimestamp = Definition{"pipeline_step_start_timestamp_seconds", Gauge, []string{"step", "stage", "item", "template", "node_id", "node", "attempt"}, StepsPerNode, "Unix time the step started."}
	StepEndTimestamp   = Definition{"pipeline_step_end_timestamp_seconds", Gauge, []string{"step", "stage", "item", "template", "node_id", "node", "attempt"}, StepsPerNode, "Unix time the step finished."}
	StepResources      = Definition{"pipeline_step_resource_seconds", Gauge, []string{"step", "stage", "item", "template", "node_id", "node", "attempt", "resource"}, StepsPerNode, "Resource usage of the step as the engine reports it (see pipeline_run_resource_seconds)."}
	StepRetries        = Definition{"pipeline_step_retries", Gauge, []string{"step", "stage", "template", "node_id"}, StepsPerNode, "Number of retries of a retried step (attempts after the first); node_id is the retry node's."}
	StepPodRestarts    = Definition{"pipeline_step_pod_restarts", Gauge, []string{"step", "stage", "item", "template", "node_id", "node", "attempt"}, StepsPerNode, "Number of times the step's pod was re-created because it failed before its main container started (see pipeline_run_pod_restarts); only for steps that had any."}

	StageItems       = Definition{"pipeline_stage_items", Gauge, []string{"stage", "result"}, "", "Number of finished items of a stage by result: its steps, each fan-out item and each retry attempt one."}
	StageDuration    = Definition{"pipeline_stage_duration_seconds", Gauge, []string{"stage"}, "", "Wall time of a stage, from the start of its first item to the end of its last: what the pipeline waited for it; set once every item has finished."}
	StageItemSeconds = Definition{"pipeline_stage_item_seconds", Gauge, []string{"stage"}, "", "Summed wall time of the finished items of a stage (a fan-out of 8 items of 60 s each: 480)."}
	StageRetries     = Definition{"pipeline_stage_retries", Gauge, []string{"stage"}, "", "Number of retries (attempts after the first) of the items of a stage."}
	StageResources   = Definition{"pipeline_stage_resource_seconds", Gauge, []string{"stage", "resource"}, "", "Resource usage of the items of a stage (see pipeline_run_resource_seconds)."}
	StageOverhead    = Definition{"pipeline_stage_overhead_seconds", Gauge, []string{"stage"}, "", "Time spent in the orchestration pods (KFP drivers) that prepared a stage's items; not part of its item or wall time."}

	TemplateSteps       = Definition{"pipeline_template_steps", Gauge, []string{"template", "result"}, StepsPerTemplate, "Number of finished steps of a template by result."}
	TemplateDuration    = Definition{"pipeline_template_duration_seconds", Summary, []string{"template"}, StepsPerTemplate, "Wall time of the finished steps of a template: _count steps, _sum seconds."}
	TemplateMaxDuration = Definition{"pipeline_template_max_duration_seconds", Gauge, []string{"template"}, StepsPerTemplate, "Longest wall time of a finished step of a template."}
	TemplateWait        = Definition{"pipeline_template_wait_seconds", Gauge, []string{"template"}, StepsPerTemplate, "Time the suspend steps of a template waited."}
	TemplateResources   = Definition{"pipeline_template_resource_seconds", Gauge, []string{"template", "resource"}, StepsPerTemplate, "Resource usage of the steps of a template (see pipeline_run_resource_seconds)."}
	TemplateRetries     = Definition{"pipeline_template_retries", Gauge, []string{"template"}, StepsPerTemplate, "Number of retries of the steps of a template."}
)

// Definitions lists every metric family step-metrics pushes.
var Definitions = []Definition{
	RunResult, RunDuration, RunStartTimestamp, RunEndTimestamp, RunSteps, RunStepsUnfinished, RunRetries, RunPodRestarts, RunWait, RunOverhead, RunResources,
	RunIncomplete, RunSeriesLimited,
	StepResult, StepDuration, StepWait, StepStartTimestamp, StepEndTimestamp, StepResources, StepRetries, StepPodRestarts,
	StageItems, StageDuration, StageItemSeconds, StageRetries, StageResources, StageOverhead,
	TemplateSteps, TemplateDuration, TemplateMaxDuration, TemplateWait, TemplateResources, TemplateRetries,
}
