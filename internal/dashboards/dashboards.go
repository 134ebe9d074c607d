// Package dashboards generates step-metrics' Grafana dashboards (as code,
// with the Grafana Foundation SDK) and the PrometheusRule twin of the alert
// rules. The generated files are committed: dashboards/*.json and
// alerts/prometheusrule.yaml; a test regenerates them and fails on any
// difference. To regenerate after a change:
//
//	go generate ./internal/dashboards     # or: go run ./internal/dashboards/cmd
//
// The alert rules themselves are written by hand in
// alerts/step-metrics.rules.yml. docs/dashboards.md explains the query
// patterns, docs/alerts.md the alerts.
package dashboards

//go:generate go run ./cmd -root ../..

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// The dashboards' fixed uids.
const (
	OverviewUID = "step-metrics-overview"
	StagesUID   = "step-metrics-stages"
	MLUID       = "step-metrics-ml"
)

// File is one generated dashboard.
type File struct {
	// Path is relative to the repository root.
	Path  string
	Build func() (dashboard.Dashboard, error)
}

// Files lists the dashboards.
var Files = []File{
	{"dashboards/pipelines-overview.json", Overview},
	{"dashboards/pipeline-stages.json", Stages},
	{"dashboards/ml-step-metrics.json", MLStepMetrics},
}

// Rules files: the hand-written Prometheus rules file and its generated
// PrometheusRule twin.
const (
	RulesFile          = "alerts/step-metrics.rules.yml"
	PrometheusRuleFile = "alerts/prometheusrule.yaml"
)

// Render builds a dashboard and returns its JSON as Grafana imports it:
// "id": null, panel ids numbered in order, indented, a final newline.
func Render(build func() (dashboard.Dashboard, error)) ([]byte, error) {
	d, err := build()
	if err != nil {
		return nil, err
	}
	d.Id = nil
	id := uint32(0)
	for i := range d.Panels {
		switch p := d.Panels[i]; {
		case p.Panel != nil:
			id++
			p.Panel.Id = ptr(id)
		case p.RowPanel != nil:
			id++
			p.RowPanel.Id = id
			for j := range p.RowPanel.Panels {
				id++
				p.RowPanel.Panels[j].Id = ptr(id)
			}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep PromQL's > and < readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	// The SDK's own marshalers escape them anyway.
	b := buf.Bytes()
	for _, r := range []struct{ esc, raw string }{{`\u003c`, "<"}, {`\u003e`, ">"}, {`\u0026`, "&"}} {
		b = bytes.ReplaceAll(b, []byte(r.esc), []byte(r.raw))
	}
	// The SDK omits a nil id; Grafana's import wants "id": null.
	return append([]byte("{\n  \"id\": null,"), b[1:]...), nil
}

// Generate returns every generated file by its path relative to root (the
// repository root, where it reads the rules file).
func Generate(root string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, f := range Files {
		b, err := Render(f.Build)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		out[f.Path] = b
	}
	rules, err := os.ReadFile(filepath.Join(root, RulesFile))
	if err != nil {
		return nil, err
	}
	pr, err := PrometheusRule(rules)
	if err != nil {
		return nil, err
	}
	out[PrometheusRuleFile] = pr
	return out, nil
}

// Write generates every file under root.
func Write(root string) error {
	files, err := Generate(root)
	if err != nil {
		return err
	}
	for _, p := range sortedKeys(files) {
		full := filepath.Join(root, p)
		if old, err := os.ReadFile(full); err == nil && bytes.Equal(old, files[p]) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
