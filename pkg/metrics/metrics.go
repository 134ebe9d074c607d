// Package metrics turns a pipeline.Run into Prometheus metric families
// with step-metrics' names and labels (both defined in package schema),
// ready for a sink (package sink) or the text exposition format.
//
// Every value describes one finished (or in-progress) run, and each run is
// written as its own group, so the values are final, not running counts:
// every family is a gauge except pipeline_template_duration_seconds, a
// summary (_count steps, _sum seconds) per template. Times are values
// (_timestamp_seconds gauges), because the Pushgateway refuses sample
// timestamps.
//
//	fams, err := metrics.Families(run, metrics.Options{Steps: schema.StepsPerNode})
//	_ = metrics.WriteText(os.Stdout, fams)
//
// The grouping labels (job, namespace, workflow_id: schema.RunKey) are not
// on the samples: the Pushgateway adds them from the grouping key.
package metrics

import (
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/step-metrics/step-metrics/pkg/schema"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// Options tune Families.
type Options struct {
	// Steps is the step mode; empty means schema.StepsPerNode.
	Steps schema.StepMode
	// Labels are added to every series: static user labels and labels
	// copied from the workflow. Names must be valid and not reserved.
	Labels map[string]string
}

// Families returns the metric families of one run, sorted by name. It fails
// only on invalid options.
func Families(run *pipeline.Run, opts Options) ([]*dto.MetricFamily, error) {
	mode := opts.Steps
	if mode == "" {
		mode = schema.StepsPerNode
	}
	if _, err := schema.ParseStepMode(string(mode)); err != nil {
		return nil, err
	}
	for _, name := range schema.SortedNames(opts.Labels) {
		if err := schema.CheckUserLabelName(name); err != nil {
			return nil, err
		}
	}

	b := newBuilder()
	rl := runLabels(run, opts)

	// Pipeline level.
	phase := run.Phase
	for _, r := range pipeline.Results {
		b.gauge(schema.RunResult, rl.with("result", string(r), "phase", phase), boolValue(run.Result == r))
	}
	if !run.Start.IsZero() {
		b.gauge(schema.RunStartTimestamp, rl, unixSeconds(run.Start))
	}
	if run.Finished {
		b.gauge(schema.RunEndTimestamp, rl, unixSeconds(run.End))
		b.gauge(schema.RunDuration, rl, run.Duration.Seconds())
	}
	if !run.StepsUnavailable {
		counts := map[pipeline.Result]int{}
		unfinished := 0
		var wait, overhead float64
		hasOverhead := false
		res := map[string]float64{}
		for i := range run.Steps {
			s := &run.Steps[i]
			if s.Result == pipeline.ResultNone {
				unfinished++
			} else {
				counts[s.Result]++
			}
			if s.Kind == pipeline.KindWait && s.Finished {
				wait += s.Duration.Seconds()
			}
			if s.Kind == pipeline.KindOverhead {
				hasOverhead = true
				if s.Finished {
					overhead += s.Duration.Seconds()
				}
			}
			for r, v := range s.Resources {
				res[r] += v
			}
		}
		for _, r := range pipeline.Results {
			b.gauge(schema.RunSteps, rl.with("result", string(r)), float64(counts[r]))
		}
		b.gauge(schema.RunStepsUnfinished, rl, float64(unfinished))
		retries := 0
		for _, r := range run.Retries {
			retries += r.Retries()
		}
		b.gauge(schema.RunRetries, rl, float64(retries))
		restarts := 0
		for i := range run.Steps {
			restarts += run.Steps[i].PodRestarts
		}
		b.gauge(schema.RunPodRestarts, rl, float64(restarts))
		b.gauge(schema.RunWait, rl, wait)
		if hasOverhead {
			// Only runs with orchestration pods (KFP) have overhead; other
			// runs' output stays as it was.
			b.gauge(schema.RunOverhead, rl, overhead)
		}
		for _, r := range sortedFloatKeys(res) {
			b.gauge(schema.RunResources, rl.with("resource", r), res[r])
		}
	}

	if !run.StepsUnavailable {
		perStage(b, rl, run)
	}
	switch mode {
	case schema.StepsPerNode:
		perNode(b, rl, run)
	case schema.StepsPerTemplate:
		perTemplate(b, rl, run)
	}
	return b.families(), nil
}

// runLabels are the labels on every series of a run.
func runLabels(run *pipeline.Run, opts Options) labels {
	kv := []string{"engine", run.Engine, "pipeline", run.Pipeline, "workflow", run.Name}
	for _, name := range schema.SortedNames(opts.Labels) {
		kv = append(kv, name, opts.Labels[name])
	}
	return makeLabels(kv...)
}

func perNode(b *builder, rl labels, run *pipeline.Run) {
	for i := range run.Steps {
		s := &run.Steps[i]
		kv := []string{"step", s.Name, "stage", s.StageName(), "item", s.Item, "template", s.Template, "node_id", s.ID}
		if s.HostNode != "" {
			kv = append(kv, "node", s.HostNode)
		}
		if s.Attempt >= 0 {
			kv = append(kv, "attempt", strconv.Itoa(s.Attempt))
		}
		sl := b.with(rl, kv...)
		if s.Result != pipeline.ResultNone {
			b.gauge(schema.StepResult, b.with(sl, "result", string(s.Result), "phase", s.Phase), 1)
		}
		if !s.Start.IsZero() && s.Kind != pipeline.KindSkip {
			b.gauge(schema.StepStartTimestamp, sl, unixSeconds(s.Start))
		}
		if s.Finished {
			b.gauge(schema.StepEndTimestamp, sl, unixSeconds(s.End))
			if s.Kind == pipeline.KindWait {
				b.gauge(schema.StepWait, sl, s.Duration.Seconds())
			} else {
				b.gauge(schema.StepDuration, sl, s.Duration.Seconds())
			}
		}
		for _, r := range sortedFloatKeys(s.Resources) {
			b.gauge(schema.StepResources, b.with(sl, "resource", r), s.Resources[r])
		}
		if s.PodRestarts > 0 {
			b.gauge(schema.StepPodRestarts, sl, float64(s.PodRestarts))
		}
	}
	for _, r := range run.Retries {
		b.gauge(schema.StepRetries, rl.with("step", r.Name, "stage", r.StageName(), "template", r.Template, "node_id", r.ID), float64(r.Retries()))
	}
}

type templateAgg struct {
	counts   map[pipeline.Result]int
	n        uint64
	sum, max float64
	wait     float64
	res      map[string]float64
	retries  int
}

func perTemplate(b *builder, rl labels, run *pipeline.Run) {
	aggs := map[string]*templateAgg{}
	get := func(t string) *templateAgg {
		a := aggs[t]
		if a == nil {
			a = &templateAgg{counts: map[pipeline.Result]int{}, res: map[string]float64{}}
			aggs[t] = a
		}
		return a
	}
	for i := range run.Steps {
		s := &run.Steps[i]
		a := get(templateKey(s.Template, s.Name))
		if s.Result != pipeline.ResultNone {
			a.counts[s.Result]++
		}
		if s.Finished {
			d := s.Duration.Seconds()
			if s.Kind == pipeline.KindWait {
				a.wait += d
			} else {
				a.n++
				a.sum += d
				if d > a.max {
					a.max = d
				}
			}
		}
		for r, v := range s.Resources {
			a.res[r] += v
		}
	}
	for _, r := range run.Retries {
		get(templateKey(r.Template, r.Name)).retries += r.Retries()
	}
	names := make([]string, 0, len(aggs))
	for t := range aggs {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		a := aggs[t]
		tl := rl.with("template", t)
		for _, r := range pipeline.Results {
			if a.counts[r] > 0 {
				b.gauge(schema.TemplateSteps, tl.with("result", string(r)), float64(a.counts[r]))
			}
		}
		if a.n > 0 {
			b.summary(schema.TemplateDuration, tl, a.n, a.sum)
			b.gauge(schema.TemplateMaxDuration, tl, a.max)
		}
		if a.wait > 0 {
			b.gauge(schema.TemplateWait, tl, a.wait)
		}
		for _, r := range sortedFloatKeys(a.res) {
			b.gauge(schema.TemplateResources, tl.with("resource", r), a.res[r])
		}
		if a.retries > 0 {
			b.gauge(schema.TemplateRetries, tl, float64(a.retries))
		}
	}
}

func templateKey(template, name string) string {
	if template != "" {
		return template
	}
	return name
}

// WriteText writes families in the Prometheus text exposition format.
func WriteText(w io.Writer, fams []*dto.MetricFamily) error {
	for _, mf := range fams {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return fmt.Errorf("encode %s: %w", mf.GetName(), err)
		}
	}
	return nil
}

