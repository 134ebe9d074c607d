package dashboards

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

var update = flag.Bool("update", false, "rewrite the generated dashboards and PrometheusRule")

const root = "../.."

// TestGenerated regenerates every generated file and fails on any
// difference with the committed one; -update rewrites them.
func TestGenerated(t *testing.T) {
	files, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := Write(root); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range sortedKeys(files) {
		got, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Errorf("%s: %v (run: go generate ./internal/dashboards)", p, err)
			continue
		}
		if !bytes.Equal(got, files[p]) {
			t.Errorf("%s differs from what the generator writes; run `go generate ./internal/dashboards` (or go test ./internal/dashboards -update) and review the diff:\n%s",
				p, firstDiff(string(got), string(files[p])))
		}
	}
	// No stale dashboard the generator no longer writes.
	committed, _ := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	if len(committed) != len(Files) {
		t.Errorf("dashboards/ holds %d JSON files, the generator writes %d", len(committed), len(Files))
	}
	// Generating twice gives the same bytes.
	again, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for p := range files {
		if !bytes.Equal(files[p], again[p]) {
			t.Errorf("%s: generation is not deterministic", p)
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n- " + x + "\n+ " + y
		}
	}
	return ""
}

// TestDashboardsDecodeStrictly: Grafana's own schema (the SDK's strict
// decoder, generated from it) accepts every committed dashboard.
func TestDashboardsDecodeStrictly(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for _, f := range Files {
		b, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard.Dashboard
		if err := d.UnmarshalJSONStrict(b); err != nil {
			t.Errorf("%s: %v", f.Path, err)
		}
	}
}

// TestDashboardConventions checks what a team relies on: fixed uids, tags,
// a datasource variable every query uses, the variables, links between the
// dashboards and to the Argo UI, a unit and a description on every panel.
func TestDashboardConventions(t *testing.T) {
	uids := map[string]bool{OverviewUID: true, StagesUID: true, MLUID: true}
	wantVars := map[string][]string{
		OverviewUID: {"datasource", "namespace", "pipeline", "window", "argo_url"},
		StagesUID:   {"datasource", "namespace", "pipeline", "run", "stage", "argo_url"},
		MLUID:       {"datasource", "namespace", "pipeline", "step", "metric", "run", "argo_url"},
	}
	panels, targets := 0, 0
	for _, d := range loadDashboards(t) {
		t.Run(d.UID, func(t *testing.T) {
			if string(d.Raw["id"]) != "null" {
				t.Errorf("id = %s, want null", d.Raw["id"])
			}
			if !uids[d.UID] {
				t.Errorf("uid %q is not one of the fixed uids", d.UID)
			}
			delete(uids, d.UID)
			if !contains(d.Tags, Tag) {
				t.Errorf("tags %v lack %q", d.Tags, Tag)
			}
			var names []string
			for _, v := range d.Templating.List {
				names = append(names, v.Name)
			}
			if strings.Join(names, ",") != strings.Join(wantVars[d.UID], ",") {
				t.Errorf("variables %v, want %v", names, wantVars[d.UID])
			}
			if v := d.variable("datasource"); v == nil || v.Type != "datasource" || v.queryString() != "prometheus" {
				t.Errorf("datasource variable = %+v, want type datasource, query prometheus", v)
			}
			for _, v := range d.Templating.List {
				if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
					t.Errorf("variable %s does not query ${datasource}", v.Name)
				}
			}
			if v := d.variable("argo_url"); v == nil || v.Type != "textbox" || v.queryString() == "" {
				t.Errorf("argo_url variable = %+v, want a textbox with a default", v)
			}
			if v := d.variable("run"); v != nil {
				if v.Regex != runRegex || !strings.HasPrefix(v.queryString(), "query_result(") {
					t.Errorf("run variable = %+v", v)
				}
			}
			var dashLink, argoLink bool
			for _, l := range d.Links {
				if l.Type == "dashboards" && contains(l.Tags, Tag) && l.IncludeVars && l.KeepTime {
					dashLink = true
				}
				if l.Type == "link" && strings.HasPrefix(l.URL, "${argo_url}") {
					argoLink = true
				}
			}
			if !dashLink || !argoLink {
				t.Errorf("links %+v: want the tagged dashboards (with variables and time) and the Argo UI", d.Links)
			}
			ids := map[int]bool{}
			var argoDataLink bool
			for _, p := range d.allPanels() {
				panels++
				if ids[p.ID] || p.ID == 0 {
					t.Errorf("panel %q: id %d missing or repeated", p.Title, p.ID)
				}
				ids[p.ID] = true
				if p.Description == "" {
					t.Errorf("panel %q has no description", p.Title)
				}
				if p.FieldConfig.Defaults.Unit == "" {
					t.Errorf("panel %q has no unit", p.Title)
				}
				if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
					t.Errorf("panel %q: datasource %+v, want ${datasource}", p.Title, p.Datasource)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
				for _, tg := range p.Targets {
					targets++
					if tg.Expr == "" || tg.RefID == "" || tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
						t.Errorf("panel %q: query %+v", p.Title, tg)
					}
					if tg.Instant == tg.Range {
						t.Errorf("panel %q query %s: instant=%v range=%v, want exactly one", p.Title, tg.RefID, tg.Instant, tg.Range)
					}
					if p.Type == "timeseries" && !tg.Range || p.Type != "timeseries" && !tg.Instant {
						t.Errorf("panel %q (%s) query %s: a time series wants range queries, the others instant ones", p.Title, p.Type, tg.RefID)
					}
					// A range query must place runs by their end time, not draw
					// flat gauges: every selector is read @ end().
					if tg.Range && !strings.Contains(tg.Expr, "@ end()") {
						t.Errorf("panel %q query %s: a range query that does not read runs @ end(): %s", p.Title, tg.RefID, tg.Expr)
					}
				}
				for _, l := range panelLinks(p) {
					if strings.HasPrefix(l.URL, "${argo_url}/workflows/") {
						argoDataLink = true
					}
					if strings.HasPrefix(l.URL, "/d/") {
						uid := strings.SplitN(strings.TrimPrefix(l.URL, "/d/"), "?", 2)[0]
						if uid != OverviewUID && uid != StagesUID && uid != MLUID {
							t.Errorf("panel %q links to unknown dashboard %q", p.Title, uid)
						}
					}
				}
			}
			if !argoDataLink {
				t.Errorf("no panel links a run to ${argo_url}/workflows/<namespace>/<workflow>")
			}
		})
	}
	if len(uids) != 0 {
		t.Errorf("dashboards missing: %v", uids)
	}
	if panels < 35 || targets < 60 {
		t.Errorf("only %d panels and %d queries checked", panels, targets)
	}
}

