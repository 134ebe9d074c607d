package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Tag is on every dashboard; the dashboards link to each other through it.
const Tag = "step-metrics"

var tags = []string{Tag, "argo-workflows", "pipelines"}

func ptr[T any](v T) *T { return &v }

func str(s string) dashboard.StringOrMap { return dashboard.StringOrMap{String: &s} }

// ds is the data source of every panel and query: the datasource variable.
var ds = common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr("${datasource}")}

// Queries.

func rangeQ(ref, expr, legend string) cog.Builder[variants.Dataquery] {
	q := prometheus.NewDataqueryBuilder().RefId(ref).Expr(expr).Range().Datasource(ds)
	if legend != "" {
		q.LegendFormat(legend)
	}
	return q
}

func instantQ(ref, expr, legend string) cog.Builder[variants.Dataquery] {
	q := prometheus.NewDataqueryBuilder().RefId(ref).Expr(expr).Instant().Datasource(ds)
	if legend != "" {
		q.LegendFormat(legend)
	}
	return q
}

func tableQ(ref, expr string) cog.Builder[variants.Dataquery] {
	return prometheus.NewDataqueryBuilder().RefId(ref).Expr(expr).Instant().Format(prometheus.PromQueryFormatTable).Datasource(ds)
}

// Variables.

func datasourceVar() cog.Builder[dashboard.VariableModel] {
	return dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus").
		Description("The Prometheus that scrapes the Pushgateway (with honor_labels: true).")
}

func namespaceVar() cog.Builder[dashboard.VariableModel] {
	return dashboard.NewQueryVariableBuilder("namespace").Label("Namespace").
		Description("Kubernetes namespaces of the runs (a grouping label of each run's Pushgateway group).").
		Query(str("label_values(" + mRunResult + ", " + lNS + ")")).Datasource(ds).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).AllValue(".*")
}

func pipelineVar(multi bool) cog.Builder[dashboard.VariableModel] {
	v := dashboard.NewQueryVariableBuilder("pipeline").Label("Pipeline").
		Description("The pipeline label: the WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow a run comes from, else its generateName stem.").
		Query(str("label_values(" + sel(mRunResult, mNS) + ", " + lPipeline + ")")).Datasource(ds).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc)
	if multi {
		v.Multi(true).IncludeAll(true).AllValue(".*")
	}
	return v
}

// runRegex turns query_result lines ({workflow="x",workflow_id="y"} v t)
// into options: the Workflow's name as text, its UID as value.
const runRegex = `/` + lWorkflow + `="(?<text>[^"]+)",` + lRunID + `="(?<value>[^"]+)"/`

func runVar() cog.Builder[dashboard.VariableModel] {
	return dashboard.NewQueryVariableBuilder("run").Label("Run").
		Description("One run (Workflow) of the pipeline, newest first; its value is the run's workflow_id (the Workflow's UID).").
		Query(str("query_result(sort_desc(max by (" + list(lWorkflow, lRunID) + ") (" + lastIn(sel(mRunStart, mNS, mPipeline)) + ")))")).
		Datasource(ds).Regex(runRegex).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortDisabled)
}

func stepVar(selector string) cog.Builder[dashboard.VariableModel] {
	return dashboard.NewQueryVariableBuilder("step").Label("Step").
		Description("Steps of the pipeline: the display name of each step (each fan-out item its own); all attempts of a retried step share it.").
		Query(str("label_values(" + selector + ", " + lStep + ")")).Datasource(ds).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).AllValue(".*")
}

func stageVar(selector string) cog.Builder[dashboard.VariableModel] {
	return dashboard.NewQueryVariableBuilder("stage").Label("Stage").
		Description("Stages of the pipeline: a step's name, or the name shared by all the items of a fan-out (train for train(0:lr-0.01), train(1:lr-0.001)...); listed once they have finished in a run.").
		Query(str("label_values(" + selector + ", " + lStage + ")")).Datasource(ds).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).AllValue(".*")
}

