package dashboards

import (
	"fmt"
	"strings"

	"github.com/step-metrics/step-metrics/pkg/schema"
)

// The query patterns every panel is built from. docs/dashboards.md explains
// them; in short: each run is its own set of series (its workflow_id), the
// series stay flat until the Pushgateway group is pruned, so
//
//   - a run is "in the range" when its end timestamp is, not when its series
//     are present;
//   - every run is reduced to one value per stage by workflow_id (and node_id
//     for attempts) before counting or taking percentiles, so nothing is
//     counted twice; a stage's values come from the pipeline_stage_*
//     families, one series set per run and stage however wide its fan-out;
//   - over time, a run is drawn at its end time: each run's last value is
//     read once at the end of the range (@ end()) and shown only at the step
//     whose interval holds its end timestamp.

// Metric names, from the metric table in pkg/metrics so the dashboards
// cannot name a metric the code does not push.
var (
	mRunResult       = schema.RunResult.Name
	mRunDuration     = schema.RunDuration.Name
	mRunStart        = schema.RunStartTimestamp.Name
	mRunEnd          = schema.RunEndTimestamp.Name
	mRunSteps        = schema.RunSteps.Name
	mRunRetries      = schema.RunRetries.Name
	mRunWait         = schema.RunWait.Name
	mRunResources    = schema.RunResources.Name
	mRunIncomplete   = schema.RunIncomplete.Name
	mStepResult      = schema.StepResult.Name
	mStepDuration    = schema.StepDuration.Name
	mStepWait        = schema.StepWait.Name
	mStepStart       = schema.StepStartTimestamp.Name
	mStageItems      = schema.StageItems.Name
	mStageDuration   = schema.StageDuration.Name
	mStageItemSecs   = schema.StageItemSeconds.Name
	mStageRetries    = schema.StageRetries.Name
	mStageResources  = schema.StageResources.Name
	mTemplateSteps   = schema.TemplateSteps.Name
	mTemplateDurSum  = schema.TemplateDuration.Name + "_sum"
	mTemplateDurCnt  = schema.TemplateDuration.Name + "_count"
	mTemplateMaxDur  = schema.TemplateMaxDuration.Name
	mTemplateRetries = schema.TemplateRetries.Name
)

// Pushgateway's own per-group metrics.
const (
	mPushTime        = schema.PushTimeMetric
	mPushFailureTime = schema.PushFailureTimeMetric
)

// CustomPrefix is the prefix of the metrics steps publish themselves: a
// step's metric <name> is pushed as pipeline_custom_<name>, a gauge with the
// run labels plus step, template and node_id (and the user's labels).
const CustomPrefix = schema.CustomPrefix

// Label names, from pkg/schema, short for the queries.
const (
	lJob      = schema.LabelJob
	lInstance = schema.LabelInstance
	lNS       = schema.LabelNamespace
	lRunID    = schema.LabelWorkflowID
	lEngine   = schema.LabelEngine
	lPipeline = schema.LabelPipeline
	lWorkflow = schema.LabelWorkflow
	lStep     = schema.LabelStep
	lStage    = schema.LabelStage
	lItem     = schema.LabelItem
	lTemplate = schema.LabelTemplate
	lNodeID   = schema.LabelNodeID
	lNode     = schema.LabelNode
	lAttempt  = schema.LabelAttempt
	lResult   = schema.LabelResult
	lResource = schema.LabelResource
)

// list renders label names as a by (...), without (...) or on (...) list.
func list(names ...string) string { return strings.Join(names, ", ") }

// legendOf is a label's value in a legend format.
func legendOf(label string) string { return "{{" + label + "}}" }

// field is a table row's value of a label (column), in a data link.
func field(label string) string { return "${__data.fields." + label + "}" }

// Failed results: the run or step did not succeed for a reason of its own
// (a cancellation is somebody's decision, a skip is no failure).
const failedResults = `failure|error|timeout`