// panelLinks returns the data links of a panel: its defaults' and those
// set by overrides.
func panelLinks(p gPanel) []gLink {
	out := append([]gLink(nil), p.FieldConfig.Defaults.Links...)
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			if prop.ID == "links" {
				var ls []gLink
				_ = json.Unmarshal(prop.Value, &ls)
				out = append(out, ls...)
			}
		}
	}
	return out
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// staticBinding binds every variable to a plausible value, enough to
// interpolate the queries without Prometheus.
func staticBinding(d *gDashboard) *binding {
	b := newBinding(d)
	for name, val := range map[string]string{"datasource": "prom", "namespace": "ml", "pipeline": "train-pipeline",
		"run": "5f0c6b8e-2d41-4a7b-9c1e-8a3f2b6d9e10", "step": "train(0:lr-0.01)", "stage": "train", "metric": "pipeline_custom_accuracy",
		"window": "86400", "argo_url": DefaultArgoURL} {
		b.values[name] = []string{val}
	}
	for k, v := range map[string]string{"__range": "2d", "__range_s": "172800", "__range_ms": "172800000",
		"__interval": "5m", "__interval_ms": "300000", "__rate_interval": "20m"} {
		b.builtins[k] = v
	}
	return b
}

// TestQueriesNameOnlyPushedMetrics: every panel query, variable query and
// rule expression names only metrics step-metrics pushes (and the
// Pushgateway's push_time_seconds, push_failure_time_seconds), each with
// labels it has; every variable in them is defined.
func TestQueriesNameOnlyPushedMetrics(t *testing.T) {
	checked := 0
	check := func(where, expr string) {
		checked++
		for _, err := range CheckPromQL(expr) {
			t.Errorf("%s: %v\n%s", where, err, expr)
		}
	}
	for _, d := range loadDashboards(t) {
		b := staticBinding(d)
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				q, err := b.interpolate(tg.Expr)
				if err != nil {
					t.Errorf("%s %q %s: %v", d.UID, p.Title, tg.RefID, err)
				}
				check(d.UID+" panel "+p.Title+" "+tg.RefID, q)
			}
			for _, s := range []string{p.Title} {
				if _, err := b.interpolate(s); err != nil {
					t.Errorf("%s panel title %q: %v", d.UID, s, err)
				}
			}
			for _, l := range panelLinks(p) {
				if _, err := b.interpolate(l.URL + " " + l.Title); err != nil {
					t.Errorf("%s panel %q link: %v", d.UID, p.Title, err)
				}
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, err := b.interpolate(v.queryString())
			if err != nil {
				t.Errorf("%s variable %s: %v", d.UID, v.Name, err)
			}
			check(d.UID+" variable "+v.Name, q)
		}
	}
	for _, r := range loadRules(t) {
		check("rule "+r.Alert, r.Expr)
	}
	if checked < 75 {
		t.Errorf("only %d expressions checked", checked)
	}
}

