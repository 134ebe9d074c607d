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
// A run with tens of thousands of steps would give hundreds of thousands
// of series in node mode; Build keeps it within a series budget
// (Options.MaxSeries), counting the series before it builds them:
//
//	fams, limit, err := metrics.Build(run, metrics.Options{Steps: schema.StepsPerNode, MaxSeries: 10000})
//	if limit.Kept != "" {
//		log.Printf("%d series over the budget: kept %s series", limit.Wanted, limit.Kept)
//	}
//
// The grouping labels (job, namespace, workflow_id: schema.RunKey) are not
// on the samples: the Pushgateway adds them from the grouping key.
package metrics

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"time"

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
	// copied from the workflow. Names must pass CheckUserLabelName.
	Labels map[string]string
	// Incomplete, when not empty, says why the run's metrics are
	// incomplete (one of schema.IncompleteReasons): the status could not
	// be read, or was read without its steps. It adds
	// pipeline_run_metrics_incomplete{reason} 1.
	Incomplete string
	// HandlerTime is when the exit handler ran. A run whose metrics are
	// incomplete (Incomplete set) and whose end is unknown gets it as its
	// pipeline_run_end_timestamp_seconds, so it stays on the panels that
	// place runs at their end; zero leaves the end out.
	HandlerTime time.Time
	// MaxSeries is the run's series budget, custom metrics apart (they have
	// their own limits, see CustomFamilies); 0 means no budget. Over it,
	// Build cuts the step series down (node mode to template aggregates,
	// then to none, then the stage series too) and adds
	// pipeline_run_series_limited{kept} 1. Run-level series are always kept.
	MaxSeries int
}

// Limit says how Build kept a run within Options.MaxSeries.
type Limit struct {
	// Kept is what the step series were cut down to: schema.KeptTemplate,
	// KeptStage or KeptRun; empty when nothing was cut.
	Kept string
	// Wanted is how many series the run would have had in the mode asked
	// for; set only when something was cut.
	Wanted int
	// Series is how many series the families hold.
	Series int
}

// valueLabels are the labels the families set besides the run labels: a
// user label of one of these names would give a series the label twice.
var valueLabels = func() map[string]bool {
	m := map[string]bool{}
	for _, d := range schema.Definitions {
		for _, l := range d.Labels {
			m[l] = true
		}
	}
	return m
}()

// CheckUserLabelName says why name cannot be a user label (Options.Labels),
// or nil: schema.CheckUserLabelName, and not a label any family sets.
func CheckUserLabelName(name string) error {
	if err := schema.CheckUserLabelName(name); err != nil {
		return err
	}
	if valueLabels[name] {
		return fmt.Errorf("label name %q is reserved by step-metrics", name)
	}
	return nil
}

// Families returns the metric families of one run, sorted by name. It fails
// only on invalid options.
func Families(run *pipeline.Run, opts Options) ([]*dto.MetricFamily, error) {
	fams, _, err := Build(run, opts)
	return fams, err
}

