package metrics

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/step-metrics/step-metrics/pkg/schema"

	dto "github.com/prometheus/client_model/go"

	"github.com/step-metrics/step-metrics/pkg/custom"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// MaxCustomSamplesPerRun bounds the custom samples of all steps of a run.
const MaxCustomSamplesPerRun = 10000

// CustomFamilies returns the metrics the run's steps published about
// themselves through an output named schema.OutputName (or starting with
// schema.OutputName + "-"): gauges named schema.CustomPrefix + name, with the run
// labels (as Families gives them) and the step's step, template, node_id and
// attempt labels. The text is untrusted: what custom.Parse drops, and
// anything over MaxCustomSamplesPerRun, is reported in the warnings, each
// naming its step.
func CustomFamilies(run *pipeline.Run, opts Options, lim custom.Limits) ([]*dto.MetricFamily, []string) {
	reserved := func(name string) bool {
		if schema.IsReservedLabel(name) {
			return true
		}
		_, taken := opts.Labels[name]
		return taken
	}
	b := newBuilder()
	var warnings []string
	total, dropped := 0, 0
	rl := runLabels(run, opts)
	for i := range run.Steps {
		s := &run.Steps[i]
		for _, out := range customOutputs(s.Outputs) {
			samples, warns := custom.Parse([]byte(s.Outputs[out]), lim, reserved)
			for _, w := range warns {
				warnings = append(warnings, fmt.Sprintf("custom metrics of step %q (output %s): %s", s.Name, out, w))
			}
			kv := []string{"step", s.Name, "template", s.Template, "node_id", s.ID}
			if s.Attempt >= 0 {
				kv = append(kv, "attempt", strconv.Itoa(s.Attempt))
			}
			sl := rl.with(kv...)
			for _, smp := range samples {
				if total >= MaxCustomSamplesPerRun {
					dropped++
					continue
				}
				total++
				help := smp.Help
				if help == "" {
					help = schema.CustomHelp
				}
				d := schema.Definition{Name: schema.CustomPrefix + smp.Name, Type: schema.Gauge, Help: help}
				l := sl
				for _, lb := range smp.Labels {
					l = l.with(lb.Name, lb.Value)
				}
				b.gauge(d, l, smp.Value)
			}
		}
	}
	if dropped > 0 {
		warnings = append(warnings, fmt.Sprintf("custom metrics: %d samples over the limit of %d per run were dropped", dropped, MaxCustomSamplesPerRun))
	}
	return dedupe(b.families(), &warnings), warnings
}

// customOutputs returns the names of a step's outputs that carry metrics,
// sorted.
func customOutputs(outputs map[string]string) []string {
	var names []string
	for name := range outputs {
		if name == schema.OutputName || strings.HasPrefix(name, schema.OutputName+"-") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// dedupe drops series repeated across two outputs of one step (the same
// labels), keeping the first: the Pushgateway refuses a push with
// duplicates.
func dedupe(fams []*dto.MetricFamily, warnings *[]string) []*dto.MetricFamily {
	for _, mf := range fams {
		seen := map[string]bool{}
		kept := mf.Metric[:0]
		for _, m := range mf.Metric {
			var k strings.Builder
			for _, lp := range m.GetLabel() {
				k.WriteString(lp.GetName())
				k.WriteByte(0)
				k.WriteString(lp.GetValue())
				k.WriteByte(0)
			}
			if seen[k.String()] {
				*warnings = append(*warnings, fmt.Sprintf("custom metric %s: a series given in two outputs of one step; the first is kept", mf.GetName()))
				continue
			}
			seen[k.String()] = true
			kept = append(kept, m)
		}
		mf.Metric = kept
	}
	return fams
}
