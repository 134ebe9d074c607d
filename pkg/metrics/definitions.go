package metrics

// Definition describes one metric family step-metrics pushes. The README's
// metric table is checked against Definitions.
type Definition struct {
	Name string
	// Type is "gauge" or "summary".
	Type string
	// Labels are the labels on the samples besides the run labels
	// (engine, pipeline, workflow and user labels) and the grouping labels.
	Labels []string
	// Mode is the step mode that emits it: "" for every mode.
	Mode StepMode
	Help string
}

// The metric families. Run-level families are pushed in every step mode.
var (
	RunResult          = Definition{"pipeline_run_result", "gauge", []string{"result", "phase"}, "", "Outcome of the pipeline run: 1 for its result (success, failure, error, timeout, cancellation, skip), 0 for the others; phase is the engine's raw phase."}
	RunDuration        = Definition{"pipeline_run_duration_seconds", "gauge", nil, "", "Wall time of the pipeline run from its start to the end of its last step, excluding exit handlers."}
	RunStartTimestamp  = Definition{"pipeline_run_start_timestamp_seconds", "gauge", nil, "", "Unix time the pipeline run started."}
	RunEndTimestamp    = Definition{"pipeline_run_end_timestamp_seconds", "gauge", nil, "", "Unix time the pipeline run's steps finished."}
	RunSteps           = Definition{"pipeline_run_steps", "gauge", []string{"result"}, "", "Number of finished steps of the run by result; each retry attempt counts as a step."}
	RunStepsUnfinished = Definition{"pipeline_run_steps_unfinished", "gauge", nil, "", "Number of steps still pending or running when the metrics were pushed."}
	RunRetries         = Definition{"pipeline_run_retries", "gauge", nil, "", "Number of retries (attempts after the first) over all steps of the run."}
	RunWait            = Definition{"pipeline_run_wait_seconds", "gauge", nil, "", "Time spent in suspend (approval, wait) steps of the run."}
	RunResources       = Definition{"pipeline_run_resource_seconds", "gauge", []string{"resource"}, "", "Resource usage of the run's steps as the engine reports it (Argo resourcesDuration: 1 = one CPU core, 100Mi of memory or one GPU for one second)."}

	StepResult         = Definition{"pipeline_step_result", "gauge", []string{"step", "template", "node_id", "node", "attempt", "result", "phase"}, StepsPerNode, "Outcome of a finished step: 1, with its result and the engine's raw phase as labels."}
	StepDuration       = Definition{"pipeline_step_duration_seconds", "gauge", []string{"step", "template", "node_id", "node", "attempt"}, StepsPerNode, "Wall time of a finished step (one attempt), finishedAt minus startedAt."}
	StepWait           = Definition{"pipeline_step_wait_seconds", "gauge", []string{"step", "template", "node_id", "node", "attempt"}, StepsPerNode, "Time a suspend step waited."}
	StepStartTimestamp = Definition{"pipeline_step_start_timestamp_seconds", "gauge", []string{"step", "template", "node_id", "node", "attempt"}, StepsPerNode, "Unix time the step started."}
	StepEndTimestamp   = Definition{"pipeline_step_end_timestamp_seconds", "gauge", []string{"step", "template", "node_id", "node", "attempt"}, StepsPerNode, "Unix time the step finished."}
	StepResources      = Definition{"pipeline_step_resource_seconds", "gauge", []string{"step", "template", "node_id", "node", "attempt", "resource"}, StepsPerNode, "Resource usage of the step as the engine reports it (see pipeline_run_resource_seconds)."}
	StepRetries        = Definition{"pipeline_step_retries", "gauge", []string{"step", "template", "node_id"}, StepsPerNode, "Number of retries of a retried step (attempts after the first); node_id is the retry node's."}

	TemplateSteps       = Definition{"pipeline_template_steps", "gauge", []string{"template", "result"}, StepsPerTemplate, "Number of finished steps of a template by result."}
	TemplateDuration    = Definition{"pipeline_template_duration_seconds", "summary", []string{"template"}, StepsPerTemplate, "Wall time of the finished steps of a template: _count steps, _sum seconds."}
	TemplateMaxDuration = Definition{"pipeline_template_max_duration_seconds", "gauge", []string{"template"}, StepsPerTemplate, "Longest wall time of a finished step of a template."}
	TemplateWait        = Definition{"pipeline_template_wait_seconds", "gauge", []string{"template"}, StepsPerTemplate, "Time the suspend steps of a template waited."}
	TemplateResources   = Definition{"pipeline_template_resource_seconds", "gauge", []string{"template", "resource"}, StepsPerTemplate, "Resource usage of the steps of a template (see pipeline_run_resource_seconds)."}
	TemplateRetries     = Definition{"pipeline_template_retries", "gauge", []string{"template"}, StepsPerTemplate, "Number of retries of the steps of a template."}
)

// Definitions lists every metric family step-metrics pushes.
var Definitions = []Definition{
	RunResult, RunDuration, RunStartTimestamp, RunEndTimestamp, RunSteps, RunStepsUnfinished, RunRetries, RunWait, RunResources,
	StepResult, StepDuration, StepWait, StepStartTimestamp, StepEndTimestamp, StepResources, StepRetries,
	TemplateSteps, TemplateDuration, TemplateMaxDuration, TemplateWait, TemplateResources, TemplateRetries,
}
