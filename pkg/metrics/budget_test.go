package metrics

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/step-metrics/step-metrics/bench/synth"
	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/engine/argo"
	"github.com/step-metrics/step-metrics/pkg/schema"
)

func seriesIn(fams []*dto.MetricFamily) int {
	n := 0
	for _, f := range fams {
		n += len(f.GetMetric())
	}
	return n
}

// TestBudgetCountsAreExact: the budget is checked on counts taken before
// any series is built (nodeSeries, the template and stage sets' series);
// for every fixture and mode they add up to exactly what Families builds,
// so a run is never cut when it fits, nor let through when it does not.
func TestBudgetCountsAreExact(t *testing.T) {
	checked := 0
	for _, name := range fixtureNames(t) {
		run := loadRun(t, name)
		for _, mode := range []schema.StepMode{schema.StepsPerNode, schema.StepsPerTemplate, schema.StepsNone} {
			fams, lim, err := Build(run, Options{Steps: mode})
			if err != nil {
				t.Fatal(err)
			}
			built := seriesIn(fams)
			if lim.Series != built || lim.Kept != "" {
				t.Errorf("%s %s: Limit %+v without a budget, %d series built", name, mode, lim, built)
			}
			// A budget of exactly the series: nothing is cut. One less: cut,
			// and Wanted is the series it would have had.
			if _, lim, _ := Build(run, Options{Steps: mode, MaxSeries: built}); lim.Kept != "" {
				t.Errorf("%s %s: cut (%+v) with a budget of its own %d series", name, mode, lim, built)
			}
			_, lim, _ = Build(run, Options{Steps: mode, MaxSeries: built - 1})
			if lim.Kept == "" || lim.Wanted != built {
				t.Errorf("%s %s: budget %d: Limit %+v, want a cut with Wanted %d", name, mode, built-1, lim, built)
			}
			checked++
		}
	}
	if checked < 60 {
		t.Errorf("checked %d fixture modes", checked)
	}
}

