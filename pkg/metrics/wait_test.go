package metrics

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
	"github.com/step-metrics/step-metrics/pkg/schema"
)

// waitRun is a run pushed while in progress: a finished approval (suspend)
// step that waited 120s, a second approval of the same template still
// waiting, a finished training step and one still running. The unfinished
// steps carry a Duration (time so far, as an engine might fill it) that
// must not count: Duration is valid only if Finished.
func waitRun() *pipeline.Run {
	start := time.Unix(1_795_636_800, 0)
	step := func(id, name, template string, kind pipeline.Kind, finished bool, d time.Duration) pipeline.Step {
		s := pipeline.Step{ID: id, Name: name, Template: template, Kind: kind, Start: start, Duration: d, Finished: finished, Attempt: -1}
		if finished {
			s.End, s.Result, s.Phase = start.Add(d), pipeline.ResultSuccess, "Succeeded"
		} else {
			s.Phase = "Running"
		}
		return s
	}
	return &pipeline.Run{
		Engine: "argo", Namespace: "ml", Name: "train-x", UID: "uid", Pipeline: "train", Phase: "Running",
		Start: start,
		Steps: []pipeline.Step{
			step("n1", "approve", "approval", pipeline.KindWait, true, 120*time.Second),
			step("n2", "approve-again", "approval", pipeline.KindWait, false, 45*time.Second),
			step("n3", "train", "trainer", pipeline.KindWork, true, 300*time.Second),
			step("n4", "evaluate", "trainer", pipeline.KindWork, false, 60*time.Second),
		},
	}
}

// gaugeBy returns the family's gauge values by the value of label key
// ("" for the only series of a family without it).
func gaugeBy(t *testing.T, fams []*dto.MetricFamily, d schema.Definition, key string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range family(fams, d.Name).GetMetric() {
		k := label(m, key)
		if _, dup := out[k]; dup {
			t.Fatalf("%s: two series with %s=%q", d.Name, key, k)
		}
		out[k] = m.GetGauge().GetValue()
	}
	return out
}

func TestWaitCountsFinishedWaitsOnly(t *testing.T) {
	node, err := Families(waitRun(), Options{Steps: schema.StepsPerNode})
	if err != nil {
		t.Fatal(err)
	}
	if got := gaugeBy(t, node, schema.RunWait, ""); len(got) != 1 || got[""] != 120 {
		t.Errorf("%s = %v, want 120 (the unfinished wait's 45s left out)", schema.RunWait.Name, got)
	}
	if got := gaugeBy(t, node, schema.RunStepsUnfinished, ""); got[""] != 2 {
		t.Errorf("%s = %v, want 2", schema.RunStepsUnfinished.Name, got)
	}
	if got := gaugeBy(t, node, schema.StepWait, schema.LabelStep); len(got) != 1 || got["approve"] != 120 {
		t.Errorf("%s = %v, want approve=120 only", schema.StepWait.Name, got)
	}
	if got := gaugeBy(t, node, schema.StepDuration, schema.LabelStep); len(got) != 1 || got["train"] != 300 {
		t.Errorf("%s = %v, want train=300 only (waits and unfinished steps have none)", schema.StepDuration.Name, got)
	}
	got := gaugeBy(t, node, schema.StepEndTimestamp, schema.LabelStep)
	if _, ok := got["approve"]; !ok || len(got) != 2 || got["train"] == 0 {
		t.Errorf("%s for steps %v, want approve and train only", schema.StepEndTimestamp.Name, got)
	}

	tmpl, err := Families(waitRun(), Options{Steps: schema.StepsPerTemplate})
	if err != nil {
		t.Fatal(err)
	}
	if got := gaugeBy(t, tmpl, schema.RunWait, ""); len(got) != 1 || got[""] != 120 {
		t.Errorf("template mode: %s = %v, want 120", schema.RunWait.Name, got)
	}
	if got := gaugeBy(t, tmpl, schema.TemplateWait, schema.LabelTemplate); len(got) != 1 || got["approval"] != 120 {
		t.Errorf("%s = %v, want approval=120 only", schema.TemplateWait.Name, got)
	}
	if got := gaugeBy(t, tmpl, schema.TemplateMaxDuration, schema.LabelTemplate); len(got) != 1 || got["trainer"] != 300 {
		t.Errorf("%s = %v, want trainer=300 only", schema.TemplateMaxDuration.Name, got)
	}
	for _, m := range family(tmpl, schema.TemplateDuration.Name).GetMetric() {
		if s := m.GetSummary(); label(m, schema.LabelTemplate) != "trainer" || s.GetSampleCount() != 1 || s.GetSampleSum() != 300 {
			t.Errorf("%s{template=%q} = count %d sum %v, want trainer's one finished step (300s)",
				schema.TemplateDuration.Name, label(m, schema.LabelTemplate), s.GetSampleCount(), s.GetSampleSum())
		}
	}
}

// TestWaitOnlyUnfinished: a run whose only wait is unfinished pushes a
// run wait of 0 and no template wait at all.
func TestWaitOnlyUnfinished(t *testing.T) {
	run := waitRun()
	run.Steps = run.Steps[1:2]
	for _, mode := range []schema.StepMode{schema.StepsPerNode, schema.StepsPerTemplate} {
		fams, err := Families(run, Options{Steps: mode})
		if err != nil {
			t.Fatal(err)
		}
		if got := gaugeBy(t, fams, schema.RunWait, ""); len(got) != 1 || got[""] != 0 {
			t.Errorf("%s: %s = %v, want 0", mode, schema.RunWait.Name, got)
		}
		for _, d := range []schema.Definition{schema.StepWait, schema.TemplateWait} {
			if f := family(fams, d.Name); f != nil {
				t.Errorf("%s: %s pushed for an unfinished wait: %v", mode, d.Name, f.GetMetric())
			}
		}
	}
}
