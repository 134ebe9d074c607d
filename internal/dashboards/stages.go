package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// mPipelineOne matches the one pipeline the stages dashboard shows.
const mPipelineOne = lPipeline + `="$pipeline"`

// Stages is the pipeline stages dashboard: for one pipeline, each stage's
// duration across runs, the slowest stages, one run's breakdown, failures
// and retries, resources and waiting time by stage.
func Stages() (dashboard.Dashboard, error) {
	f := []string{mNS, mPipelineOne}
	fs := with(f, mStep)
	ended := endedInRange(f...)
	inStep := endedInStep(f...)

	// One value per run and stage: the sum of its attempts.
	stageDur := and(stagePerRun(lStep, lastIn(sel(mStepDuration, fs...))), ended)
	stageWait := and(stagePerRun(lStep, lastIn(sel(mStepWait, fs...))), ended)
	byStep := func(agg, expr string) string { return fmt.Sprintf("%s by (%s) (%s)", agg, lStep, expr) }
	quantileByStep := func(q, expr string) string { return fmt.Sprintf("quantile by (%s) (%s, %s)", lStep, q, expr) }
	stepLegend := legendOf(lStep)

	// The chosen run.
	run := []string{mRun, mStep}
	stepLabels := list(lNS, lWorkflow, lStep, lTemplate, lNodeID, lAttempt, lNode)
	result := fmt.Sprintf("topk by (%s) (1, max by (%s) (%s))", lNodeID, list(lNodeID, lResult), lastIn(sel(mStepResult, run...)))
	withResult := func(expr string) string {
		return fmt.Sprintf("%s * on (%s) group_left (%s) %s", expr, lNodeID, lResult, result)
	}
	stepValue := func(metric string) string {
		return fmt.Sprintf("max by (%s) (%s)", stepLabels, lastIn(sel(metric, run...)))
	}

	resource := func(matcher, scale string) string {
		return fmt.Sprintf("sort_desc(sum by (%s) (%s) %s)", lStep,
			and(perAttempt(lStep, lastIn(sel(mStepResources, with(fs, matcher)...))), ended), scale)
	}
	runResource := func(matcher, scale string) string {
		return fmt.Sprintf("max(%s) %s", and(perRun("", lastAtEnd(sel(mRunResources, with(f, matcher)...))), inStep), scale)
	}
	tmpl := func(agg, metric string, extra ...string) string {
		return fmt.Sprintf("%s by (%s) (%s)", agg, lTemplate, and(perRun(lTemplate, lastIn(sel(metric, with(f, extra...)...))), ended))
	}

	return dashboard.NewDashboardBuilder("Pipeline stages").
		Uid(StagesUID).
		Description("step-metrics: the stages (steps) of one pipeline across its runs: which stage got slower and when, the slowest stages, one run's breakdown, failures and retries, CPU/memory/GPU and waiting time by stage.").
		Tags(tags).Editable().Time("now-7d", "now").Refresh("5m").Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Links(dashboardLinks()).
		WithVariable(datasourceVar()).
		WithVariable(namespaceVar()).
		WithVariable(pipelineVar(false)).
		WithVariable(runVar()).
		WithVariable(stepVar(sel(mStepResult, mNS, mPipelineOne))).
		WithVariable(argoURLVar()).
		WithRow(row("Stages across runs")).
		WithPanel(runPoints(spec{title: "Stage duration, one point per run", unit: "s", w: 24, h: 9,
			desc:    "Each stage's duration in each run, drawn at the run's end time: which stage got slower, and when. A stage's duration in a run is the sum of its attempts (retries included).",
			targets: qs(rangeQ("A", byStep("max", and(stagePerRun(lStep, lastAtEnd(sel(mStepDuration, fs...))), inStep)), stepLegend))})).
		WithPanel(tablePanel(spec{title: "Slowest stages", unit: "s", w: 14, h: 9,
			desc: "Per stage, across the runs that ended in the time range (one value per run and stage, attempts summed): p50, p90 and the longest duration, and in how many runs the stage ran.",
			targets: qs(
				tableQ("A", byStep("count", stageDur)),
				tableQ("B", quantileByStep("0.5", stageDur)),
				tableQ("C", quantileByStep("0.9", stageDur)),
				tableQ("D", byStep("max", stageDur)),
			)},
			[]column{{"A", "Runs", "short"}, {"B", "p50", "s"}, {"C", "p90", "s"}, {"D", "Longest", "s"}}, nil, nil, "p90", true)).
		WithPanel(barGaugePanel(spec{title: "Stage p90 across runs", unit: "s", w: 10, h: 9,
			desc:    "The p90 of each stage's duration across the runs that ended in the time range, slowest first.",
			targets: qs(instantQ("A", "sort_desc("+quantileByStep("0.9", stageDur)+")", stepLegend))})).
		WithRow(row("Run ${run:text}")).
		WithPanel(statPanel(spec{title: "Result", unit: "none", w: 4, h: 4,
			desc:    "The run's result (success, failure, error, timeout, cancellation, skip); nothing while it is unfinished. Click to open the run in the Argo UI.",
			targets: qs(instantQ("A", fmt.Sprintf("max by (%s) (%s) == 1", list(lNS, lWorkflow, lResult), lastIn(sel(mRunResult, mRun))), legendOf(lResult)))}).
			TextMode(common.BigValueTextModeName).ColorMode(common.BigValueColorModeBackground).
			Overrides(resultColorOverrides()).
			DataLinks(argoFieldLink())).
		WithPanel(statPanel(spec{title: "Duration", unit: "s", w: 4, h: 4,
			desc:    "The run's wall time from its start to the end of its last step, exit handlers excluded.",
			targets: qs(instantQ("A", "max("+lastIn(sel(mRunDuration, mRun))+")", ""))})).
		WithPanel(statPanel(spec{title: "Started", unit: "dateTimeAsIso", w: 4, h: 4,
			desc:    "When the run started.",
			targets: qs(instantQ("A", "max("+lastIn(sel(mRunStart, mRun))+") * 1000", ""))})).
		WithPanel(statPanel(spec{title: "Finished steps", unit: "short", w: 4, h: 4,
			desc:    "Finished steps of the run, each retry attempt counted.",
			targets: qs(instantQ("A", "sum(max by ("+lResult+") ("+lastIn(sel(mRunSteps, mRun))+"))", ""))})).
		WithPanel(statPanel(spec{title: "Retries", unit: "short", w: 4, h: 4,
			desc:    "Retries (attempts after the first) over all steps of the run.",
			targets: qs(instantQ("A", "max("+lastIn(sel(mRunRetries, mRun))+")", ""))})).
		WithPanel(statPanel(spec{title: "Waiting", unit: "s", w: 4, h: 4,
			desc:    "Time the run spent in suspend steps (approvals, waits).",
			targets: qs(instantQ("A", "max("+lastIn(sel(mRunWait, mRun))+")", ""))})).
		WithPanel(barGaugePanel(spec{title: "Stage breakdown of the run", unit: "s", w: 10, h: 10,
			desc: "Where the run's time went: each stage's duration (attempts summed) and each suspend step's waiting time.",
			targets: qs(
				instantQ("A", fmt.Sprintf("sum by (%s) (max by (%s) (%s))", lStep, list(lStep, lNodeID), lastIn(sel(mStepDuration, run...))), stepLegend),
				instantQ("B", fmt.Sprintf("sum by (%s) (max by (%s) (%s))", lStep, list(lStep, lNodeID), lastIn(sel(mStepWait, run...))), stepLegend+" (waiting)"),
			)})).
		WithPanel(tablePanel(spec{title: "Steps of the run", unit: "s", w: 14, h: 10,
			desc: "Every finished step (attempt) of the run, in the order they started: result, start, duration or waiting time, the template and the Kubernetes node it ran on. Click a step to open it in the Argo UI.",
			targets: qs(
				tableQ("A", withResult(stepValue(mStepStart)+" * 1000")),
				tableQ("B", withResult(stepValue(mStepDuration))),
				tableQ("C", withResult(stepValue(mStepWait))),
				tableQ("D", fmt.Sprintf("max by (%s) (%s)", list(stepLabels, lResult), lastIn(sel(mStepResult, run...)))),
			)},
			[]column{{"A", "Started", "dateTimeAsIso"}, {"B", "Duration", "s"}, {"C", "Waited", "s"}, {"D", "Finished", "short"}},
			[]string{"Value #D"}, map[string][]dashboard.DashboardLink{lStep: links(argoNodeLink())}, "Started", false,
			lNS, lWorkflow, lNodeID)).
		WithRow(row("Failures and retries by stage")).
		WithPanel(tablePanel(spec{title: "Failures and retries by stage", unit: "short", w: 12, h: 8,
			desc: "Per stage, over the runs that ended in the time range: failed attempts (failure, error or timeout), retries, and the runs in which the stage finally failed.",
			targets: qs(
				tableQ("A", byStep("count", and(perAttempt(lStep, lastIn(sel(mStepResult, with(fs, mFailed)...))), ended))),
				tableQ("B", byStep("sum", and(perAttempt(lStep, lastIn(sel(mStepRetries, fs...))), ended))),
				tableQ("C", byStep("count", and(fmt.Sprintf("max by (%s) (%s unless on (%s) %s)", list(lStep, lRunID),
					lastIn(sel(mStepResult, with(fs, mFailed)...)), list(lRunID, lStep), lastIn(sel(mStepResult, with(fs, mSuccess)...))), ended))),
			)},
			[]column{{"A", "Failed attempts", "short"}, {"B", "Retries", "short"}, {"C", "Runs failed here", "short"}}, nil, nil, "Failed attempts", true)).
		WithPanel(barsPanel(spec{title: "Failed attempts by stage", unit: "short", w: 12, h: 8,
			desc:    "Failed attempts (failure, error or timeout) of each stage, in the runs that ended in each interval.",
			targets: qs(rangeQ("A", byStep("count", and(perAttempt(lStep, lastAtEnd(sel(mStepResult, with(fs, mFailed)...))), inStep)), stepLegend))})).
		WithRow(row("Resources by stage")).
		WithPanel(barGaugePanel(spec{title: "CPU by stage", unit: "suffix: core·h", w: 8, h: 8,
			desc:    "CPU time of each stage over the runs that ended in the time range, in core-hours (Argo's resourcesDuration: 1 = one core for one second).",
			targets: qs(instantQ("A", resource(mCPU, "/ 3600"), stepLegend))})).
		WithPanel(barGaugePanel(spec{title: "Memory by stage", unit: "suffix: GiB·h", w: 8, h: 8,
			desc:    "Memory of each stage over the runs that ended in the time range, in GiB-hours (Argo's resourcesDuration: 1 = 100Mi for one second).",
			targets: qs(instantQ("A", resource(mMemory, "* 100 / 1024 / 3600"), stepLegend))})).
		WithPanel(barGaugePanel(spec{title: "GPU by stage", unit: "suffix: GPU·h", w: 8, h: 8,
			desc:    "GPU time of each stage (any resource named *gpu*, such as nvidia.com/gpu) over the runs that ended in the time range, in GPU-hours.",
			targets: qs(instantQ("A", resource(mGPU, "/ 3600"), stepLegend))})).
		WithPanel(runPoints(spec{title: "Resources per run", unit: "short", w: 24, h: 8,
			desc: "Each run's CPU (core-hours), memory (GiB-hours) and GPU (GPU-hours), at the run's end time.",
			targets: qs(
				rangeQ("A", runResource(mCPU, "/ 3600"), "CPU core·h"),
				rangeQ("B", runResource(mMemory, "* 100 / 1024 / 3600"), "memory GiB·h"),
				rangeQ("C", runResource(mGPU, "/ 3600"), "GPU·h"),
			)})).
		WithRow(row("Waiting (suspend steps)")).
		WithPanel(runPoints(spec{title: "Waiting time per run", unit: "s", w: 12, h: 8,
			desc:    "Time each run spent in suspend steps (approvals, waits), at the run's end time.",
			targets: qs(rangeQ("A", "max("+and(perRun("", lastAtEnd(sel(mRunWait, f...))), inStep)+")", "waiting"))})).
		WithPanel(barGaugePanel(spec{title: "Waiting by suspend step, p50 across runs", unit: "s", w: 12, h: 8,
			desc:    "The p50 of each suspend step's waiting time across the runs that ended in the time range.",
			targets: qs(instantQ("A", "sort_desc("+quantileByStep("0.5", stageWait)+")", stepLegend))})).
		WithRow(row("Templates (runs pushed with --steps template)")).
		WithPanel(tablePanel(spec{title: "Templates", unit: "short", w: 24, h: 8,
			desc: "Runs pushed with --steps template (big fan-outs) have per-template series instead of per-step ones: per template, over the runs that ended in the time range, the steps, the mean and longest step duration, failed steps and retries.",
			targets: qs(
				tableQ("A", tmpl("sum", mTemplateDurCnt)),
				tableQ("B", tmpl("sum", mTemplateDurSum)+" / "+tmpl("sum", mTemplateDurCnt)),
				tableQ("C", tmpl("max", mTemplateMaxDur)),
				tableQ("D", fmt.Sprintf("sum by (%s) (%s)", lTemplate, and(perRun(list(lTemplate, lResult), lastIn(sel(mTemplateSteps, with(f, mFailed)...))), ended))),
				tableQ("E", tmpl("sum", mTemplateRetries)),
			)},
			[]column{{"A", "Steps", "short"}, {"B", "Mean duration", "s"}, {"C", "Longest", "s"}, {"D", "Failed steps", "short"}, {"E", "Retries", "short"}},
			nil, nil, "Steps", true)).
		Build()
}

// argoFieldLink opens the run of a series (namespace and workflow labels)
// in the Argo UI.
func argoFieldLink() []cog.Builder[dashboard.DashboardLink] {
	fieldLabel := func(label string) string { return "${__field.labels." + label + "}" }
	return []cog.Builder[dashboard.DashboardLink]{dashboard.NewDashboardLinkBuilder("Open " + fieldLabel(lWorkflow) + " in the Argo UI").
		Type(dashboard.DashboardLinkTypeLink).
		Url("${argo_url}/workflows/" + fieldLabel(lNS) + "/" + fieldLabel(lWorkflow)).TargetBlank(true)}
}

// argoNodeLink opens a table row's step (node_id) in the Argo UI.
func argoNodeLink() dashboard.DashboardLink {
	return dashboard.DashboardLink{Title: "Open " + field(lStep) + " in the Argo UI", Type: dashboard.DashboardLinkTypeLink,
		Url:         ptr("${argo_url}/workflows/" + field(lNS) + "/" + field(lWorkflow) + "?tab=workflow&nodeId=" + field(lNodeID)),
		TargetBlank: true, Tags: []string{}}
}