// Build is Families, and says whether and how it kept the run within
// opts.MaxSeries. The budget is checked on counts, before any step series
// is built, so a run far over it costs no more than the series it keeps.
func Build(run *pipeline.Run, opts Options) ([]*dto.MetricFamily, Limit, error) {
	mode := opts.Steps
	if mode == "" {
		mode = schema.StepsPerNode
	}
	if _, err := schema.ParseStepMode(string(mode)); err != nil {
		return nil, Limit{}, err
	}
	for _, name := range schema.SortedNames(opts.Labels) {
		if err := CheckUserLabelName(name); err != nil {
			return nil, Limit{}, err
		}
	}
	if opts.Incomplete != "" && !slices.Contains(schema.IncompleteReasons, opts.Incomplete) {
		return nil, Limit{}, fmt.Errorf("incomplete reason %q: want one of %v", opts.Incomplete, schema.IncompleteReasons)
	}
	if opts.MaxSeries < 0 {
		return nil, Limit{}, fmt.Errorf("series budget %d: want 0 (none) or more", opts.MaxSeries)
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
	} else if opts.Incomplete != "" && !opts.HandlerTime.IsZero() {
		// Not the run's end, but when the handler ran: without an end the
		// run would be on no panel at all.
		b.gauge(schema.RunEndTimestamp, rl, unixSeconds(opts.HandlerTime))
	}
	if opts.Incomplete != "" {
		b.gauge(schema.RunIncomplete, rl.with(schema.LabelReason, opts.Incomplete), 1)
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

	var stages *stageSet
	if !run.StepsUnavailable {
		stages = collectStages(run)
	}
	var templates *templateSet
	if mode == schema.StepsPerTemplate {
		templates = collectTemplates(run)
	}
	var lim Limit
	if opts.MaxSeries > 0 {
		mode, stages, templates, lim = limit(run, opts.MaxSeries, b.n, mode, stages, templates)
	}
	if stages != nil {
		stages.write(b, rl)
	}
	switch mode {
	case schema.StepsPerNode:
		perNode(b, rl, run)
	case schema.StepsPerTemplate:
		templates.write(b, rl)
	}
	if lim.Kept != "" {
		b.gauge(schema.RunSeriesLimited, rl.with(schema.LabelKept, lim.Kept), 1)
	}
	lim.Series = b.n
	return b.families(), lim, nil
}

// limit keeps a run within budget series, given the runLevel series already
// built: it returns the step mode, stages and templates to write, cut down
// as far as needed (node to template aggregates, then no step series,
// then no stage series), and what was cut. One series is kept free for
// pipeline_run_series_limited.
func limit(run *pipeline.Run, budget, runLevel int, mode schema.StepMode, stages *stageSet, templates *templateSet) (schema.StepMode, *stageSet, *templateSet, Limit) {
	stageN := stages.series()
	stepN := 0
	switch mode {
	case schema.StepsPerNode:
		stepN = nodeSeries(run)
	case schema.StepsPerTemplate:
		stepN = templates.series()
	}
	wanted := runLevel + stageN + stepN
	if wanted <= budget {
		return mode, stages, templates, Limit{}
	}
	lim := Limit{Wanted: wanted}
	room := budget - runLevel - 1
	if mode == schema.StepsPerNode {
		templates = collectTemplates(run)
		if stageN+templates.series() <= room {
			lim.Kept = schema.KeptTemplate
			return schema.StepsPerTemplate, stages, templates, lim
		}
	}
	if stageN <= room {
		lim.Kept = schema.KeptStage
		return schema.StepsNone, stages, nil, lim
	}
	lim.Kept = schema.KeptRun
	return schema.StepsNone, nil, nil, lim
}

// nodeSeries counts the series perNode gives, without building them.
func nodeSeries(run *pipeline.Run) int {
	n := len(run.Retries)
	for i := range run.Steps {
		s := &run.Steps[i]
		if s.Result != pipeline.ResultNone {
			n++
		}
		if !s.Start.IsZero() && s.Kind != pipeline.KindSkip {
			n++
		}
		if s.Finished {
			n += 2
		}
		n += len(s.Resources)
		if s.PodRestarts > 0 {
			n++
		}
	}
	return n
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

// templateSet is what the steps of a run add up to per template.
type templateSet struct {
	names []string
	aggs  map[string]*templateAgg
}

// collectTemplates aggregates the steps of run per template.
func collectTemplates(run *pipeline.Run) *templateSet {
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
	return &templateSet{names: names, aggs: aggs}
}

// series counts the series write gives.
func (ts *templateSet) series() int {
	if ts == nil {
		return 0
	}
	n := 0
	for _, a := range ts.aggs {
		for _, r := range pipeline.Results {
			if a.counts[r] > 0 {
				n++
			}
		}
		if a.n > 0 {
			n += 2
		}
		if a.wait > 0 {
			n++
		}
		n += len(a.res)
		if a.retries > 0 {
			n++
		}
	}
	return n
}

// write adds the template families.
func (ts *templateSet) write(b *builder, rl labels) {
	for _, t := range ts.names {
		a := ts.aggs[t]
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
	// n counts the series added.
	n int
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
	b.n++
}

func (b *builder) summary(d schema.Definition, l labels, n uint64, sum float64) {
	mf := b.family(d)
	mf.Metric = append(mf.Metric, &dto.Metric{Label: l, Summary: &dto.Summary{SampleCount: proto.Uint64(n), SampleSum: proto.Float64(sum)}})
	b.n++
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