// labels is a label set sorted by name. Label pairs are shared between
// series: they are never modified once built.
type labels []*dto.LabelPair

func makeLabels(kv ...string) labels {
	return labels(nil).with(kv...)
}

// with returns a new sorted set with the name/value pairs added; an empty
// value leaves the label out (Prometheus treats it as absent anyway).
func (l labels) with(kv ...string) labels {
	return l.withPairs(nil, kv)
}

// withPairs is with, taking the pairs of low-cardinality labels from
// cache when it is not nil.
func (l labels) withPairs(cache map[pairKey]*dto.LabelPair, kv []string) labels {
	out := make(labels, len(l), len(l)+len(kv)/2)
	copy(out, l)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		var p *dto.LabelPair
		if cache != nil && cachedLabels[kv[i]] {
			k := pairKey{kv[i], kv[i+1]}
			if p = cache[k]; p == nil {
				p = newPair(kv[i], kv[i+1])
				cache[k] = p
			}
		} else {
			p = newPair(kv[i], kv[i+1])
		}
		// Insert in name order, after equal names: the sets are small.
		j := len(out)
		out = append(out, p)
		for ; j > 0 && out[j-1].GetName() > kv[i]; j-- {
			out[j] = out[j-1]
		}
		out[j] = p
	}
	return out
}

func newPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: proto.String(name), Value: proto.String(schema.SanitizeLabelValue(value))}
}

// cachedLabels are the labels with few values in a run, whose pairs a
// builder shares between series instead of making one per series.
var cachedLabels = map[string]bool{"result": true, "phase": true, "resource": true, "attempt": true, "node": true, "template": true, "stage": true, "item": true}

type pairKey struct{ name, value string }

// builder collects metric families. Metrics, gauges and their values are
// allocated in slabs: a run in node mode has tens of thousands of series,
// and they all live until the push.
type builder struct {
	fams  map[string]*dto.MetricFamily
	pairs map[pairKey]*dto.LabelPair

	metrics []dto.Metric
	gauges  []dto.Gauge
	values  []float64
	made    int
}

func newBuilder() *builder {
	return &builder{fams: map[string]*dto.MetricFamily{}, pairs: map[pairKey]*dto.LabelPair{}}
}

// with is labels.with sharing the builder's pairs of low-cardinality labels.
func (b *builder) with(l labels, kv ...string) labels {
	return l.withPairs(b.pairs, kv)
}

func (b *builder) family(d schema.Definition) *dto.MetricFamily {
	mf := b.fams[d.Name]
	if mf == nil {
		t := dto.MetricType_GAUGE
		if d.Type == "summary" {
			t = dto.MetricType_SUMMARY
		}
		mf = &dto.MetricFamily{Name: proto.String(d.Name), Help: proto.String(d.Help), Type: t.Enum()}
		b.fams[d.Name] = mf
	}
	return mf
}

func (b *builder) gauge(d schema.Definition, l labels, v float64) {
	mf := b.family(d)
	if len(b.metrics) == 0 {
		// Slabs grow with the run: 16 series, then as many as so far, up to 1024.
		n := min(max(b.made, 16), 1024)
		b.metrics, b.gauges, b.values = make([]dto.Metric, n), make([]dto.Gauge, n), make([]float64, n)
		b.made += n
	}
	m, g, f := &b.metrics[0], &b.gauges[0], &b.values[0]
	b.metrics, b.gauges, b.values = b.metrics[1:], b.gauges[1:], b.values[1:]
	*f = v
	g.Value = f
	m.Label, m.Gauge = l, g
	mf.Metric = append(mf.Metric, m)
}

func (b *builder) summary(d schema.Definition, l labels, n uint64, sum float64) {
	mf := b.family(d)
	mf.Metric = append(mf.Metric, &dto.Metric{Label: l, Summary: &dto.Summary{SampleCount: proto.Uint64(n), SampleSum: proto.Float64(sum)}})
}

func (b *builder) families() []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(b.fams))
	for _, mf := range b.fams {
		out = append(out, mf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t interface{ UnixNano() int64 }) float64 {
	return float64(t.UnixNano()) / 1e9
}

func sortedFloatKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
