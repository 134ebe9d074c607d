package argo_test

import (
	"bytes"
	"github.com/step-metrics/step-metrics/pkg/schema"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/step-metrics/step-metrics/internal/example"
	"github.com/step-metrics/step-metrics/pkg/engine/argo"
	"github.com/step-metrics/step-metrics/pkg/metrics"
)

// FuzzDecodeArgo feeds arbitrary bytes through everything a pushed run goes
// through: decode, the run model, the metric families and the text
// exposition. Whatever the input, nothing panics, no duration is negative,
// errors are one line, and what would be pushed parses back as valid
// Prometheus text.
func FuzzDecodeArgo(f *testing.F) {
	f.Add(example.Workflow)
	files, _ := filepath.Glob("../../../testdata/argo/*.yaml")
	more, _ := filepath.Glob("../../../testdata/argo/*/*.yaml")
	files = append(files, more...)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "{}", "[]", "null", "kind: Workflow", "kind: List\nitems: []",
		"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nstatus: {phase: Running, nodes: {w: {id: w, type: Steps, phase: Succeeded, startedAt: '2026-01-01T00:00:10Z', finishedAt: '2026-01-01T00:00:00Z'}}}",
		"kind: Workflow\nmetadata: {name: w}\nstatus: {compressedNodes: H4sIAAAAAAAA/w==}",
		`{"kind":"Workflow","metadata":{"name":"w","labels":{"a\"b":"\u0000\n"}},"status":{"nodes":{"x":{"id":"x","type":"Pod","phase":"Failed","boundaryID":"x","children":["x"]}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wf, warnings, err := argo.Decode(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if wf == nil || wf.Name == "" {
			t.Fatal("no error but no named workflow")
		}
		for _, w := range warnings {
			if strings.Contains(w, "\n") {
				t.Fatalf("warning is not one line: %q", w)
			}
		}
		run := argo.FromWorkflow(wf, argo.Options{})
		if run.Duration < 0 {
			t.Fatalf("negative run duration %v", run.Duration)
		}
		for _, s := range run.Steps {
			if s.Duration < 0 {
				t.Fatalf("step %q: negative duration %v", s.ID, s.Duration)
			}
			for r, v := range s.Resources {
				if v < 0 {
					t.Fatalf("step %q: negative %s seconds %v", s.ID, r, v)
				}
			}
		}
		for _, mode := range []schema.StepMode{schema.StepsPerNode, schema.StepsPerTemplate} {
			fams, err := metrics.Families(run, metrics.Options{Steps: mode})
			if err != nil {
				continue
			}
			var buf bytes.Buffer
			if err := metrics.WriteText(&buf, fams); err != nil {
				t.Fatalf("%s: write: %v", mode, err)
			}
			if !utf8.Valid(buf.Bytes()) {
				t.Fatalf("%s: exposition is not UTF-8", mode)
			}
			p := expfmt.NewTextParser(model.LegacyValidation)
			if _, err := p.TextToMetricFamilies(bytes.NewReader(buf.Bytes())); err != nil {
				t.Fatalf("%s: exposition does not parse: %v\n%s", mode, err, buf.String())
			}
		}
	})
}