// Rules.

type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type ruleGroups struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []rule `json:"rules"`
	} `json:"groups"`
}

func loadRules(t testing.TB) []rule {
	t.Helper()
	var rg ruleGroups
	readYAML(t, filepath.Join(root, RulesFile), &rg)
	var out []rule
	for _, g := range rg.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) != 5 {
		t.Fatalf("%d rules, want 5", len(out))
	}
	return out
}

var anchorRE = regexp.MustCompile(`(?m)^#+ +(.+)$`)

// githubAnchor is the anchor GitHub gives a heading.
func githubAnchor(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// TestRulesAnnotated: every alert has a summary, a description and a
// runbook_url pointing at a section of docs/alerts.md.
func TestRulesAnnotated(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "alerts.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range anchorRE.FindAllStringSubmatch(string(doc), -1) {
		anchors[githubAnchor(m[1])] = true
	}
	const base = "https://github.com/step-metrics/step-metrics/blob/main/docs/alerts.md#"
	for _, r := range loadRules(t) {
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: summary or description missing", r.Alert)
		}
		u := r.Annotations["runbook_url"]
		if !strings.HasPrefix(u, base) || !anchors[strings.TrimPrefix(u, base)] {
			t.Errorf("%s: runbook_url %q is not a section of docs/alerts.md (sections: %v)", r.Alert, u, sortedSet(anchors))
		}
		if r.Labels["severity"] == "" {
			t.Errorf("%s: no severity", r.Alert)
		}
	}
}

// TestPrometheusRuleMatchesRules: the PrometheusRule's spec holds exactly
// the rules file's groups.
func TestPrometheusRuleMatchesRules(t *testing.T) {
	var rules, pr map[string]any
	readYAML(t, filepath.Join(root, RulesFile), &rules)
	readYAML(t, filepath.Join(root, PrometheusRuleFile), &pr)
	if pr["apiVersion"] != "monitoring.coreos.com/v1" || pr["kind"] != "PrometheusRule" {
		t.Errorf("apiVersion %v, kind %v", pr["apiVersion"], pr["kind"])
	}
	a, _ := json.Marshal(rules)
	b, _ := json.Marshal(pr["spec"])
	if !bytes.Equal(a, b) {
		t.Errorf("PrometheusRule spec differs from %s:\n%s\n%s", RulesFile, a, b)
	}
}

// TestAlertTestsCoverEveryAlert: alerts/tests.yml has, for every alert, a
// case where it fires and one where it does not.
func TestAlertTestsCoverEveryAlert(t *testing.T) {
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	readYAML(t, filepath.Join(root, "alerts", "tests.yml"), &tests)
	firing, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	var names []string
	for _, r := range loadRules(t) {
		names = append(names, r.Alert)
		if !firing[r.Alert] || !silent[r.Alert] {
			t.Errorf("%s: tests.yml lacks a case where it fires (%v) or one where it does not (%v)", r.Alert, firing[r.Alert], silent[r.Alert])
		}
	}
	sort.Strings(names)
	for n := range firing {
		if sort.SearchStrings(names, n) == len(names) || names[sort.SearchStrings(names, n)] != n {
			t.Errorf("tests.yml tests %s, which is no rule", n)
		}
	}
}
