package metrics

import (
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
	"github.com/step-metrics/step-metrics/pkg/schema"
)

// stageRun: a 3-item training fan-out (item 1 failed once, then
// succeeded on its retry; item 2 skipped), an evaluation stage still
// running one of its two items, and an approval that waited.
func stageRun() *pipeline.Run {
	t0 := time.Unix(1_795_636_800, 0)
	step := func(id, stage, item string, attempt int, kind pipeline.Kind, result pipeline.Result, startAfter, d time.Duration, res map[string]float64) pipeline.Step {
		name := stage
		if item != "" {
			name = stage + "(" + item + ":x)"
		}
		s := pipeline.Step{ID: id, Name: name, Stage: stage, Item: item, Template: stage, Kind: kind, Attempt: attempt, Result: result, Resources: res}
		if kind != pipeline.KindSkip {
			s.Start = t0.Add(startAfter)
		}
		if result != pipeline.ResultNone && kind != pipeline.KindSkip {
			s.End, s.Duration, s.Finished = s.Start.Add(d), d, true
		}
		return s
	}
	cpu := func(v float64) map[string]float64 { return map[string]float64{"cpu": v} }
	// A container of t0 (Tekton's step container, Argo's container set):
	// a step of its own, but its time is its parent's.
	part := func(s pipeline.Step, parent string) pipeline.Step { s.Parent = parent; return s }
	return &pipeline.Run{
		Engine: "argo", Name: "sweep-x", Pipeline: "sweep", Phase: "Running", Start: t0,
		Steps: []pipeline.Step{
			step("t0", "train", "0", -1, pipeline.KindWork, pipeline.ResultSuccess, 10*time.Second, 100*time.Second, cpu(100)),
			step("t1a", "train", "1", 0, pipeline.KindWork, pipeline.ResultFailure, 10*time.Second, 30*time.Second, cpu(30)),
			step("t1b", "train", "1", 1, pipeline.KindWork, pipeline.ResultSuccess, 45*time.Second, 120*time.Second, cpu(120)),
			step("t2", "train", "2", -1, pipeline.KindSkip, pipeline.ResultSkip, 0, 0, nil),
			part(step("t0/c", "train", "0", -1, pipeline.KindWork, pipeline.ResultSuccess, 10*time.Second, 100*time.Second, nil), "t0"),
			step("e0", "evaluate", "0", -1, pipeline.KindWork, pipeline.ResultSuccess, 170*time.Second, 20*time.Second, nil),
			step("e1", "evaluate", "1", -1, pipeline.KindWork, pipeline.ResultNone, 170*time.Second, 0, nil),
			step("a", "approve", "", -1, pipeline.KindWait, pipeline.ResultSuccess, 200*time.Second, 60*time.Second, nil),
		},
		Retries: []pipeline.Retry{{ID: "t1", Name: "train(1:x)", Stage: "train", Template: "train", Attempts: 2, Result: pipeline.ResultSuccess}},
	}
}

