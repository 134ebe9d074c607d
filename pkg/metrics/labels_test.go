package metrics

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/step-metrics/step-metrics/pkg/schema"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

func TestSanitizeLabelName(t *testing.T) {
	tests := map[string]string{
		"team":                      "team",
		"app.kubernetes.io/name":    "app_kubernetes_io_name",
		"9lives":                    "_9lives",
		"__reserved":                "_reserved",
		"":                          "_",
		"ünïcode":                   "_n_code",
		"a-b c":                     "a_b_c",
		"workflows.argoproj.io/foo": "workflows_argoproj_io_foo",
	}
	for in, want := range tests {
		if got := schema.SanitizeLabelName(in); got != want {
			t.Errorf("schema.SanitizeLabelName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSanitizeLabelValue(t *testing.T) {
	if got := schema.SanitizeLabelValue("ok\xffbad"); !utf8.ValidString(got) || !strings.Contains(got, "\uFFFD") {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
	long := strings.Repeat("é", schema.MaxLabelValueLength) // 2 bytes each
	got := schema.SanitizeLabelValue(long)
	if len(got) > schema.MaxLabelValueLength || !utf8.ValidString(got) {
		t.Errorf("long value: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

func TestWorkflowLabels(t *testing.T) {
	labels := map[string]string{"team": "vision", "app.kubernetes.io/part-of": "imagenet"}
	annotations := map[string]string{"owner": "ml@example.com", "team": "ignored"}
	got, err := schema.WorkflowLabels([]string{"team", "owner", "app.kubernetes.io/part-of", "missing"}, labels, annotations)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"team": "vision", "owner": "ml@example.com", "app_kubernetes_io_part_of": "imagenet"}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := schema.WorkflowLabels([]string{"a.b", "a/b"}, nil, nil); err == nil {
		t.Error("collision after sanitizing accepted")
	}
	if _, err := schema.WorkflowLabels([]string{"workflow"}, nil, nil); err == nil {
		t.Error("reserved label accepted")
	}
}

func TestParseLabel(t *testing.T) {
	if n, v, err := schema.ParseLabel("team=vision=1"); err != nil || n != "team" || v != "vision=1" {
		t.Errorf("ParseLabel = %q %q %v", n, v, err)
	}
	for _, bad := range []string{"team", "=x", "namespace=x", "a.b=x", "node_id=1"} {
		if _, _, err := schema.ParseLabel(bad); err == nil {
			t.Errorf("schema.ParseLabel(%q) accepted", bad)
		}
	}
}

// TestHostileValues feeds label values meant to break the exposition
// format; the output must parse back to the same values.
func TestHostileValues(t *testing.T) {
	hostile := "a\"b\\c\nd} evil=\"1\" \xff"
	run := &pipeline.Run{
		Engine: "argo", Name: hostile, Pipeline: hostile, Phase: "Succeeded", Result: pipeline.ResultSuccess,
		Steps: []pipeline.Step{{ID: "x", Name: hostile, Template: hostile, Phase: "Succeeded", Result: pipeline.ResultSuccess, Attempt: -1}},
	}
	fams, err := Families(run, Options{Labels: map[string]string{"team": hostile}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, fams); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	parsed, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("hostile values broke the format: %v", err)
	}
	want := schema.SanitizeLabelValue(hostile)
	m := parsed[schema.StepResult.Name].GetMetric()[0]
	for _, l := range m.GetLabel() {
		if l.GetName() == "step" && l.GetValue() != want {
			t.Errorf("step label = %q, want %q", l.GetValue(), want)
		}
		if l.GetName() == "evil" {
			t.Error("label injected")
		}
	}
}
