package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

func qs(q ...cog.Builder[variants.Dataquery]) []cog.Builder[variants.Dataquery] { return q }

// Overview is the pipelines overview: runs and success rate per pipeline,
// duration trends across runs, recent failed runs with the failing step.
func Overview() (dashboard.Dashboard, error) {
	f := []string{mNS, mPipeline}
	by := list(lNS, lPipeline)
	ended := endedInRange(f...)
	runs := perRun(by, ended)
	success := sel(mRunResult, with(f, mSuccess)...)
	failed := sel(mRunResult, with(f, mFailed)...)
	duration := sel(mRunDuration, f...)

	count := func(expr string) string { return fmt.Sprintf("count by (%s) (%s)", by, expr) }
	successRuns := and(perRun(by, lastIn(success))+" == 1", ended)
	failedRuns := and(perRun(by, lastIn(failed))+" == 1", ended)
	durationRuns := and(perRun(by, lastIn(duration)), ended)

	// Over time: runs placed at their end time.
	inStep := endedInStep(f...)
	inWindow := endedInWindow(f...)
	windowRuns := perRun(by, inWindow)

	failedEnded := fmt.Sprintf("(%s and on (%s) (%s == 1))", ended, lRunID, lastIn(failed))
	failedSteps := fmt.Sprintf("%s unless on (%s) %s",
		lastIn(sel(mStepResult, with(f, mFailed)...)), list(lRunID, lStep),
		lastIn(sel(mStepResult, with(f, mSuccess)...)))
	recentFailed := fmt.Sprintf(`(
  max by (%[4]s) (%[1]s)
  * on (%[3]s) group_left ()
  (1000 * max by (%[3]s) %[2]s)
)
or on (%[3]s)
(1000 * max by (%[5]s) %[2]s)`, failedSteps, failedEnded, lRunID,
		list(lNS, lPipeline, lWorkflow, lRunID, lStage, lStep, lResult), list(lNS, lPipeline, lWorkflow, lRunID))

	return dashboard.NewDashboardBuilder("Pipelines overview").
		Uid(OverviewUID).
		Description("step-metrics: every pipeline's runs, success rate and duration across runs, and the runs that failed, from the per-run Pushgateway groups the step-metrics exit handler pushes.").
		Tags(tags).Editable().Time("now-7d", "now").Refresh("5m").Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Links(dashboardLinks()).
		WithVariable(datasourceVar()).
		WithVariable(namespaceVar()).
		WithVariable(pipelineVar(true)).
		WithVariable(windowVar()).
		WithVariable(argoURLVar()).
		WithRow(row("Summary of the runs that ended in the time range")).
		WithPanel(statPanel(spec{title: "Finished runs", unit: "short", w: 4, h: 4,
			desc:    "Runs whose end time lies in the time range, each counted once (by workflow_id).",
			targets: qs(instantQ("A", fmt.Sprintf("count(%s) or vector(0)", perRun("", ended)), ""))})).
		WithPanel(statPanel(spec{title: "Success rate", unit: "percentunit", w: 4, h: 4,
			desc: "Share of the finished runs whose result is success. A run retried with `argo retry` keeps its workflow_id and counts once, as a success if it finally succeeded.",
			targets: qs(instantQ("A", fmt.Sprintf("(count(%s) or vector(0)) / count(%s)",
				and(perRun("", lastIn(success))+" == 1", ended), perRun("", ended)), ""))}).
			Thresholds(thresholds("red", 0, "orange", 0.8, "green", 0.95))).
		WithPanel(statPanel(spec{title: "Failed runs", unit: "short", w: 4, h: 4,
			desc:    "Finished runs whose result is failure, error or timeout (cancellations are not failures).",
			targets: qs(instantQ("A", fmt.Sprintf("count(%s) or vector(0)", and(perRun("", lastIn(failed))+" == 1", ended)), ""))}).
			Thresholds(thresholds("green", 0, "red", 1))).
		WithPanel(statPanel(spec{title: "Median run duration", unit: "s", w: 3, h: 4,
			desc:    "p50 of the finished runs' durations, across runs (one value per run).",
			targets: qs(instantQ("A", fmt.Sprintf("quantile(0.5, %s)", and(perRun("", lastIn(duration)), ended)), ""))})).
		WithPanel(statPanel(spec{title: "Retries", unit: "short", w: 3, h: 4,
			desc:    "Retries (attempts after the first) over all steps of the finished runs.",
			targets: qs(instantQ("A", fmt.Sprintf("sum(%s) or vector(0)", and(perRun("", lastIn(sel(mRunRetries, f...))), ended)), ""))})).
		WithPanel(statPanel(spec{title: "Runs with incomplete metrics", unit: "short", w: 3, h: 4,
			desc:    "Finished runs whose metrics are incomplete (pipeline_run_metrics_incomplete): the exit handler could not read the run's status (reason forbidden: its ServiceAccount lacks the step-metrics Role; or unauthorized, not_found, timeout, unreachable, too_large, unreadable) and pushed only its outcome from the arguments, with the time the handler ran as its end; or it read the status without its steps (offloaded, steps_missing). See the PipelineRunMetricsIncomplete runbook.",
			targets: qs(instantQ("A", fmt.Sprintf("count(%s) or vector(0)", and(perRun("", lastIn(sel(mRunIncomplete, f...))), ended)), ""))}).
			Thresholds(thresholds("green", 0, "orange", 1))).
		WithPanel(statPanel(spec{title: "Groups with a failed push", unit: "short", w: 3, h: 4,
			desc: "Pushgateway groups (runs) whose last push was rejected: push_failure_time_seconds newer than push_time_seconds. Their metrics are missing or stale; see the PushgatewayPushFailed runbook.",
			targets: qs(instantQ("A", fmt.Sprintf("count(%s > %s) or vector(0)",
				sel(mPushFailureTime, mNS, lRunID+`!=""`), sel(mPushTime, mNS, lRunID+`!=""`)), ""))}).
			Thresholds(thresholds("green", 0, "red", 1))).
		WithRow(row("Pipelines")).
		WithPanel(tablePanel(spec{title: "Pipelines", unit: "short", w: 24, h: 8,
			desc: "Per pipeline, over the runs that ended in the time range (each run once): runs, success rate, failed runs, retries, p50 and p90 of the run duration across runs, and when the last run ended. Click a pipeline for its stages.",
			targets: qs(
				tableQ("A", count(runs)),
				tableQ("B", fmt.Sprintf("%s / %s", orZero(count(successRuns), by, runs), count(runs))),
				tableQ("C", orZero(count(failedRuns), by, runs)),
				tableQ("D", fmt.Sprintf("sum by (%s) (%s)", by, and(perRun(by, lastIn(sel(mRunRetries, f...))), ended))),
				tableQ("E", fmt.Sprintf("quantile by (%s) (0.5, %s)", by, durationRuns)),
				tableQ("F", fmt.Sprintf("quantile by (%s) (0.9, %s)", by, durationRuns)),
				tableQ("G", fmt.Sprintf("max by (%s) (%s) * 1000", by, runs)),
			)},
			[]column{{"A", "Runs", "short"}, {"B", "Success rate", "percentunit"}, {"C", "Failed", "short"}, {"D", "Retries", "short"},
				{"E", "Duration p50", "s"}, {"F", "Duration p90", "s"}, {"G", "Last run ended", "dateTimeFromNow"}},
			nil, map[string][]dashboard.DashboardLink{lPipeline: links(stagesLink(false))}, "Runs", true)).
		WithRow(row("Across runs")).
		WithPanel(barsPanel(spec{title: "Runs by result", unit: "short", w: 12, h: 8,
			desc: "Runs that ended in each interval, by result; each run is counted once, at its end time (pipeline_run_end_timestamp_seconds), however long its group stays in the Pushgateway.",
			targets: qs(rangeQ("A", fmt.Sprintf("count by (%s) (%s)", lResult,
				and(perRun(lResult, lastAtEnd(sel(mRunResult, f...)))+" == 1", inStep)), "{{"+lResult+"}}"))}).
			Overrides(resultColorOverrides())).
		WithPanel(timeseriesPanel(spec{title: "Success rate, rolling ${window:text}", unit: "percentunit", w: 12, h: 8,
			desc: "At each time t, the share of successful runs among the runs that ended in the window before t (the Percentile window variable), per pipeline.",
			targets: qs(rangeQ("A", fmt.Sprintf("%s / %s",
				orZero(count(and(perRun(by, lastAtEnd(success))+" == 1", inWindow)), by, windowRuns), count(windowRuns)),
				legendOf(lPipeline)+" ("+legendOf(lNS)+")"))}).Min(0).Max(1)).
		WithPanel(timeseriesPanel(spec{title: "Run duration p50 / p90, rolling ${window:text}", unit: "s", w: 12, h: 8,
			desc: "At each time t, the p50 and p90 of the durations of the runs that ended in the window before t, across runs (quantile over one value per run), per pipeline.",
			targets: qs(
				rangeQ("A", fmt.Sprintf("quantile by (%s) (0.5, %s)", by, and(perRun(by, lastAtEnd(duration)), inWindow)), legendOf(lPipeline)+" p50"),
				rangeQ("B", fmt.Sprintf("quantile by (%s) (0.9, %s)", by, and(perRun(by, lastAtEnd(duration)), inWindow)), legendOf(lPipeline)+" p90"),
			)})).
		WithPanel(runPoints(spec{title: "Run duration, one point per run", unit: "s", w: 12, h: 8,
			desc:    "Each run's duration at its end time (the longest, when several runs of a pipeline ended in the same interval).",
			targets: qs(rangeQ("A", fmt.Sprintf("max by (%s) (%s)", by, and(perRun(by, lastAtEnd(duration)), inStep)), legendOf(lPipeline)+" ("+legendOf(lNS)+")"))})).
		WithRow(row("Failed runs")).
		WithPanel(tablePanel(spec{title: "Recent failed runs", unit: "short", w: 24, h: 9,
			desc:    "Runs that ended in the time range with result failure, error or timeout, with the step that failed and its stage (a step, or fan-out item, whose attempts all failed; a retried step that finally succeeded is not listed). Click the workflow to open it in the Argo UI, the pipeline for the run's stages.",
			targets: qs(tableQ("A", recentFailed))},
			[]column{{"A", "Ended", "dateTimeAsIso"}},
			nil, map[string][]dashboard.DashboardLink{lWorkflow: links(argoRunLink()), lPipeline: links(stagesLink(true))}, "Ended", true, lRunID)).
		Build()
}

// resultColorOverrides color series named by a result value.
func resultColorOverrides() []cog.Builder[dashboard.DashboardFieldConfigSourceOverrides] {
	var out []cog.Builder[dashboard.DashboardFieldConfigSourceOverrides]
	for _, rc := range resultColors {
		out = append(out, dashboard.NewDashboardFieldConfigSourceOverridesBuilder().
			Matcher(dashboard.MatcherConfig{Id: "byName", Options: rc.result}).
			Properties([]dashboard.DynamicConfigValue{fixedColor(rc.color)}))
	}
	return out
}

func thresholds(colorValues ...any) *dashboard.ThresholdsConfigBuilder {
	var steps []dashboard.Threshold
	for i := 0; i+1 < len(colorValues); i += 2 {
		st := dashboard.Threshold{Color: colorValues[i].(string)}
		if i > 0 {
			st.Value = ptr(toFloat(colorValues[i+1]))
		}
		steps = append(steps, st)
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("threshold %v", v))
}