// TestBudgetFallsBack: a synthetic 2,000-node sweep gives ~8,000 series in
// node mode. Under a budget its step series fall back to template
// aggregates (exactly what --steps template gives), then to none (stage
// series only), then to the run-level series, each time saying so in
// pipeline_run_series_limited{kept}; the series (custom metrics apart)
// never exceed the budget.
func TestBudgetFallsBack(t *testing.T) {
	data, err := synth.JSON(synth.Options{Nodes: 2000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := argo.Engine{}.Read(data, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	node, _ := Families(run, Options{})
	tmpl, _ := Families(run, Options{Steps: schema.StepsPerTemplate})
	none, _ := Families(run, Options{Steps: schema.StepsNone})
	runOnly := 0
	for _, f := range none {
		if strings.HasPrefix(f.GetName(), "pipeline_run_") {
			runOnly += len(f.GetMetric())
		}
	}
	t.Logf("series: node %d, template %d, none %d, run-level %d", seriesIn(node), seriesIn(tmpl), seriesIn(none), runOnly)
	if seriesIn(node) < 5000 {
		t.Fatalf("node mode gives only %d series", seriesIn(node))
	}
	for _, c := range []struct {
		budget int
		kept   string
		want   []*dto.MetricFamily // what the cut run holds, but for the limited series
	}{
		{seriesIn(tmpl) + 1, schema.KeptTemplate, tmpl},
		{seriesIn(tmpl), schema.KeptStage, none},
		{seriesIn(none) + 1, schema.KeptStage, none},
		{seriesIn(none), schema.KeptRun, nil},
		{runOnly + 1, schema.KeptRun, nil},
	} {
		fams, lim, err := Build(run, Options{MaxSeries: c.budget})
		if err != nil {
			t.Fatal(err)
		}
		if lim.Kept != c.kept || lim.Wanted != seriesIn(node) || lim.Series != seriesIn(fams) {
			t.Errorf("budget %d: %+v, want kept %s, wanted %d", c.budget, lim, c.kept, seriesIn(node))
		}
		if got := seriesIn(fams); got > c.budget {
			t.Errorf("budget %d: %d series", c.budget, got)
		}
		limited := family(fams, schema.RunSeriesLimited.Name)
		if limited == nil || len(limited.GetMetric()) != 1 || label(limited.GetMetric()[0], "kept") != c.kept || limited.GetMetric()[0].GetGauge().GetValue() != 1 {
			t.Errorf("budget %d: pipeline_run_series_limited = %v, want kept=%q 1", c.budget, limited, c.kept)
		}
		var rest []*dto.MetricFamily
		for _, f := range fams {
			if f.GetName() != schema.RunSeriesLimited.Name {
				rest = append(rest, f)
			}
		}
		want := c.want
		if want == nil {
			for _, f := range none {
				if strings.HasPrefix(f.GetName(), "pipeline_run_") {
					want = append(want, f)
				}
			}
		}
		if got, w := string(text(t, rest)), string(text(t, want)); got != w {
			t.Errorf("budget %d (kept %s): the cut run's series differ from the mode it kept", c.budget, c.kept)
		}
	}
	// Template mode asked for, and over: stage series.
	if _, lim, _ := Build(run, Options{Steps: schema.StepsPerTemplate, MaxSeries: seriesIn(none) + 1}); lim.Kept != schema.KeptStage {
		t.Errorf("template mode over the budget: %+v", lim)
	}
}

// TestIncompleteRun: a run whose status could not be read (the run from
// the exit handler's arguments) says why in pipeline_run_metrics_incomplete
// and gets the handler's time as its end, so it stays on the panels; a run
// whose status was read keeps its own end.
func TestIncompleteRun(t *testing.T) {
	at := time.Date(2025, 11, 27, 1, 2, 3, 500e6, time.UTC)
	run := argo.RunFromArguments("nightly-retrain-1764205200", "ml", "u1", "Failed")
	fams, err := Families(run, Options{Incomplete: schema.IncompleteForbidden, HandlerTime: at})
	if err != nil {
		t.Fatal(err)
	}
	got := string(text(t, fams))
	for _, want := range []string{
		`pipeline_run_metrics_incomplete{engine="argo",pipeline="nightly-retrain",reason="forbidden",workflow="nightly-retrain-1764205200"} 1` + "\n",
		`pipeline_run_end_timestamp_seconds{engine="argo",pipeline="nightly-retrain",workflow="nightly-retrain-1764205200"} 1.7642053235e+09` + "\n",
		`pipeline_run_result{engine="argo",phase="Failed",pipeline="nightly-retrain",result="failure",workflow="nightly-retrain-1764205200"} 1` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	if strings.Contains(got, "pipeline_run_duration_seconds") || strings.Contains(got, "pipeline_run_start") {
		t.Errorf("a made-up duration or start:\n%s", got)
	}
	// Complete: neither.
	fams, _ = Families(run, Options{HandlerTime: at})
	if s := string(text(t, fams)); strings.Contains(s, "incomplete") || strings.Contains(s, "end_timestamp") {
		t.Errorf("complete metrics carry the incomplete series or the handler's time:\n%s", s)
	}
	// Read, but without steps (offloaded): its own end is kept.
	read := loadRun(t, "example")
	fams, _ = Families(read, Options{Incomplete: schema.IncompleteOffloaded, HandlerTime: at})
	end := family(fams, schema.RunEndTimestamp.Name)
	if end == nil || end.GetMetric()[0].GetGauge().GetValue() != unixSeconds(read.End) {
		t.Errorf("end of a read run: %v, want %v", end, unixSeconds(read.End))
	}
	// Only the fixed reasons, and no user label may take the name.
	if _, err := Families(run, Options{Incomplete: "because"}); err == nil {
		t.Error("a reason outside schema.IncompleteReasons was accepted")
	}
	for _, name := range []string{schema.LabelReason, schema.LabelKept} {
		if _, err := Families(run, Options{Labels: map[string]string{name: "x"}}); err == nil || CheckUserLabelName(name) == nil {
			t.Errorf("user label %s accepted: it would collide with the value label", name)
		}
	}
}
