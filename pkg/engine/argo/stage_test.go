package argo

import (
	"strconv"
	"testing"
)

func TestSplitItem(t *testing.T) {
	for in, want := range map[string][2]string{
		"train(0:lr-0.01)":                {"train", "0"},
		"train(12:{\"lr\":0.1,\"b\":2})":  {"train", "12"},
		"train(3:a:b:c)":                  {"train", "3"},
		"train(3:)":                       {"train", "3"},
		"train":                           {"train", ""},
		"train(x:1)":                      {"train(x:1)", ""},
		"train(1)":                        {"train(1)", ""}, // a retry attempt's suffix, not an item
		"(1:a)":                           {"(1:a)", ""},
		"preprocess.onExit":               {"preprocess.onExit", ""},
		"evaluate(0:model-a)(1)":          {"evaluate(0:model-a)(1)", ""}, // attempts are named by their Retry parent
		"fetch-data(100000:s3://b/k.csv)": {"fetch-data", "100000"},
	} {
		stage, item := splitItem(in)
		if stage != want[0] || item != want[1] {
			t.Errorf("splitItem(%q) = %q, %q; want %q, %q", in, stage, item, want[0], want[1])
		}
	}
}

// TestFanOutStages: the items of the withItems fixture (written by Argo's
// own test suite) share their stage and carry their index; retried
// attempts keep the item of their Retry parent.
func TestFanOutStages(t *testing.T) {
	data, _ := loadFixture(t, "07-steps-withitems-fanout-succeeded.yaml")
	run := readRun(t, data, Options{})
	items := map[string]map[string]bool{}
	for _, s := range run.Steps {
		if s.Item == "" {
			if s.Stage != s.Name {
				t.Errorf("step %q: stage %q without an item", s.Name, s.Stage)
			}
			continue
		}
		if items[s.Stage] == nil {
			items[s.Stage] = map[string]bool{}
		}
		items[s.Stage][s.Item] = true
	}
	if len(items) == 0 {
		t.Fatal("no fan-out items found in the withItems fixture")
	}
	for stage, idx := range items {
		for i := 0; i < len(idx); i++ {
			if !idx[strconv.Itoa(i)] {
				t.Errorf("stage %q: items %v, want 0..%d", stage, idx, len(idx)-1)
			}
		}
	}
}

// TestContainerSetParts: a container set's containers are parts of their
// pod (their boundaryID is the pod node) and sit in the pod's stage.
func TestContainerSetParts(t *testing.T) {
	data, _ := loadFixture(t, "19-dag-containerset-running.yaml")
	run := readRun(t, data, Options{})
	parts := 0
	for _, s := range run.Steps {
		switch s.Type {
		case "Container":
			parts++
			if s.Parent == "" || s.Stage == "main" {
				t.Errorf("container %s: parent %q stage %q; want its pod and the pod's stage", s.ID, s.Parent, s.Stage)
			}
		case "Pod":
			if s.Parent != "" || s.Stage != s.Name {
				t.Errorf("pod %s: parent %q stage %q", s.ID, s.Parent, s.Stage)
			}
		}
	}
	if parts != 2 {
		t.Errorf("%d containers, want 2", parts)
	}
}
