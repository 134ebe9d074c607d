package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// anyCustom matches every metric steps publish.
const anyCustom = `__name__=~"` + CustomPrefix + `.+"`

// runIdentity are the labels that tell runs (and a step's node and attempt)
// apart; dropping them keeps namespace, pipeline, step and the user's and
// the step's own labels. Attempts of a retried step are folded by max.
var runIdentity = list(lJob, lInstance, lEngine, lWorkflow, lRunID, lNodeID, lAttempt, lTemplate)

// MLStepMetrics is the ML step metrics dashboard: the metrics steps publish
// through their step-metrics output (pushed as pipeline_custom_<name> in the
// run's group: accuracy, training time, samples per second...) across runs,
// by pipeline and step.
func MLStepMetrics() (dashboard.Dashboard, error) {
	f := []string{mNS, mPipeline}
	fm := with(f, mMetric, mStep)
	ended := endedInRange(f...)
	// One value per run (and step and user labels): workflow_id kept.
	perRunValue := fmt.Sprintf("max without (%s) (%s)", list(lJob, lInstance, lEngine, lWorkflow, lNodeID, lAttempt, lTemplate), lastIn(sel("", fm...)))
	runs := and(perRunValue, ended)
	across := func(agg string) string { return fmt.Sprintf("%s without (%s) (%s)", agg, lRunID, runs) }

	return dashboard.NewDashboardBuilder("ML step metrics").
		Uid(MLUID).
		Description("step-metrics: the metrics the steps of ML pipelines publish about themselves through their step-metrics output (pushed as the gauge pipeline_custom_<name> in the run's group), across runs, by pipeline and step.").
		Tags(tags).Editable().Time("now-30d", "now").Refresh("5m").Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Links(dashboardLinks()).
		WithVariable(datasourceVar()).
		WithVariable(namespaceVar()).
		WithVariable(pipelineVar(true)).
		WithVariable(stepVar(sel("", anyCustom, mNS, mPipeline))).
		WithVariable(dashboard.NewQueryVariableBuilder("metric").Label("Metric").
			Description("Metrics the steps publish (pipeline_custom_<name>); each gets its own row of panels.").
			Query(str("label_values(" + sel("", anyCustom, mNS, mPipeline) + ", __name__)")).Datasource(ds).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).IncludeAll(true)).
		WithVariable(runVar()).
		WithVariable(argoURLVar()).
		WithRow(row("Run ${run:text}")).
		WithPanel(tablePanel(spec{title: "Metrics of run ${run:text}", unit: "short", w: 24, h: 7,
			desc:    "Every metric the steps of the chosen run published (pipeline_custom_*), with their labels, while the run's group is in the Pushgateway.",
			targets: qs(tableQ("A", sel("", anyCustom, mRun)))},
			[]column{{"A", "Value", "short"}}, []string{lJob, lInstance, lEngine, lRunID, lNodeID},
			map[string][]dashboard.DashboardLink{lWorkflow: links(argoRunLink())}, "", false)).
		WithRow(row("$metric").Repeat("metric")).
		WithPanel(runPoints(spec{title: "$metric across runs", unit: "short", w: 12, h: 9,
			desc: "The metric's value in each run, drawn at the run's end time, one line per pipeline, step and the step's own labels (the largest over a retried step's attempts).",
			targets: qs(rangeQ("A", fmt.Sprintf("max without (%s) (%s)", runIdentity,
				and(lastAtEnd(sel("", fm...)), endedInStep(f...))), ""))})).
		WithPanel(tablePanel(spec{title: "$metric across runs: min, p50, p90, max", unit: "short", w: 12, h: 9,
			desc: "Across the runs that ended in the time range (one value per run), per pipeline, step and the step's own labels: runs, min, p50, p90 and max.",
			targets: qs(
				tableQ("A", across("count")),
				tableQ("B", across("min")),
				tableQ("C", fmt.Sprintf("quantile without (%s) (0.5, %s)", lRunID, runs)),
				tableQ("D", fmt.Sprintf("quantile without (%s) (0.9, %s)", lRunID, runs)),
				tableQ("E", across("max")),
			)},
			[]column{{"A", "Runs", "short"}, {"B", "Min", "short"}, {"C", "p50", "short"}, {"D", "p90", "short"}, {"E", "Max", "short"}},
			nil, nil, "Runs", true)).
		WithPanel(tablePanel(spec{title: "$metric by run", unit: "short", w: 24, h: 8,
			desc:    "The metric's value in each run that ended in the time range. Click the workflow to open it in the Argo UI, the pipeline for the run's stages.",
			targets: qs(tableQ("A", and(fmt.Sprintf("max without (%s) (%s)", list(lJob, lInstance, lEngine, lNodeID, lAttempt, lTemplate), lastIn(sel("", fm...))), ended)))},
			[]column{{"A", "Value", "short"}}, nil,
			map[string][]dashboard.DashboardLink{lWorkflow: links(argoRunLink()), lPipeline: links(stagesLink(true))}, "Value", true, lRunID)).
		Build()
}
