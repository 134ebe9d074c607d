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
// wall time across runs (from the pipeline_stage_* families: one value per
// run and stage, however wide its fan-out), the slowest stages, one run's
// breakdown, failed items and retries, resources and waiting time by stage.
func Stages() (dashboard.Dashboard, error) {
	f := []string{mNS, mPipelineOne}
	fs := with(f, mStage)
	ended := endedInRange(f...)
	inStep := endedInStep(f...)

	// One value per run and stage: the stage families hold it already (max
	// folds re-pushes of the same run).
	stageValue := func(metric string, extra ...string) string {
		return and(perRun(lStage, lastIn(sel(metric, with(fs, extra...)...))), ended)
	}
	stageDur := stageValue(mStageDuration)
	byStage := func(agg, expr string) string { return fmt.Sprintf("%s by (%s) (%s)", agg, lStage, expr) }
	quantileByStage := func(q, expr string) string { return fmt.Sprintf("quantile by (%s) (%s, %s)", lStage, q, expr) }
	// Items of the runs that ended in the range, by stage: per run and
	// result first, then summed.
	items := func(extra ...string) string {
		return byStage("sum", and(perRun(list(lStage, lResult), lastIn(sel(mStageItems, with(fs, extra...)...))), ended))
	}
	stageLegend := legendOf(lStage)

	// The chosen run.
	run := []string{mRun, mStage}
	stepLabels := list(lNS, lWorkflow, lStage, lItem, lStep, lTemplate, lNodeID, lAttempt, lNode)
	result := fmt.Sprintf("topk by (%s) (1, max by (%s) (%s))", lNodeID, list(lNodeID, lResult), lastIn(sel(mStepResult, run...)))
	withResult := func(expr string) string {
		return fmt.Sprintf("%s * on (%s) group_left (%s) %s", expr, lNodeID, lResult, result)
	}
	stepValue := func(metric string) string {
		return fmt.Sprintf("max by (%s) (%s)", stepLabels, lastIn(sel(metric, run...)))
	}
	runStage := func(metric string) string {
		return fmt.Sprintf("max by (%s) (%s)", lStage, lastIn(sel(metric, run...)))
	}

	resource := func(matcher, scale string) string {
		return fmt.Sprintf("sort_desc(sum by (%s) (%s) %s)", lStage,
			and(perRun(list(lStage, lResource), lastIn(sel(mStageResources, with(fs, matcher)...))), ended), scale)
	}
	runResource := func(matcher, scale string) string {
		return fmt.Sprintf("max(%s) %s", and(perRun("", lastAtEnd(sel(mRunResources, with(f, matcher)...))), inStep), scale)
	}
	tmpl := func(agg, metric string, extra ...string) string {
		return fmt.Sprintf("%s by (%s) (%s)", agg, lTemplate, and(perRun(lTemplate, lastIn(sel(metric, with(f, extra...)...))), ended))
	}

	return dashboard.NewDashboardBuilder("Pipeline stages").
		Uid(StagesUID).
		Description("step-metrics: the stages of one pipeline across its runs (a stage is a step, or all the items of a fan-out and their retries): which stage got slower and when, the slowest stages, one run's breakdown, failed items and retries, CPU/memory/GPU and waiting time by stage.").
		Tags(tags).Editable().Time("now-7d", "now").Refresh("5m").Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Links(dashboardLinks()).
		WithVariable(datasourceVar()).
		WithVariable(namespaceVar()).
		WithVariable(pipelineVar(false)).
		WithVariable(runVar()).
		WithVariable(stageVar(sel(mStageDuration, mNS, mPipelineOne))).
		WithVariable(argoURLVar()).
		WithRow(row("Stages across runs")).
		WithPanel(runPoints(spec{title: "Stage wall time, one point per run", unit: "s", w: 24, h: 9,
			desc:    "Each stage's wall time in each run, drawn at the run's end time: which stage got slower, and when. A stage's wall time is what the pipeline waited for it: from the start of its first item to the end of its last (a fan-out's items run in parallel; retries included).",
			targets: qs(rangeQ("A", byStage("max", and(perRun(lStage, lastAtEnd(sel(mStageDuration, fs...))), inStep)), stageLegend))})).
		WithPanel(tablePanel(spec{title: "Slowest stages", unit: "s", w: 14, h: 9,
			desc: "Per stage, across the runs that ended in the time range (one value per run and stage): in how many runs the stage finished, the p50, p90 and longest wall time, and the p50 of its summed item time (all items and attempts added up: the compute a fan-out used).",
			targets: qs(
				tableQ("A", byStage("count", stageDur)),
				tableQ("B", quantileByStage("0.5", stageDur)),
				tableQ("C", quantileByStage("0.9", stageDur)),
				tableQ("D", byStage("max", stageDur)),
				tableQ("E", quantileByStage("0.5", stageValue(mStageItemSecs))),
			)},
			[]column{{"A", "Runs", "short"}, {"B", "p50", "s"}, {"C", "p90", "s"}, {"D", "Longest", "s"}, {"E", "Item time p50", "s"}}, nil, nil, "p90", true)).
		WithPanel(barGaugePanel(spec{title: "Stage p90 across runs", unit: "s", w: 10, h: 9,
			desc:    "The p90 of each stage's wall time across the runs that ended in the time range, slowest first.",
			targets: qs(instantQ("A", "sort_desc("+quantileByStage("0.9", stageDur)+")", stageLegend))})).
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
			desc:    "Finished steps of the run, each fan-out item and retry attempt counted.",
			targets: qs(instantQ("A", "sum(max by ("+lResult+") ("+lastIn(sel(mRunSteps, mRun))+"))", ""))})).
		WithPanel(statPanel(spec{title: "Retries", unit: "short", w: 4, h: 4,
			desc:    "Retries (attempts after the first) over all steps of the run.",
			targets: qs(instantQ("A", "max("+lastIn(sel(mRunRetries, mRun))+")", ""))})).
		WithPanel(statPanel(spec{title: "Waiting", unit: "s", w: 4, h: 4,
			desc:    "Time the run spent in suspend steps (approvals, waits).",
			targets: qs(instantQ("A", "max("+lastIn(sel(mRunWait, mRun))+")", ""))})).
		WithPanel(barGaugePanel(spec{title: "Stage breakdown of the run", unit: "s", w: 10, h: 10,
			desc: "Where the run's time went: each stage's wall time (a suspend stage's is its waiting time) and its summed item time (a fan-out's items added up).",
			targets: qs(
				instantQ("A", runStage(mStageDuration), stageLegend),
				instantQ("B", runStage(mStageItemSecs), stageLegend+" (items summed)"),
			)})).
		WithPanel(tablePanel(spec{title: "Steps of the run", unit: "s", w: 14, h: 10,
			desc: "Every finished step (fan-out item, attempt) of the chosen stages of the run, in the order they started: result, start, duration or waiting time, its stage and item, the template and the Kubernetes node it ran on. Click a step to open it in the Argo UI.",
			targets: qs(
				tableQ("A", withResult(stepValue(mStepStart)+" * 1000")),
				tableQ("B", withResult(stepValue(mStepDuration))),
				tableQ("C", withResult(stepValue(mStepWait))),
				tableQ("D", fmt.Sprintf("max by (%s) (%s)", list(stepLabels, lResult), lastIn(sel(mStepResult, run...)))),
			)},
			[]column{{"A", "Started", "dateTimeAsIso"}, {"B", "Duration", "s"}, {"C", "Waited", "s"}, {"D", "Finished", "short"}},
			[]string{"Value #D"}, map[string][]dashboard.DashboardLink{lStep: links(argoNodeLink())}, "Started", false,
			lNS, lWorkflow, lNodeID)).
		WithRow(row("Items, failures and retries by stage")).
		WithPanel(tablePanel(spec{title: "Items, failures and retries by stage", unit: "short", w: 12, h: 8,
			desc: "Per stage, over the runs that ended in the time range: finished items (each step, fan-out item and retry attempt one), failed items (failure, error or timeout), retries, and the runs in which an item of the stage finally failed (all its attempts failed).",
			targets: qs(
				tableQ("A", items()),
				tableQ("B", items(mFailed)),
				tableQ("C", byStage("sum", stageValue(mStageRetries))),
				tableQ("D", byStage("count", and(fmt.Sprintf("max by (%s) (%s unless on (%s) %s)", list(lStage, lRunID),
					lastIn(sel(mStepResult, with(fs, mFailed)...)), list(lRunID, lStep), lastIn(sel(mStepResult, with(fs, mSuccess)...))), ended))),
			)},
			[]column{{"A", "Items", "short"}, {"B", "Failed items", "short"}, {"C", "Retries", "short"}, {"D", "Runs failed here", "short"}}, nil, nil, "Failed items", true)).
		WithPanel(barsPanel(spec{title: "Failed items by stage", unit: "short", w: 12, h: 8,
			desc:    "Failed items (failure, error or timeout; each attempt one) of each stage, in the runs that ended in each interval.",
			targets: qs(rangeQ("A", byStage("sum", and(perRun(list(lStage, lResult), lastAtEnd(sel(mStageItems, with(fs, mFailed)...))), inStep)), stageLegend))})).
		WithRow(row("Resources by stage")).
		WithPanel(barGaugePanel(spec{title: "CPU by stage", unit: "suffix: core·h", w: 8, h: 8,
			desc:    "CPU time of each stage (all its items and attempts) over the runs that ended in the time range, in core-hours (Argo's resourcesDuration: 1 = one core for one second).",
			targets: qs(instantQ("A", resource(mCPU, "/ 3600"), stageLegend))})).
		WithPanel(barGaugePanel(spec{title: "Memory by stage", unit: "suffix: GiB·h", w: 8, h: 8,
			desc:    "Memory of each stage (all its items and attempts) over the runs that ended in the time range, in GiB-hours (Argo's resourcesDuration: 1 = 100Mi for one second).",
			targets: qs(instantQ("A", resource(mMemory, "* 100 / 1024 / 3600"), stageLegend))})).
		WithPanel(barGaugePanel(spec{title: "GPU by stage", unit: "suffix: GPU·h", w: 8, h: 8,
			desc:    "GPU time of each stage (any resource named *gpu*, such as nvidia.com/gpu) over the runs that ended in the time range, in GPU-hours.",
			targets: qs(instantQ("A", resource(mGPU, "/ 3600"), stageLegend))})).
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
		WithPanel(barGaugePanel(spec{title: "Waiting by suspend stage, p50 across runs", unit: "s", w: 12, h: 8,
			desc:    "The p50 of each suspend stage's waiting time (its steps' waits summed per run) across the runs that ended in the time range.",
			targets: qs(instantQ("A", "sort_desc("+quantileByStage("0.5", and(stagePerRun(lStage, lastIn(sel(mStepWait, fs...))), ended))+")", stageLegend))})).
		WithRow(row("Templates (runs pushed with --steps template)")).
		WithPanel(tablePanel(spec{title: "Templates", unit: "short", w: 24, h: 8,
			desc: "Runs pushed with --steps template (big fan-outs) have per-template series instead of per-step ones (their stage series are above): per template, over the runs that ended in the time range, the steps, the mean and longest step duration, failed steps and retries.",
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