func TestStages(t *testing.T) {
	for _, mode := range []schema.StepMode{schema.StepsPerNode, schema.StepsPerTemplate, schema.StepsNone} {
		fams, err := Families(stageRun(), Options{Steps: mode})
		if err != nil {
			t.Fatal(err)
		}
		// train: first start 10 s, last end 45+120 = 165 s; the skipped
		// item neither opens nor times the stage.
		for _, c := range []struct {
			d schema.Definition
			w map[string]float64
		}{
			{schema.StageDuration, map[string]float64{"train": 155, "approve": 60}}, // evaluate still runs: no wall time
			{schema.StageItemSeconds, map[string]float64{"train": 250, "evaluate": 20, "approve": 60}},
			{schema.StageRetries, map[string]float64{"train": 1}},
		} {
			d, w := c.d, c.w
			got := gaugeBy(t, fams, d, schema.LabelStage)
			if len(got) != len(w) {
				t.Errorf("%s %s: %v, want %v", mode, d.Name, got, w)
			}
			for k, v := range w {
				if got[k] != v {
					t.Errorf("%s %s{stage=%q} = %v, want %v", mode, d.Name, k, got[k], v)
				}
			}
		}
		items := map[string]float64{}
		for _, m := range family(fams, schema.StageItems.Name).GetMetric() {
			items[label(m, "stage")+"/"+label(m, "result")] = m.GetGauge().GetValue()
		}
		wantItems := map[string]float64{"train/success": 2, "train/failure": 1, "train/skip": 1, "evaluate/success": 1, "approve/success": 1}
		if len(items) != len(wantItems) {
			t.Errorf("%s items %v, want %v", mode, items, wantItems)
		}
		for k, v := range wantItems {
			if items[k] != v {
				t.Errorf("%s items[%s] = %v, want %v", mode, k, items[k], v)
			}
		}
		res := family(fams, schema.StageResources.Name).GetMetric()
		if len(res) != 1 || label(res[0], "stage") != "train" || res[0].GetGauge().GetValue() != 250 {
			t.Errorf("%s stage resources %v, want train cpu 250", mode, res)
		}
	}
}

// TestStageLabelsOnSteps: in node mode every step series carries its stage
// and, for fan-out items, the item index; never the item's value.
func TestStageLabelsOnSteps(t *testing.T) {
	fams, err := Families(stageRun(), Options{Steps: schema.StepsPerNode})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, m := range family(fams, schema.StepDuration.Name).GetMetric() {
		seen++
		step, stage, item := label(m, "step"), label(m, "stage"), label(m, "item")
		switch {
		case step == "approve" && (stage != "approve" || item != ""):
			t.Errorf("approve: stage %q item %q", stage, item)
		case step != "approve" && (stage == "" || item == "" || step != stage+"("+item+":x)"):
			t.Errorf("step %q: stage %q item %q", step, stage, item)
		}
	}
	if seen != 5 {
		t.Errorf("%d step durations, want 5 (finished work and parts, not skipped, not waits)", seen)
	}
	retries := family(fams, schema.StepRetries.Name).GetMetric()
	if len(retries) != 1 || label(retries[0], "stage") != "train" {
		t.Errorf("step retries %v, want one with stage train", retries)
	}
}

// TestStageDefaultsToName: an adapter that sets no stage gets one stage
// per step name, as before stages existed.
func TestStageDefaultsToName(t *testing.T) {
	run := stageRun()
	for i := range run.Steps {
		run.Steps[i].Stage, run.Steps[i].Item = "", ""
	}
	run.Retries[0].Stage = ""
	fams, err := Families(run, Options{Steps: schema.StepsNone})
	if err != nil {
		t.Fatal(err)
	}
	got := gaugeBy(t, fams, schema.StageRetries, schema.LabelStage)
	if len(got) != 1 || got["train(1:x)"] != 1 {
		t.Errorf("retries by stage %v, want train(1:x): 1", got)
	}
}

// TestPodRestarts: pod restarts add up per run, and only steps that had
// any get a series; they are not retries.
func TestPodRestarts(t *testing.T) {
	run := stageRun()
	run.Steps[0].PodRestarts = 2
	run.Steps[2].PodRestarts = 1
	fams, err := Families(run, Options{Steps: schema.StepsPerNode})
	if err != nil {
		t.Fatal(err)
	}
	if got := gaugeBy(t, fams, schema.RunPodRestarts, "")[""]; got != 3 {
		t.Errorf("run pod restarts %v, want 3", got)
	}
	if got := gaugeBy(t, fams, schema.RunRetries, "")[""]; got != 1 {
		t.Errorf("run retries %v, want 1 (restarts are not retries)", got)
	}
	got := gaugeBy(t, fams, schema.StepPodRestarts, schema.LabelNodeID)
	if len(got) != 2 || got["t0"] != 2 || got["t1b"] != 1 {
		t.Errorf("step pod restarts %v, want t0 2, t1b 1", got)
	}
}
