package metrics

import (
	"strings"
	"testing"

	"github.com/step-metrics/step-metrics/pkg/schema"
)

// TestKFPOverhead checks the overhead families and that drivers are no
// stage items: testdata/argo/kfp/03-parallel-for.yaml has the root,
// iterator and three iteration DAG drivers (11+11+3*10 s, run-level), the
// prepare driver (10 s) and three train drivers (3*10 s).
func TestKFPOverhead(t *testing.T) {
	fams, err := Families(loadRun(t, "kfp/03-parallel-for"), Options{Steps: schema.StepsNone})
	if err != nil {
		t.Fatal(err)
	}
	got := string(text(t, fams))
	for _, want := range []string{
		`pipeline_run_overhead_seconds{engine="argo",pipeline="lr-sweep",workflow="lr-sweep-m4n5b"} 92`,
		`pipeline_stage_overhead_seconds{engine="argo",pipeline="lr-sweep",stage="prepare",workflow="lr-sweep-m4n5b"} 10`,
		`pipeline_stage_overhead_seconds{engine="argo",pipeline="lr-sweep",stage="train",workflow="lr-sweep-m4n5b"} 30`,
		`pipeline_stage_items{engine="argo",pipeline="lr-sweep",result="success",stage="train",workflow="lr-sweep-m4n5b"} 3`,
		`pipeline_stage_item_seconds{engine="argo",pipeline="lr-sweep",stage="train",workflow="lr-sweep-m4n5b"} 405`,
		`pipeline_stage_duration_seconds{engine="argo",pipeline="lr-sweep",stage="train",workflow="lr-sweep-m4n5b"} 151`,
		// Drivers are steps of the run: 13 pods, 8 of them drivers.
		`pipeline_run_steps{engine="argo",pipeline="lr-sweep",result="success",workflow="lr-sweep-m4n5b"} 13`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	for _, bad := range []string{`stage="root-driver"`, `stage="iteration-driver"`, `stage="iteration-item-driver"`, `stage=""`, `stage="executor"`} {
		if strings.Contains(got, bad) {
			t.Errorf("has %s", bad)
		}
	}

	// A driver's retries are not its stage's; the retried component's are.
	fams, _ = Families(loadRun(t, "kfp/02-retried-and-cached"), Options{Steps: schema.StepsPerTemplate})
	got = string(text(t, fams))
	for _, want := range []string{
		`pipeline_stage_retries{engine="argo",pipeline="retry-training",stage="train",workflow="retry-training-q9w8e"} 1`,
		`pipeline_stage_items{engine="argo",pipeline="retry-training",result="skip",stage="evaluate",workflow="retry-training-q9w8e"} 1`,
		`pipeline_template_retries{engine="argo",pipeline="retry-training",template="train",workflow="retry-training-q9w8e"} 1`,
		`pipeline_template_duration_seconds_count{engine="argo",pipeline="retry-training",template="train",workflow="retry-training-q9w8e"} 2`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(got, `template="system-container-impl"`) || strings.Contains(got, `template="retry-system-container-impl"`) {
		t.Error("template mode keys work by system-container-impl")
	}
}
