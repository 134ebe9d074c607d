package metrics

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/engine/tekton"

	"github.com/step-metrics/step-metrics/pkg/schema"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/step-metrics/step-metrics/internal/example"
	"github.com/step-metrics/step-metrics/pkg/engine/argo"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const fixtureDir = "../../testdata/argo"

// tektonInputs are the Tekton fixtures (testdata/tekton, see its INDEX.md)
// that decode to a run, with the TaskRun each is read as (our own finally
// task, left out), if any.
var tektonInputs = map[string]string{
	"tekton/01-pipelinerun-succeeded-childrefs":        "",
	"tekton/02-pipelinerun-running-2-childrefs":        "",
	"tekton/06-docs-pipelinerun-succeeded":             "",
	"tekton/generated/02-03-pipelinerun-with-taskruns": "",
	"tekton/generated/05-taskrun-in-pipelinerun":       "",
	"tekton/generated/ml-pipeline-in-finally":          "ml-pipeline-run-x7k2p-step-metrics",
	"tekton/generated/v1beta1-embedded-failed":         "",
}

func loadRun(t *testing.T, name string) *pipeline.Run {
	t.Helper()
	if self, ok := tektonInputs[name]; ok {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		run, _, err := tekton.Engine{}.Read(data, engine.Options{Self: self})
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	data := example.Workflow
	if name != "example" {
		var err error
		if data, err = os.ReadFile(filepath.Join(fixtureDir, name+".yaml")); err != nil {
			t.Fatal(err)
		}
	}
	run, _, err := argo.Engine{}.Read(data, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func fixtureNames(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.yaml"))
	if err != nil || len(files) < 15 {
		t.Fatalf("want >= 15 fixtures, got %d (%v)", len(files), err)
	}
	names := []string{"example"}
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	// Argo v4 node fields (testdata/argo/v4).
	names = append(names, "v4/failed-pod-restarts")
	// Kubeflow Pipelines v2-shaped runs (testdata/argo/kfp).
	names = append(names, "kfp/01-two-components", "kfp/02-retried-and-cached", "kfp/03-parallel-for")
	var tektonNames []string
	for name := range tektonInputs {
		tektonNames = append(tektonNames, name)
	}
	sort.Strings(tektonNames)
	return append(names, tektonNames...)
}

func text(t *testing.T, fams []*dto.MetricFamily) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteText(&buf, fams); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGolden compares the exposition of every fixture with a stored file
// (go test ./pkg/metrics -update rewrites them; review the diff).
func TestGolden(t *testing.T) {
	type variant struct {
		suffix string
		opts   Options
	}
	variants := []variant{{"", Options{}}}
	checked := 0
	for _, name := range fixtureNames(t) {
		vs := variants
		if name == "example" || name == "07-steps-withitems-fanout-succeeded" || name == "tekton/generated/ml-pipeline-in-finally" {
			vs = append(vs,
				variant{".template", Options{Steps: schema.StepsPerTemplate}},
				variant{".none", Options{Steps: schema.StepsNone, Labels: map[string]string{"team": "vision"}}})
		}
		for _, v := range vs {
			fams, err := Families(loadRun(t, name), v.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := text(t, fams)
			path := filepath.Join("testdata", "golden", name+v.suffix+".prom")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file %s; run go test ./pkg/metrics -update and review the diff", name+v.suffix, path)
			}
			checked++
		}
	}
	if checked < 19 {
		t.Errorf("checked %d golden files, want >= 19", checked)
	}
}

// TestLint runs client_golang's promlint (what promtool check metrics uses)
// on every fixture in every mode, and parses the text back.
func TestLint(t *testing.T) {
	for _, name := range fixtureNames(t) {
		for _, mode := range []schema.StepMode{schema.StepsPerNode, schema.StepsPerTemplate, schema.StepsNone} {
			fams, err := Families(loadRun(t, name), Options{Steps: mode})
			if err != nil {
				t.Fatal(err)
			}
			problems, err := promlint.NewWithMetricFamilies(fams).Lint()
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("%s/%s: %s: %s", name, mode, p.Metric, p.Text)
			}
			p := expfmt.NewTextParser(model.LegacyValidation)
			parsed, err := p.TextToMetricFamilies(bytes.NewReader(text(t, fams)))
			if err != nil {
				t.Errorf("%s/%s: output does not parse: %v", name, mode, err)
			}
			if len(parsed) != len(fams) {
				t.Errorf("%s/%s: parsed %d families, wrote %d", name, mode, len(parsed), len(fams))
			}
			assertUniqueSeries(t, name+"/"+string(mode), fams)
		}
	}
}

func assertUniqueSeries(t *testing.T, where string, fams []*dto.MetricFamily) {
	t.Helper()
	for _, mf := range fams {
		seen := map[string]bool{}
		for _, m := range mf.GetMetric() {
			var b strings.Builder
			for _, l := range m.GetLabel() {
				b.WriteString(l.GetName() + "=" + l.GetValue() + ",")
			}
			if seen[b.String()] {
				t.Errorf("%s: duplicate series %s{%s}", where, mf.GetName(), b.String())
			}
			seen[b.String()] = true
		}
	}
}

// TestDefinitions checks that what Families emits matches Definitions:
// names, types and label names.
func TestDefinitions(t *testing.T) {
	defs := map[string]schema.Definition{}
	for _, d := range schema.Definitions {
		if _, dup := defs[d.Name]; dup {
			t.Errorf("definition %s twice", d.Name)
		}
		defs[d.Name] = d
	}
	emitted := map[string]bool{}
	runLabels := map[string]bool{"engine": true, "pipeline": true, "workflow": true, "team": true}
	for _, name := range fixtureNames(t) {
		for _, mode := range []schema.StepMode{schema.StepsPerNode, schema.StepsPerTemplate, schema.StepsNone} {
			fams, _ := Families(loadRun(t, name), Options{Steps: mode, Labels: map[string]string{"team": "x"}})
			// And with the series that say a run's metrics are incomplete
			// or were cut down to a budget.
			// (A cut run holds template series in node mode: the mode is
			// the one it was cut down to.)
			cut, _ := Families(loadRun(t, name), Options{Steps: mode, Labels: map[string]string{"team": "x"}, Incomplete: schema.IncompleteTimeout, MaxSeries: 30})
			for i, mf := range append(fams, cut...) {
				d, ok := defs[mf.GetName()]
				if !ok {
					t.Errorf("%s is emitted but not in schema.Definitions", mf.GetName())
					continue
				}
				emitted[d.Name] = true
				if d.Mode != "" && d.Mode != mode && i < len(fams) {
					t.Errorf("%s emitted in mode %s, defined for %s", d.Name, mode, d.Mode)
				}
				if strings.ToLower(mf.GetType().String()) != d.Type {
					t.Errorf("%s has type %s, defined %s", d.Name, mf.GetType(), d.Type)
				}
				if mf.GetHelp() != d.Help {
					t.Errorf("%s help differs", d.Name)
				}
				allowed := map[string]bool{}
				for _, l := range d.Labels {
					allowed[l] = true
				}
				for _, m := range mf.GetMetric() {
					for _, l := range m.GetLabel() {
						if !allowed[l.GetName()] && !runLabels[l.GetName()] {
							t.Errorf("%s has label %s, not in its definition", d.Name, l.GetName())
						}
					}
				}
			}
		}
	}
	for _, d := range schema.Definitions {
		if !emitted[d.Name] {
			t.Errorf("%s is defined but no fixture emits it", d.Name)
		}
	}
}

// TestTemplateModeAgrees checks the per-template aggregates against the
// per-node series of the same run.
func TestTemplateModeAgrees(t *testing.T) {
	for _, name := range fixtureNames(t) {
		run := loadRun(t, name)
		node, _ := Families(run, Options{Steps: schema.StepsPerNode})
		tmpl, _ := Families(run, Options{Steps: schema.StepsPerTemplate})
		sum := map[string]float64{}
		count := map[string]float64{}
		longest := map[string]float64{}
		tmplOf := map[string]string{} // node_id -> template
		for _, s := range run.Steps {
			tmplOf[s.ID] = templateKey(s.Template, s.Name)
		}
		for _, m := range family(node, schema.StepDuration.Name).GetMetric() {
			tp := tmplOf[label(m, "node_id")]
			v := m.GetGauge().GetValue()
			sum[tp] += v
			count[tp]++
			if v > longest[tp] {
				longest[tp] = v
			}
		}
		got := 0
		for _, m := range family(tmpl, schema.TemplateDuration.Name).GetMetric() {
			tp := label(m, "template")
			got++
			if m.GetSummary().GetSampleSum() != sum[tp] || float64(m.GetSummary().GetSampleCount()) != count[tp] {
				t.Errorf("%s: template %s sum/count = %v/%v, per-node %v/%v", name, tp,
					m.GetSummary().GetSampleSum(), m.GetSummary().GetSampleCount(), sum[tp], count[tp])
			}
		}
		if got != len(sum) {
			t.Errorf("%s: %d template duration series, %d templates with durations", name, got, len(sum))
		}
		for _, m := range family(tmpl, schema.TemplateMaxDuration.Name).GetMetric() {
			if tp := label(m, "template"); m.GetGauge().GetValue() != longest[tp] {
				t.Errorf("%s: template %s max = %v, want %v", name, tp, m.GetGauge().GetValue(), longest[tp])
			}
		}
		if family(tmpl, schema.StepDuration.Name) != nil || family(node, schema.TemplateDuration.Name) != nil {
			t.Errorf("%s: modes mix their families", name)
		}
	}
}

func TestRunLevelValues(t *testing.T) {
	run := loadRun(t, "example")
	fams, err := Families(run, Options{Labels: map[string]string{"team": "vision"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		schema.RunDuration.Name:        1300,
		schema.RunRetries.Name:         1,
		schema.RunWait.Name:            158,
		schema.RunStepsUnfinished.Name: 0,
	}
	for name, v := range want {
		ms := family(fams, name).GetMetric()
		if len(ms) != 1 || ms[0].GetGauge().GetValue() != v {
			t.Errorf("%s = %v, want %v", name, ms, v)
		}
		if label(ms[0], "team") != "vision" || label(ms[0], "pipeline") != "train-pipeline" {
			t.Errorf("%s labels = %v", name, ms[0].GetLabel())
		}
	}
	results := map[string]float64{}
	for _, m := range family(fams, schema.RunResult.Name).GetMetric() {
		results[label(m, "result")] = m.GetGauge().GetValue()
		if label(m, "phase") != "Succeeded" {
			t.Errorf("phase label = %q", label(m, "phase"))
		}
	}
	if len(results) != 6 || results["success"] != 1 || results["failure"] != 0 {
		t.Errorf("run results = %v", results)
	}
	steps := map[string]float64{}
	for _, m := range family(fams, schema.RunSteps.Name).GetMetric() {
		steps[label(m, "result")] = m.GetGauge().GetValue()
	}
	if steps["success"] != 8 || steps["failure"] != 1 {
		t.Errorf("steps by result = %v", steps)
	}
}

func TestStepsUnavailable(t *testing.T) {
	run := loadRun(t, "example")
	run.Steps, run.Retries, run.StepsUnavailable = nil, nil, true
	fams, _ := Families(run, Options{})
	for _, mf := range fams {
		if strings.HasPrefix(mf.GetName(), "pipeline_step_") || mf.GetName() == schema.RunSteps.Name {
			t.Errorf("%s emitted without step status", mf.GetName())
		}
	}
	if family(fams, schema.RunDuration.Name) == nil {
		t.Error("no pipeline duration")
	}
}

func TestFamiliesRejectsBadOptions(t *testing.T) {
	run := loadRun(t, "example")
	for _, opts := range []Options{
		{Steps: "pods"},
		{Labels: map[string]string{"step": "x"}},
		{Labels: map[string]string{"job": "x"}},
		{Labels: map[string]string{"bad-name": "x"}},
		{Labels: map[string]string{"__meta": "x"}},
	} {
		if _, err := Families(run, opts); err == nil {
			t.Errorf("Families(%+v) accepted", opts)
		}
	}
}

func family(fams []*dto.MetricFamily, name string) *dto.MetricFamily {
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