// Matchers of resources: CPU, memory, and any GPU (nvidia.com/gpu...).
const (
	mCPU    = lResource + `="cpu"`
	mMemory = lResource + `="memory"`
	mGPU    = lResource + `=~".*gpu.*"`
)

// Matchers of a run's or step's result: success, or failed.
const (
	mSuccess = lResult + `="success"`
	mFailed  = lResult + `=~"` + failedResults + `"`
)

// Matchers of the dashboard variables.
const (
	mNS       = lNS + `=~"$namespace"`
	mPipeline = lPipeline + `=~"$pipeline"`
	mStep     = lStep + `=~"$step"`
	mStage    = lStage + `=~"$stage"`
	mRun      = lRunID + `="$run"`
	mMetric   = `__name__=~"$metric"`
)

// sel renders a selector: a metric name (or "") and matchers.
func sel(metric string, matchers ...string) string {
	return metric + "{" + strings.Join(matchers, ", ") + "}"
}

// lastIn is each series' last value in the dashboard's time range, for
// instant queries (evaluated at the end of the range). It keeps runs whose
// group was pruned during the range.
func lastIn(selector string) string {
	return "last_over_time(" + selector + "[$__range])"
}

// lastAtEnd is lastIn for range queries: read once at the end of the range
// (a step-invariant expression, evaluated a single time), so every step of
// the graph sees every run of the range, also runs pushed after that step.
func lastAtEnd(selector string) string {
	return "last_over_time(" + selector + "[$__range] @ end())"
}

// endedInRange keeps the runs whose end timestamp lies in the dashboard's
// range (instant queries); its labels are the run labels and workflow_id.
func endedInRange(matchers ...string) string {
	return fmt.Sprintf("(%s > time() - $__range_s)", lastIn(sel(mRunEnd, matchers...)))
}

// endedInStep keeps, at each step of a range query, the runs that ended in
// the step's interval (t - $__interval, t]: each run appears at exactly one
// step, its end time.
func endedInStep(matchers ...string) string {
	return fmt.Sprintf("((%s <= time()) > time() - $__interval_ms / 1000)", lastAtEnd(sel(mRunEnd, matchers...)))
}

// endedInWindow keeps, at each step of a range query, the runs that ended
// in the trailing window (t - $window, t] ($window in seconds).
func endedInWindow(matchers ...string) string {
	return fmt.Sprintf("((%s <= time()) > time() - $window)", lastAtEnd(sel(mRunEnd, matchers...)))
}

// perRun reduces series to one per run (and the given labels): max, since
// a run's series that differ only in an incidental label (a re-push after
// `argo retry`) carry the same value.
func perRun(by, expr string) string {
	return fmt.Sprintf("max by (%s) (%s)", joinBy(by, lRunID), expr)
}

// perAttempt reduces step series to one per attempt (node_id).
func perAttempt(by, expr string) string {
	return fmt.Sprintf("max by (%s) (%s)", joinBy(by, list(lRunID, lNodeID)), expr)
}

// stagePerRun is the time a run spent in each stage: the sum of its
// attempts' values, one series per (by, workflow_id).
func stagePerRun(by, expr string) string {
	return fmt.Sprintf("sum by (%s) (%s)", joinBy(by, lRunID), perAttempt(by, expr))
}

func joinBy(by, extra string) string {
	if by == "" {
		return extra
	}
	return by + ", " + extra
}

// and restricts expr to the runs of filter.
func and(expr, filter string) string {
	return expr + " and on (" + lRunID + ") " + filter
}

// orZero makes a count 0 for the groups of base that it lacks.
func orZero(count, by, base string) string {
	return fmt.Sprintf("(%s or count by (%s) (%s) * 0)", count, by, base)
}

// with returns base and more in a new slice.
func with(base []string, more ...string) []string {
	return append(append([]string(nil), base...), more...)
}
