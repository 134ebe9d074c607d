package tekton

import (
	"os"
	"testing"

	"github.com/step-metrics/step-metrics/pkg/engine"
)

// TestMatrixStages: the TaskRuns of one matrixed pipeline task are items
// of its stage, indexed by their name's suffix (as Tekton names them), their
// attempts and containers included; a task that is not fanned out has no
// item.
func TestMatrixStages(t *testing.T) {
	data, err := os.ReadFile("../../../testdata/tekton/controller/matrix-fanout-retried.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run, warnings, err := Engine{}.Read(data, engine.Options{})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Read: %v %q", err, warnings)
	}
	type want struct{ stage, item, parent string }
	wants := map[string]want{
		"sweep-x7k2p-prep":                       {"prep", "", ""},
		"sweep-x7k2p-prep/step-run":              {"prep", "", "sweep-x7k2p-prep"},
		"sweep-x7k2p-train-0":                    {"train", "0", ""},
		"sweep-x7k2p-train-0/step-run":           {"train", "0", "sweep-x7k2p-train-0"},
		"sweep-x7k2p-train-1/attempt-0":          {"train", "1", ""},
		"sweep-x7k2p-train-1/attempt-0/step-run": {"train", "1", "sweep-x7k2p-train-1/attempt-0"},
		"sweep-x7k2p-train-1/attempt-1":          {"train", "1", ""},
		"sweep-x7k2p-train-1/attempt-1/step-run": {"train", "1", "sweep-x7k2p-train-1/attempt-1"},
		"sweep-x7k2p-train-2":                    {"train", "2", ""},
		"sweep-x7k2p-train-2/step-run":           {"train", "2", "sweep-x7k2p-train-2"},
	}
	if len(run.Steps) != len(wants) {
		t.Errorf("%d steps, want %d", len(run.Steps), len(wants))
	}
	for _, s := range run.Steps {
		w, ok := wants[s.ID]
		if !ok {
			t.Errorf("unexpected step %q", s.ID)
			continue
		}
		if s.Stage != w.stage || s.Item != w.item || s.Parent != w.parent {
			t.Errorf("%s: stage %q item %q parent %q; want %q %q %q", s.ID, s.Stage, s.Item, s.Parent, w.stage, w.item, w.parent)
		}
	}
	if len(run.Retries) != 1 || run.Retries[0].StageName() != "train" {
		t.Errorf("retries %+v, want one in stage train", run.Retries)
	}
}

func TestMatrixIndex(t *testing.T) {
	for in, want := range map[string]string{"pr-train-0": "0", "pr-train-12": "12", "pr-train": "", "pr-train-": "", "pr-train-x1": "", "7": ""} {
		if got := matrixIndex(in); got != want {
			t.Errorf("matrixIndex(%q) = %q, want %q", in, got, want)
		}
	}
}