// Windows of the rolling percentiles, in seconds.
var windows = []struct{ text, seconds string }{
	{"6h", "21600"}, {"1d", "86400"}, {"7d", "604800"}, {"30d", "2592000"},
}

const defaultWindow = 1 // 1d

func windowVar() cog.Builder[dashboard.VariableModel] {
	q := ""
	var opts []dashboard.VariableOption
	for i, w := range windows {
		if i > 0 {
			q += ","
		}
		q += w.text + " : " + w.seconds
		opts = append(opts, dashboard.VariableOption{Selected: ptr(i == defaultWindow),
			Text: dashboard.StringOrArrayOfString{String: ptr(w.text)}, Value: dashboard.StringOrArrayOfString{String: ptr(w.seconds)}})
	}
	d := windows[defaultWindow]
	return dashboard.NewCustomVariableBuilder("window").Label("Percentile window").
		Description("Rolling percentiles at time t are taken across the runs that ended in the window before t.").
		Values(str(q)).Options(opts).
		Current(dashboard.VariableOption{Selected: ptr(true), Text: dashboard.StringOrArrayOfString{String: ptr(d.text)}, Value: dashboard.StringOrArrayOfString{String: ptr(d.seconds)}})
}

// DefaultArgoURL is the argo_url variable's default: Argo Server's own
// port-forward address.
const DefaultArgoURL = "http://localhost:2746"

func argoURLVar() cog.Builder[dashboard.VariableModel] {
	return dashboard.NewTextBoxVariableBuilder("argo_url").Label("Argo UI").
		Description("Base URL of the Argo Workflows UI; links open ${argo_url}/workflows/<namespace>/<workflow>.").
		DefaultValue(str(DefaultArgoURL)).
		Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: ptr(DefaultArgoURL)}, Value: dashboard.StringOrArrayOfString{String: ptr(DefaultArgoURL)}})
}

// Links.

func dashboardLinks() []cog.Builder[dashboard.DashboardLink] {
	return []cog.Builder[dashboard.DashboardLink]{
		dashboard.NewDashboardLinkBuilder("Step metrics").Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{Tag}).AsDropdown(false).IncludeVars(true).KeepTime(true).
			Tooltip("The other step-metrics dashboards, with the same variables and time range"),
		dashboard.NewDashboardLinkBuilder("Argo UI").Type(dashboard.DashboardLinkTypeLink).
			Url("${argo_url}/workflows").Icon("external link").TargetBlank(true).
			Tooltip("The Argo Workflows UI (set its base URL in the Argo UI variable)"),
	}
}

// argoRunLink opens a table row's run in the Argo UI; the row needs the
// namespace and workflow columns.
func argoRunLink() dashboard.DashboardLink {
	return dashboard.DashboardLink{Title: "Open " + field(lWorkflow) + " in the Argo UI", Type: dashboard.DashboardLinkTypeLink,
		Url: ptr("${argo_url}/workflows/" + field(lNS) + "/" + field(lWorkflow)), TargetBlank: true, Tags: []string{}}
}

// stagesLink opens the pipeline stages dashboard for a table row's
// pipeline (and run, when the row has a workflow_id column).
func stagesLink(withRun bool) dashboard.DashboardLink {
	u := "/d/" + StagesUID + "?${datasource:queryparam}&var-namespace=" + field(lNS) + "&var-pipeline=" + field(lPipeline)
	title := "Stages of " + field(lPipeline)
	if withRun {
		u += "&var-run=" + field(lRunID)
		title = "Stages of " + field(lPipeline) + ", run " + field(lWorkflow)
	}
	u += "&${argo_url:queryparam}&${__url_time_range}"
	return dashboard.DashboardLink{Title: title, Type: dashboard.DashboardLinkTypeLink, Url: &u, Tags: []string{}}
}

func links(l ...dashboard.DashboardLink) []dashboard.DashboardLink { return l }

// Panels.

type spec struct {
	title, desc, unit string
	w, h              uint32
	targets           []cog.Builder[variants.Dataquery]
}

func (s spec) queries() []cog.Builder[variants.Dataquery] { return s.targets }

