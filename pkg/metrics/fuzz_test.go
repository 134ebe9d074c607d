package metrics

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/step-metrics/step-metrics/pkg/schema"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// legacyName is what Prometheus 2 and the Pushgateway accept as a label
// name without quoting.
var legacyName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// hostileSeeds are label keys and values meant to break things; the files
// in testdata/fuzz/ hold more.
var hostileSeeds = []string{
	"", "_", "__", "___x", "9lives", "app.kubernetes.io/part-of", "workflows.argoproj.io/workflow-template",
	"job", "workflow_id", "__name__", "ünïcode", "a\xffb", "\x00", "le", "a=b=c", " team = vision ",
	strings.Repeat("é", 600) + "\xff", "x\ny", `a"b\c`,
}

// FuzzSanitizeLabelName: any string becomes a valid label name, without
// the reserved "__" prefix; valid names stay as they are; sanitizing twice
// changes nothing.
func FuzzSanitizeLabelName(f *testing.F) {
	for _, s := range hostileSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := schema.SanitizeLabelName(s)
		if !legacyName.MatchString(out) || strings.HasPrefix(out, "__") {
			t.Fatalf("schema.SanitizeLabelName(%q) = %q: not a valid label name", s, out)
		}
		if again := schema.SanitizeLabelName(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
		if legacyName.MatchString(s) && !strings.HasPrefix(s, "__") && out != s {
			t.Fatalf("valid name %q changed to %q", s, out)
		}
	})
}

// FuzzSanitizeLabelValue: any string becomes valid UTF-8 of at most
// schema.MaxLabelValueLength bytes: the input with invalid bytes replaced
// when that fits, else its start followed by "~" and 16 hex digits of its
// hash (schema.SanitizeLabelValue's documented form); valid short values
// stay as they are; sanitizing twice changes nothing.
func FuzzSanitizeLabelValue(f *testing.F) {
	for _, s := range hostileSeeds {
		f.Add(s)
	}
	f.Add(strings.Repeat("a", schema.MaxLabelValueLength) + "é")
	f.Fuzz(func(t *testing.T, s string) {
		out := schema.SanitizeLabelValue(s)
		if !utf8.ValidString(out) || len(out) > schema.MaxLabelValueLength {
			t.Fatalf("schema.SanitizeLabelValue(%q) = %q: %d bytes, valid UTF-8 %v", s, out, len(out), utf8.ValidString(out))
		}
		repaired := strings.ToValidUTF8(s, "\uFFFD")
		if len(repaired) <= schema.MaxLabelValueLength {
			if out != repaired {
				t.Fatalf("schema.SanitizeLabelValue(%q) = %q: want the input with invalid bytes replaced", s, out)
			}
		} else if i := strings.LastIndexByte(out, '~'); i < 0 || len(out)-i-1 != 16 || !strings.HasPrefix(repaired, out[:i]) ||
			strings.Trim(out[i+1:], "0123456789abcdef") != "" {
			t.Fatalf("schema.SanitizeLabelValue(%q) = %q: want <a prefix of the input>~<16 hex digits>", s, out)
		}
		if again := schema.SanitizeLabelValue(out); again != out {
			t.Fatalf("not idempotent: %q -> %q", out, again)
		}
		if utf8.ValidString(s) && len(s) <= schema.MaxLabelValueLength && out != s {
			t.Fatalf("valid value %q changed to %q", s, out)
		}
		// Cut only as much as needed: at most one rune short of the limit.
		if len(repaired) > schema.MaxLabelValueLength && len(out) < schema.MaxLabelValueLength-utf8.UTFMax {
			t.Fatalf("cut to %d bytes, limit %d", len(out), schema.MaxLabelValueLength)
		}
	})
}

// FuzzParseLabel: a --label it accepts has a valid, unreserved name and
// parses back to itself; an error is one line.
func FuzzParseLabel(f *testing.F) {
	for _, s := range hostileSeeds {
		f.Add(s)
		f.Add(s + "=v")
		f.Add("team=" + s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, value, err := schema.ParseLabel(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if !legacyName.MatchString(name) || strings.HasPrefix(name, "__") || schema.IsReservedLabel(name) {
			t.Fatalf("schema.ParseLabel(%q) accepted name %q", s, name)
		}
		n2, v2, err := schema.ParseLabel(name + "=" + value)
		if err != nil || n2 != name || v2 != value {
			t.Fatalf("schema.ParseLabel(%q) = %q, %q; again: %q, %q, %v", s, name, value, n2, v2, err)
		}
	})
}

// FuzzWorkflowLabels: whatever keys are asked for and whatever values a
// workflow holds, the labels WorkflowLabels returns are valid, unreserved
// and distinct, and the metrics built with them are valid Prometheus text
// that parses back to the sanitized values, without injected labels.
func FuzzWorkflowLabels(f *testing.F) {
	f.Add("team,app.kubernetes.io/part-of", "vision")
	f.Add("a.b,a/b", "collide")
	f.Add("job", "x")
	f.Add("__meta,9x,ünï", "a\"b\\c\nd} evil=\"1\" \xff")
	f.Add("owner", strings.Repeat("é", 1000))
	f.Fuzz(func(t *testing.T, keyList, value string) {
		keys := strings.Split(keyList, ",")
		if len(keys) > 20 {
			keys = keys[:20]
		}
		labels := map[string]string{}
		for _, k := range keys {
			labels[k] = value
		}
		out, err := schema.WorkflowLabels(keys, labels, nil)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		for name, v := range out {
			if !legacyName.MatchString(name) || strings.HasPrefix(name, "__") || schema.IsReservedLabel(name) {
				t.Fatalf("label name %q from keys %q", name, keys)
			}
			if v != value {
				t.Fatalf("label %s = %q, want %q", name, v, value)
			}
		}
		run := &pipeline.Run{Engine: "argo", Name: "w", Pipeline: "p", Phase: "Succeeded", Result: pipeline.ResultSuccess, Finished: true}
		fams, err := Families(run, Options{Labels: out})
		if err != nil {
			t.Fatalf("Families with %v: %v", out, err)
		}
		var buf bytes.Buffer
		if err := WriteText(&buf, fams); err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.LegacyValidation)
		parsed, err := parser.TextToMetricFamilies(&buf)
		if err != nil {
			t.Fatalf("invalid exposition with labels %v: %v", out, err)
		}
		nonEmpty := 0 // an empty label value is no label
		for _, v := range out {
			if v != "" {
				nonEmpty++
			}
		}
		for _, m := range parsed[schema.RunResult.Name].GetMetric() {
			if len(m.GetLabel()) != nonEmpty+5 { // engine, pipeline, workflow, result, phase
				t.Fatalf("%d labels, want %d: %v", len(m.GetLabel()), nonEmpty+5, m.GetLabel())
			}
			for _, l := range m.GetLabel() {
				if want, ok := out[l.GetName()]; ok && l.GetValue() != schema.SanitizeLabelValue(want) {
					t.Fatalf("label %s = %q, want %q", l.GetName(), l.GetValue(), schema.SanitizeLabelValue(want))
				}
			}
		}
	})
}
