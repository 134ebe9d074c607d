package schema

import (
	"strings"
	"testing"
)

// TestDefinitions: every family is named with the prefix and a unit-style
// suffix the linters accept, has a known type and mode and a HELP text, and
// no name is defined twice.
func TestDefinitions(t *testing.T) {
	if len(Definitions) < 20 {
		t.Fatalf("%d definitions", len(Definitions))
	}
	seen := map[string]bool{}
	for _, d := range Definitions {
		if seen[d.Name] {
			t.Errorf("%s defined twice", d.Name)
		}
		seen[d.Name] = true
		if !strings.HasPrefix(d.Name, Prefix) || strings.HasPrefix(d.Name, CustomPrefix) {
			t.Errorf("%s: want prefix %q, outside %q", d.Name, Prefix, CustomPrefix)
		}
		if strings.HasSuffix(d.Name, "_total") {
			t.Errorf("%s: a gauge of one run's value is not a counter", d.Name)
		}
		if d.Type != Gauge && d.Type != Summary {
			t.Errorf("%s: type %q", d.Name, d.Type)
		}
		if _, err := ParseStepMode(string(d.Mode)); d.Mode != "" && err != nil {
			t.Errorf("%s: mode %q: %v", d.Name, d.Mode, err)
		}
		if d.Help == "" || strings.ContainsAny(d.Help, "\n\\") {
			t.Errorf("%s: HELP %q: want one line without backslashes", d.Name, d.Help)
		}
		labels := map[string]bool{}
		for _, l := range d.Labels {
			if labels[l] {
				t.Errorf("%s: label %s twice", d.Name, l)
			}
			labels[l] = true
			if SanitizeLabelName(l) != l {
				t.Errorf("%s: label %q is not a valid label name", d.Name, l)
			}
		}
	}
}

// TestReservedLabels: every label step-metrics sets anywhere (on a family,
// in a grouping key, on the run, on a step's own metrics) is reserved, so
// no user label (--label, --label-from-workflow, a step's custom metric)
// can collide with one; and the list is one list.
func TestReservedLabels(t *testing.T) {
	set := []string{LabelJob, LabelNamespace, LabelWorkflowID, LabelStep, LabelEngine, LabelPipeline, LabelWorkflow,
		LabelTemplate, LabelNodeID, LabelNode, LabelAttempt, LabelPod, LabelResult, LabelPhase, LabelResource,
		"instance", "le", "quantile"}
	for _, d := range Definitions {
		set = append(set, d.Labels...)
	}
	set = append(set, RunGroupingLabels...)
	for _, l := range StepKey("j", "ns", "id", "s").Labels {
		set = append(set, l.Name)
	}
	for _, l := range set {
		if !IsReservedLabel(l) {
			t.Errorf("label %q is set by step-metrics but not reserved", l)
		}
		if err := CheckUserLabelName(l); err == nil {
			t.Errorf("CheckUserLabelName(%q) accepts a reserved label", l)
		}
		if _, _, err := ParseLabel(l + "=x"); err == nil {
			t.Errorf("ParseLabel(%q) accepts a reserved label", l+"=x")
		}
	}
	seen := map[string]bool{}
	for _, l := range ReservedLabels {
		if seen[l] {
			t.Errorf("%q reserved twice", l)
		}
		seen[l] = true
	}
	if IsReservedLabel("team") || CheckUserLabelName("team") != nil {
		t.Error("team is not step-metrics' label")
	}
}

func TestGroupingKey(t *testing.T) {
	k := RunKey("step-metrics", "ml", "5f0c")
	if got, want := k.String(), `job="step-metrics",namespace="ml",workflow_id="5f0c"`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	s := StepKey("step-metrics", "ml", "5f0c", "train\"x")
	if got, want := s.String(), `job="step-metrics",namespace="ml",workflow_id="5f0c",step="train\"x"`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	for name, want := range map[string]string{LabelJob: "step-metrics", LabelNamespace: "ml", LabelWorkflowID: "5f0c", LabelStep: "train\"x"} {
		if v, ok := s.Get(name); !ok || v != want {
			t.Errorf("Get(%s) = %q, %v", name, v, ok)
		}
	}
	if _, ok := k.Get(LabelStep); ok {
		t.Error("a run's key has no step")
	}
	if len(RunGroupingLabels) != 1+len(k.Labels) {
		t.Errorf("RunGroupingLabels %v and RunKey %v disagree", RunGroupingLabels, k.Labels)
	}
	for i, l := range k.Labels {
		if RunGroupingLabels[i+1] != l.Name {
			t.Errorf("RunGroupingLabels %v and RunKey %v disagree", RunGroupingLabels, k.Labels)
		}
	}
}

func TestValidName(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "_": true, "A_9": true, "accuracy_total": true,
		"": false, "9a": false, "a:b": false, "a-b": false, "ä": false, "a b": false, "a.b": false,
	} {
		if got := ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", s, got, want)
		}
	}
}