func timeseriesPanel(s spec) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Title(s.title).Description(s.desc).Unit(s.unit).
		Datasource(ds).Targets(s.queries()).Span(s.w).Height(s.h).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom).ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
}

// runPoints draws one point per run at its end time, joined across runs.
func runPoints(s spec) *timeseries.PanelBuilder {
	return timeseriesPanel(s).DrawStyle(common.GraphDrawStyleLine).ShowPoints(common.VisibilityModeAlways).PointSize(6).
		LineWidth(1).SpanNulls(common.BoolOrFloat64{Bool: ptr(true)}).FillOpacity(0)
}

func barsPanel(s spec) *timeseries.PanelBuilder {
	return timeseriesPanel(s).DrawStyle(common.GraphDrawStyleBars).FillOpacity(80).LineWidth(1).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))
}

func statPanel(s spec) *stat.PanelBuilder {
	return stat.NewPanelBuilder().Title(s.title).Description(s.desc).Unit(s.unit).
		Datasource(ds).Targets(s.queries()).Span(s.w).Height(s.h).
		GraphMode(common.BigValueGraphModeNone).ColorMode(common.BigValueColorModeValue).Orientation(common.VizOrientationAuto).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false))
}

func barGaugePanel(s spec) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().Title(s.title).Description(s.desc).Unit(s.unit).
		Datasource(ds).Targets(s.queries()).Span(s.w).Height(s.h).
		Orientation(common.VizOrientationHorizontal).DisplayMode(common.BarGaugeDisplayModeGradient).
		ValueMode(common.BarGaugeValueModeText).ShowUnfilled(true).Min(0).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false))
}

// column describes a value column of a table: the query's refId, its header
// and unit.
type column struct {
	ref, header, unit string
}

// resultColors are the colors of the result values (the OpenTelemetry CI/CD
// results), for series named by result.
var resultColors = []struct{ result, color string }{
	{"success", "green"}, {"failure", "red"}, {"error", "orange"}, {"timeout", "purple"}, {"cancellation", "blue"}, {"skip", "text"},
}

func fixedColor(color string) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": color}}
}

// hiddenColumn hides a table column that data links still use.
var hiddenColumn = dashboard.DynamicConfigValue{Id: "custom.hidden", Value: true}

// tablePanel shows instant table queries merged into one row per label set.
// hide lists label columns not to show (linkOnly: columns the data links
// use, hidden but kept); the value columns are named by columns; links
// attach data links to label columns.
func tablePanel(s spec, cols []column, hide []string, colLinks map[string][]dashboard.DashboardLink, sortBy string, desc bool, linkOnly ...string) *table.PanelBuilder {
	p := table.NewPanelBuilder().Title(s.title).Description(s.desc).Unit(s.unit).
		Datasource(ds).Targets(s.queries()).Span(s.w).Height(s.h).
		CellHeight(common.TableCellHeightSm).Filterable(true).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}))
	exclude := map[string]any{"Time": true}
	for _, h := range hide {
		exclude[h] = true
	}
	if len(cols) > 1 {
		p.WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}})
	}
	p.WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{"excludeByName": exclude}})
	for _, c := range cols {
		name := "Value #" + c.ref
		if len(cols) == 1 {
			name = "Value"
		}
		props := []dashboard.DynamicConfigValue{{Id: "displayName", Value: c.header}}
		if c.unit != "" {
			props = append(props, dashboard.DynamicConfigValue{Id: "unit", Value: c.unit})
		}
		p.OverrideByName(name, props)
	}
	for _, name := range sortedKeys(colLinks) {
		p.OverrideByName(name, []dashboard.DynamicConfigValue{{Id: "links", Value: colLinks[name]}})
	}
	for _, name := range linkOnly {
		p.OverrideByName(name, []dashboard.DynamicConfigValue{hiddenColumn})
	}
	if sortBy != "" {
		p.SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName(sortBy).Desc(desc)})
	}
	return p
}

func row(title string) *dashboard.RowBuilder { return dashboard.NewRowBuilder(title) }
