package dashboards

// The end-to-end test: the real step-metrics binary pushes real runs (every
// Argo fixture plus synthetic runs with failures, retries, a fan-out, a
// suspend, --steps template, a run whose Workflow the exit handler may not
// read) and custom step metrics to a real Pushgateway,
// a real Prometheus scrapes it with honor_labels: true and evaluates the
// alert rules, and every panel query, variable query and rule expression of
// the committed files runs through Prometheus's HTTP API with the dashboard
// variables substituted as Grafana does. Each must return data of the
// expected shape; key panels are checked value by value against what the
// synthetic runs imply.

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

// The time range and interval the dashboards are rendered with.
const (
	e2eRange    = 48 * time.Hour
	e2eInterval = 5 * time.Minute
)

// buildStepMetrics builds the real binary, as cmd/step-metrics's end-to-end
// test does.
func buildStepMetrics(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "step-metrics")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=e2e-test", "-o", bin, "../../cmd/step-metrics")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build step-metrics: %v\n%s", err, out)
	}
	return bin
}

func runBinary(t *testing.T, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("step-metrics %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
}

// incompleteRun is the run the end-to-end test's exit handler may not read:
// pipeline "gaps" (guessed from the name), succeeded by its arguments.
var incompleteRun = struct{ name, namespace, uid, pipeline string }{"gaps-x7k2p", "gaps", "gaps-uid-1", "gaps"}

// forbiddenAPI is a kube-apiserver that refuses every request (403, as
// for a ServiceAccount without the Role), and returns a kubeconfig for it.
func forbiddenAPI(t *testing.T) string {
	t.Helper()
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,`+
			`"message":"workflows.argoproj.io is forbidden: User \"system:serviceaccount:gaps:trainer\" cannot get resource \"workflows\""}`)
	}))
	t.Cleanup(ts.Close)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	err := os.WriteFile(kc, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, ts.URL)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// post POSTs an exposition to a run's group: POST merges the metric
// families into the group, where the exit handler's PUT replaces it.
func post(t *testing.T, pg *testenv.Pushgateway, r *synthRun, body string) int {
	t.Helper()
	u := fmt.Sprintf("%s/metrics/job/step-metrics/namespace/%s/workflow_id/%s", pg.URL, r.namespace, r.uid)
	resp, err := pg.Client.Post(u, "text/plain; version=0.0.4", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The custom metrics the ml-train steps publish through their step-metrics
// output (see synthRuns), which the binary pushes as pipeline_custom_<name>
// with the run labels, step, template, node_id, attempt and the step's own
// labels.
func customAccuracy(i int, split string) float64 {
	if split == "test" {
		return 0.80 + 0.01*float64(i)
	}
	return 0.90 + 0.005*float64(i)
}

func customSamples(i, k int) float64 { return 1000 + 50*float64(i) + 10*float64(k) }

func customSeries(runs []*synthRun) (n int) {
	for _, r := range runs {
		for _, nd := range r.nodes {
			n += strings.Count(nd.metrics, "samples_per_second") + strings.Count(nd.metrics, "accuracy{")
		}
	}
	return n
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the end-to-end test builds the binary and runs Prometheus")
	}
	began := time.Now()
	bin := buildStepMetrics(t)
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	rules, err := filepath.Abs(filepath.Join(root, RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	prom := testenv.StartPrometheusWith(t, testenv.PrometheusOptions{Targets: []string{pg.Addr}, RuleFiles: []string{rules}})
	started := time.Now()

	// Push: the synthetic runs (with the custom metrics their steps publish),
	// every fixture, and a push the Pushgateway rejects.
	now := time.Now().Truncate(time.Second)
	runs := synthRuns(now)
	dir := t.TempDir()
	for _, r := range runs {
		f := filepath.Join(dir, r.name+".yaml")
		if err := os.WriteFile(f, []byte(r.yaml()), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"push", "-f", f, "--pushgateway", pg.URL, "--strict", "--label", "team=ml-platform"}
		if r.steps != "" {
			args = append(args, "--steps", r.steps)
		}
		runBinary(t, bin, args...)
	}
	fixtures, _ := filepath.Glob(filepath.Join(root, "testdata", "argo", "*.yaml"))
	if len(fixtures) < 15 {
		t.Fatalf("%d fixtures", len(fixtures))
	}
	for _, f := range fixtures {
		base := strings.TrimSuffix(filepath.Base(f), ".yaml")
		runBinary(t, bin, "push", "-f", f, "--namespace", "argo-fixtures", "--workflow-uid", "fixture-"+base, "--pushgateway", pg.URL, "--strict")
	}
	// A run whose exit handler may not read its Workflow (its ServiceAccount
	// lacks the Role): its outcome from the arguments, with
	// pipeline_run_metrics_incomplete{reason="forbidden"} and the handler's
	// time as its end.
	runBinary(t, bin, "push", "--hook", "--workflow", incompleteRun.name, "--namespace", incompleteRun.namespace, "--workflow-uid", incompleteRun.uid,
		"--status", "Succeeded", "--kubeconfig", forbiddenAPI(t), "--pushgateway", pg.URL)
	custom := customSeries(runs)
	// A push the Pushgateway rejects (a gauge pushed as a counter) leaves
	// push_failure_time_seconds newer than push_time_seconds in the group.
	rejected := runs[1]
	if code := post(t, pg, rejected, "# TYPE pipeline_run_duration_seconds counter\npipeline_run_duration_seconds 1\n"); code != http.StatusBadRequest {
		t.Fatalf("inconsistent push: HTTP %d, want 400", code)
	}
	pushed := time.Now()

	groups := len(runs) + len(fixtures) + 1
	prom.WaitFor(t, "count(push_time_seconds)", time.Minute, scalarIs(float64(groups)))
	prom.WaitFor(t, `count({__name__=~"pipeline_custom_.+"})`, time.Minute, scalarIs(float64(custom)))
	prom.WaitFor(t, "count(push_failure_time_seconds > push_time_seconds)", time.Minute, scalarIs(1))
	end := time.Now()
	scraped := end

	e := &e2e{t: t, prom: prom, runs: runs, end: end}
	if *previews {
		e.previews = map[string]*previewDash{}
	}
	nQueries := 0
	for _, d := range loadDashboards(t) {
		for i, sc := range e.scenarios(d) {
			t.Run(d.UID+"/"+sc.name, func(t *testing.T) {
				nQueries += e.render(t, d, sc, i == 0)
			})
		}
	}
	if e.previews != nil {
		e.writePreviews(t)
	}
	t.Run("rules", func(t *testing.T) { e.rules(t, loadRules(t)) })
	t.Logf("%d groups pushed (%d synthetic runs, %d fixtures), %d custom series; %d dashboard queries run; "+
		"build+start %v, push %v, scrape %v, queries and rules %v, total %v",
		groups, len(runs), len(fixtures), custom, nQueries,
		started.Sub(began).Round(time.Millisecond), pushed.Sub(started).Round(time.Millisecond),
		scraped.Sub(pushed).Round(time.Millisecond), time.Since(scraped).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

func scalarIs(want float64) func(*testenv.Result) bool {
	return func(r *testenv.Result) bool {
		return len(r.Series) == 1 && r.Series[0].Value != nil && r.Series[0].Value.V == want
	}
}

type e2e struct {
	t    *testing.T
	prom *testenv.Prometheus
	runs []*synthRun
	end  time.Time
	// previews collects the first scenario's results of each dashboard
	// (with -previews).
	previews map[string]*previewDash
}

func (e *e2e) run(pipeline string, i int) *synthRun {
	for _, r := range e.runs {
		if r.pipeline == pipeline {
			if i == 0 {
				return r
			}
			i--
		}
	}
	e.t.Fatalf("no run %d of %s", i, pipeline)
	return nil
}

func (e *e2e) pipelineRuns(pipeline string) []*synthRun {
	var out []*synthRun
	for _, r := range e.runs {
		if r.pipeline == pipeline {
			out = append(out, r)
		}
	}
	return out
}

// scenario is one choice of the dashboard variables, with the panel queries
// that may legitimately return nothing for it and the checks of values.
type scenario struct {
	name   string
	values map[string][]string
	texts  map[string]string
	// mayBeEmpty: "panel title/refId" -> why no data is right here.
	mayBeEmpty map[string]string
	// onlyErrors: run every query but require data only of mustHave.
	onlyErrors bool
	// noOptions: variables that may have no options (runs pushed with
	// --steps template have no step series).
	noOptions map[string]bool
	mustHave  []string
	checks    map[string]func(t *testing.T, r *testenv.Result)
}

const all = "$__all"

func (e *e2e) scenarios(d *gDashboard) []scenario {
	ml2, mlFailed := e.run("ml-train", mlRetryRun), e.run("ml-train", mlFailedRun)
	common := func(vals map[string][]string, texts map[string]string) (map[string][]string, map[string]string) {
		vals["datasource"] = []string{"prometheus"}
		vals["argo_url"] = []string{DefaultArgoURL}
		vals["window"] = []string{"86400"}
		texts["window"] = "1d"
		return vals, texts
	}
	switch d.UID {
	case OverviewUID:
		v1, t1 := common(map[string][]string{"namespace": {all}, "pipeline": {all}}, map[string]string{})
		v2, t2 := common(map[string][]string{"namespace": {"ml"}, "pipeline": {"ml-train"}}, map[string]string{})
		return []scenario{
			{name: "all", values: v1, texts: t1, checks: e.overviewChecks()},
			{name: "ml-train", values: v2, texts: t2, checks: e.overviewOneChecks()},
		}
	case StagesUID:
		v1, t1 := common(map[string][]string{"namespace": {all}, "pipeline": {"ml-train"}, "stage": {all}, "run": {ml2.uid}},
			map[string]string{"run": ml2.name})
		v2, t2 := common(map[string][]string{"namespace": {"ml"}, "pipeline": {"ml-train"}, "stage": {"train", "approve"}, "run": {mlFailed.uid}},
			map[string]string{"run": mlFailed.name})
		fan := e.run("batch-fanout", 1)
		v3, t3 := common(map[string][]string{"namespace": {"data"}, "pipeline": {"batch-fanout"}, "stage": {all}, "run": {fan.uid}},
			map[string]string{"run": fan.name})
		noTemplates := map[string]string{"Templates/A": "ml-train is pushed per step", "Templates/B": "", "Templates/C": "", "Templates/D": "", "Templates/E": ""}
		one := map[string]string{
			"Steps of the run/C":                     "no suspend step ran in the failed run",
			"Items, failures and retries by stage/D": "no run failed at train or approve (the failed run failed at evaluate)",
		}
		for k, v := range noTemplates {
			one[k] = v
		}
		// --steps template pushes no step series, but the stage families.
		const items = "Items, failures and retries by stage/"
		return []scenario{
			{name: "ml-train", values: v1, texts: t1, mayBeEmpty: noTemplates, checks: e.stagesChecks()},
			{name: "ml-train-failed-run", values: v2, texts: t2, mayBeEmpty: one, checks: e.stagesFailedRunChecks()},
			{name: "batch-fanout-templates", values: v3, texts: t3, onlyErrors: true,
				mustHave: []string{"Templates/A", "Templates/B", "Templates/C", "Templates/D", "Templates/E", "Result/A", "Duration/A", "Resources per run/A",
					"Stage wall time, one point per run/A", "Slowest stages/A", "Slowest stages/B", "Slowest stages/C", "Slowest stages/D", "Slowest stages/E",
					"Stage breakdown of the run/A", "Stage breakdown of the run/B", items + "A", items + "B", items + "C", "Failed items by stage/A", "CPU by stage/A"},
				checks: e.templateChecks()},
		}
	case MLUID:
		v1, t1 := common(map[string][]string{"namespace": {all}, "pipeline": {all}, "step": {all}, "metric": {all}, "run": {ml2.uid}},
			map[string]string{"run": ml2.name})
		v2, t2 := common(map[string][]string{"namespace": {"ml"}, "pipeline": {"ml-train"}, "step": {trainSteps[0], "evaluate"}, "metric": {all}, "run": {mlFailed.uid}},
			map[string]string{"run": mlFailed.name})
		return []scenario{
			{name: "all", values: v1, texts: t1, checks: e.mlChecks()},
			{name: "ml-train", values: v2, texts: t2, checks: e.mlOneChecks()},
		}
	}
	e.t.Fatalf("no scenarios for %s", d.UID)
	return nil
}

// repeatedPanels pairs each panel with the variable it is repeated by (its
// own repeat, or that of the row it follows).
func repeatedPanels(d *gDashboard) []struct {
	p      gPanel
	repeat string
} {
	var out []struct {
		p      gPanel
		repeat string
	}
	rowRepeat := ""
	for _, p := range d.Panels {
		if p.Type == "row" {
			rowRepeat = p.Repeat
			for _, c := range p.Panels {
				out = append(out, struct {
					p      gPanel
					repeat string
				}{c, firstNonEmpty(c.Repeat, p.Repeat)})
			}
			continue
		}
		out = append(out, struct {
			p      gPanel
			repeat string
		}{p, firstNonEmpty(p.Repeat, rowRepeat)})
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)

// variableOptions runs a query variable's query as Grafana does and returns
// its options (value -> text), in order.
func (e *e2e) variableOptions(t *testing.T, b *binding, v *gVar) (values, texts []string) {
	t.Helper()
	q, err := b.interpolate(v.queryString())
	if err != nil {
		t.Errorf("variable %s: %v", v.Name, err)
		return nil, nil
	}
	for _, err := range CheckPromQL(q) {
		t.Errorf("variable %s: %v", v.Name, err)
	}
	start := e.end.Add(-e2eRange)
	switch {
	case labelValuesRE.MatchString(q):
		m := labelValuesRE.FindStringSubmatch(q)
		vals, err := e.prom.LabelValues(m[2], []string{m[1]}, start, e.end)
		if err != nil {
			t.Errorf("variable %s: %s: %v", v.Name, q, err)
		}
		return vals, vals
	case strings.HasPrefix(q, "query_result(") && strings.HasSuffix(q, ")"):
		expr := strings.TrimSuffix(strings.TrimPrefix(q, "query_result("), ")")
		res, err := e.prom.Query(expr, e.end)
		if err != nil {
			t.Errorf("variable %s: %s: %v", v.Name, q, err)
			return nil, nil
		}
		re := regexp.MustCompile(strings.TrimSuffix(strings.TrimPrefix(v.Regex, "/"), "/"))
		for _, s := range res.Series {
			// Grafana's line: {label="value",...} value timestamp_ms.
			var parts []string
			for _, k := range sortedKeys(s.Metric) {
				if k != "__name__" {
					parts = append(parts, fmt.Sprintf("%s=%q", k, s.Metric[k]))
				}
			}
			line := fmt.Sprintf("%s{%s} %g %d", s.Metric["__name__"], strings.Join(parts, ","), s.Value.V, int64(s.Value.T*1000))
			m := re.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("variable %s: regex %s does not match %s", v.Name, v.Regex, line)
				continue
			}
			values = append(values, m[re.SubexpIndex("value")])
			texts = append(texts, m[re.SubexpIndex("text")])
		}
		return values, texts
	}
	t.Errorf("variable %s: query %q is neither label_values nor query_result", v.Name, q)
	return nil, nil
}

// render binds a scenario, checks the variables' options and runs every
// panel query; it returns how many queries ran.
func (e *e2e) render(t *testing.T, d *gDashboard, sc scenario, collect bool) int {
	b := newBinding(d)
	b.values, b.texts = sc.values, sc.texts
	for k, v := range map[string]string{
		"__range": fmt.Sprintf("%dh", int(e2eRange.Hours())), "__range_s": fmt.Sprint(int(e2eRange.Seconds())), "__range_ms": fmt.Sprint(e2eRange.Milliseconds()),
		"__interval": fmt.Sprintf("%dm", int(e2eInterval.Minutes())), "__interval_ms": fmt.Sprint(e2eInterval.Milliseconds()), "__rate_interval": "20m",
	} {
		b.builtins[k] = v
	}
	// Variables, in order: each one's options under the values chosen before
	// it; the scenario's choice must be among them.
	for i := range d.Templating.List {
		v := &d.Templating.List[i]
		if v.Type != "query" {
			continue
		}
		vals, texts := e.variableOptions(t, b, v)
		if len(vals) == 0 {
			if !sc.noOptions[v.Name] {
				t.Errorf("variable %s has no options", v.Name)
			}
			continue
		}
		b.options[v.Name] = vals
		for _, want := range sc.values[v.Name] {
			if want != all && !contains(vals, want) {
				t.Errorf("variable %s: %q is not among its options %v", v.Name, want, vals)
			}
		}
		if check := e.variableCheck(d.UID, sc.name, v.Name); check != nil {
			check(t, vals, texts)
		}
	}

	seen := map[string]bool{}
	n := 0
	for _, rp := range repeatedPanels(d) {
		p := rp.p
		reps := []string{""}
		if rp.repeat != "" {
			reps = b.options[rp.repeat]
			if sel := sc.values[rp.repeat]; len(sel) > 0 && sel[0] != all {
				reps = sel
			}
		}
		for repIndex, rep := range reps {
			pb := *b
			pb.values = map[string][]string{}
			for k, v := range b.values {
				pb.values[k] = v
			}
			title := p.Title
			if rp.repeat != "" {
				pb.values[rp.repeat] = []string{rep}
				title = strings.ReplaceAll(title, "$"+rp.repeat, rep)
			}
			results := map[string]*testenv.Result{}
			for _, tg := range p.Targets {
				n++
				key := p.Title + "/" + tg.RefID
				seen[key] = true
				res := e.query(t, &pb, title, tg)
				results[tg.RefID] = res
				if res == nil {
					continue
				}
				empty := len(res.Series) == 0
				_, allowed := sc.mayBeEmpty[key]
				switch {
				case empty && sc.onlyErrors && contains(sc.mustHave, key):
					t.Errorf("%s %s: no data\n%s", title, tg.RefID, tg.Expr)
				case empty && !sc.onlyErrors && !allowed:
					t.Errorf("%s %s: no data\n%s", title, tg.RefID, tg.Expr)
				case !empty && allowed && sc.mayBeEmpty[key] != "":
					t.Logf("%s %s: data although it may be empty (%s)", title, tg.RefID, sc.mayBeEmpty[key])
				}
				if check := sc.checks[key]; check != nil && !empty {
					check(t, res)
				}
				if check := sc.checks[key+"@"+rep]; check != nil {
					check(t, res)
				}
			}
			e.checkLinks(t, title, p, results)
			if collect && e.previews != nil {
				e.collectPreview(d, sc, &pb, p, rp.repeat, repIndex, title, results)
			}
		}
	}
	for k := range sc.checks {
		if !seen[strings.SplitN(k, "@", 2)[0]] {
			t.Errorf("check for %q names no panel query", k)
		}
	}
	for k := range sc.mayBeEmpty {
		if !seen[k] {
			t.Errorf("mayBeEmpty %q names no panel query", k)
		}
	}
	return n
}

var legendRE = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// query runs one panel query and checks its shape: no error or warning,
// finite values, the labels its legend and the panel's links name.
func (e *e2e) query(t *testing.T, b *binding, title string, tg gTarget) *testenv.Result {
	t.Helper()
	q, err := b.interpolate(tg.Expr)
	if err != nil {
		t.Errorf("%s %s: %v", title, tg.RefID, err)
		return nil
	}
	for _, err := range CheckPromQL(q) {
		t.Errorf("%s %s: %v", title, tg.RefID, err)
	}
	var res *testenv.Result
	if tg.Range {
		res, err = e.prom.QueryRange(q, e.end.Add(-e2eRange), e.end, e2eInterval)
	} else {
		res, err = e.prom.Query(q, e.end)
	}
	if err != nil {
		t.Errorf("%s %s: %v\n%s", title, tg.RefID, err, q)
		return nil
	}
	if len(res.Warnings) > 0 {
		t.Errorf("%s %s: warnings %v", title, tg.RefID, res.Warnings)
	}
	if !res.Finite() {
		t.Errorf("%s %s: NaN or infinite values: %+v", title, tg.RefID, res.Series)
	}
	for _, m := range legendRE.FindAllStringSubmatch(tg.LegendFormat, -1) {
		for _, s := range res.Series {
			if _, ok := s.Metric[m[1]]; !ok {
				t.Errorf("%s %s: legend {{%s}}, but the series %v lacks the label", title, tg.RefID, m[1], s.Metric)
				break
			}
		}
	}
	if testing.Verbose() {
		t.Logf("%-45s %s: %d series", title, tg.RefID, len(res.Series))
	}
	return res
}

var fieldRefRE = regexp.MustCompile(`\$\{__(data\.fields|field\.labels)\.(\w+)\}`)

// checkLinks: the fields and labels a panel's data links use are labels of
// its query results.
func (e *e2e) checkLinks(t *testing.T, title string, p gPanel, results map[string]*testenv.Result) {
	for _, l := range panelLinks(p) {
		for _, m := range fieldRefRE.FindAllStringSubmatch(l.URL+" "+l.Title, -1) {
			found, anySeries := false, false
			for _, r := range results {
				for _, s := range r.Series {
					anySeries = true
					if _, ok := s.Metric[m[2]]; ok {
						found = true
					}
				}
			}
			if anySeries && !found {
				t.Errorf("%s: link %q uses %s, a label no result has", title, l.URL, m[0])
			}
		}
	}
}

// Value helpers.

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

// byLabel maps each series of an instant result by the values of labels.
func byLabel(r *testenv.Result, labels ...string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range r.Series {
		var k []string
		for _, l := range labels {
			k = append(k, s.Metric[l])
		}
		out[strings.Join(k, "/")] = s.Value.V
	}
	return out
}

func wantValues(t *testing.T, what string, got map[string]float64, want map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
		return
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !approx(g, w) {
			t.Errorf("%s[%s] = %v, want %v (all: %v)", what, k, got[k], w, got)
		}
	}
}

func single(t *testing.T, what string, r *testenv.Result, want float64) {
	t.Helper()
	if len(r.Series) != 1 || r.Series[0].Value == nil || !approx(r.Series[0].Value.V, want) {
		var got []string
		for _, s := range r.Series {
			if s.Value != nil {
				got = append(got, fmt.Sprintf("%v %g", s.Metric, s.Value.V))
			}
		}
		t.Errorf("%s = %v, want the single value %v", what, got, want)
	}
}

// stepOf is the step of a range query at which a run that ended at end is
// drawn: the first step t >= end (t - interval < end <= t).
func (e *e2e) stepOf(end time.Time) float64 {
	start := e.end.Add(-e2eRange)
	k := math.Ceil(end.Sub(start).Seconds() / e2eInterval.Seconds())
	return float64(start.Unix()) + float64(start.Nanosecond())/1e9 + k*e2eInterval.Seconds()
}

// points returns a range series' samples by time (rounded to ms).
func points(s testenv.PromSeries) map[int64]float64 {
	out := map[int64]float64{}
	for _, p := range s.Values {
		out[int64(math.Round(p.T*1000))] = p.V
	}
	return out
}

func (e *e2e) wantRunPoints(t *testing.T, what string, s testenv.PromSeries, runs []*synthRun, value func(*synthRun) float64) {
	t.Helper()
	want := map[int64]float64{}
	for _, r := range runs {
		want[int64(math.Round(e.stepOf(r.end)*1000))] = value(r)
	}
	got := points(s)
	if len(got) != len(want) {
		t.Errorf("%s: %d points, want %d (one per run): %v", what, len(got), len(want), got)
	}
	for ts, w := range want {
		if g, ok := got[ts]; !ok || !approx(g, w) {
			t.Errorf("%s: at %s got %v (present %v), want %v", what, time.UnixMilli(ts).UTC().Format(time.RFC3339), g, ok, w)
		}
	}
}

func seriesWith(r *testenv.Result, label, value string) *testenv.PromSeries {
	for i := range r.Series {
		if r.Series[i].Metric[label] == value {
			return &r.Series[i]
		}
	}
	return nil
}

func durations(runs []*synthRun) []float64 {
	var out []float64
	for _, r := range runs {
		out = append(out, r.duration().Seconds())
	}
	return out
}

func (e *e2e) inRange(runs []*synthRun) []*synthRun {
	var out []*synthRun
	for _, r := range runs {
		if r.end.After(e.end.Add(-e2eRange)) {
			out = append(out, r)
		}
	}
	return out
}

// variableCheck checks a variable's options where the test data fixes them.
func (e *e2e) variableCheck(uid, scenario, name string) func(t *testing.T, vals, texts []string) {
	switch {
	case name == "namespace":
		return func(t *testing.T, vals, _ []string) {
			for _, want := range []string{"ml", "data", "argo-fixtures", incompleteRun.namespace} {
				if !contains(vals, want) {
					t.Errorf("namespace options %v lack %s", vals, want)
				}
			}
		}
	case name == "pipeline" && uid == OverviewUID && scenario == "all":
		return func(t *testing.T, vals, _ []string) {
			for _, want := range []string{"ml-train", "nightly-etl", "batch-fanout"} {
				if !contains(vals, want) {
					t.Errorf("pipeline options %v lack %s", vals, want)
				}
			}
		}
	case name == "run":
		// The runs of the chosen pipelines (fixtures too, when all are
		// chosen: a run is listed while its group is in Prometheus),
		// the latest started first, named by their Workflow.
		return func(t *testing.T, vals, texts []string) {
			var want, wantTexts []string
			for _, r := range e.runs {
				if scenario == "all" || r.pipeline == map[bool]string{true: "batch-fanout", false: "ml-train"}[scenario == "batch-fanout-templates"] {
					want = append(want, r.uid)
				}
			}
			starts := map[string]*synthRun{}
			for _, r := range e.runs {
				starts[r.uid] = r
			}
			sort.SliceStable(want, func(i, j int) bool { return starts[want[i]].start.After(starts[want[j]].start) })
			for _, u := range want {
				wantTexts = append(wantTexts, starts[u].name)
			}
			if len(vals) < len(want) || strings.Join(vals[:len(want)], ",") != strings.Join(want, ",") || strings.Join(texts[:len(want)], ",") != strings.Join(wantTexts, ",") {
				t.Errorf("run options %v (%v), want %v (%v) first", vals, texts, want, wantTexts)
			}
			if scenario != "all" && len(vals) != len(want) {
				t.Errorf("run options %v: want only %v", vals, want)
			}
		}
	case name == "stage" && uid == StagesUID:
		// The stages that finished in a run: a fan-out's items are one.
		return func(t *testing.T, vals, _ []string) {
			want := []string{"fetch-data", "preprocess", "train", "evaluate", "approve", "register-model"}
			if scenario == "batch-fanout-templates" {
				want = []string{"prepare", "shard", "merge"}
			}
			sort.Strings(want)
			got := append([]string(nil), vals...)
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("stage options %v, want %v", got, want)
			}
		}
	case name == "metric":
		return func(t *testing.T, vals, _ []string) {
			if strings.Join(vals, ",") != "pipeline_custom_accuracy,pipeline_custom_samples_per_second" {
				t.Errorf("metric options %v", vals)
			}
		}
	}
	return nil
}
