package metrics

import (
	"sort"
	"time"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
	"github.com/step-metrics/step-metrics/pkg/schema"
)

// stageAgg is what one stage of a run adds up to.
type stageAgg struct {
	counts map[pipeline.Result]int
	// first and last are the earliest start and the latest end of its
	// items; open counts items (not skipped) still without an end.
	first, last time.Time
	open        int
	timed       int
	itemSecs    float64
	retries     int
	res         map[string]float64
	// overhead is the summed time of the stage's finished overhead
	// steps (KFP drivers); hasOverhead says whether it has any.
	overhead    float64
	hasOverhead bool
}

// stageSet is what the steps of a run add up to per stage (a task or
// step, with all items of its fan-out and all their attempts). Its
// families are written in every step mode, since a run has few stages
// however wide its fan-outs (and the series budget counts them too).
type stageSet struct {
	names []string
	aggs  map[string]*stageAgg
}

// collectStages aggregates the steps of run per stage.
func collectStages(run *pipeline.Run) *stageSet {
	aggs := map[string]*stageAgg{}
	get := func(name string) *stageAgg {
		a := aggs[name]
		if a == nil {
			a = &stageAgg{counts: map[pipeline.Result]int{}, res: map[string]float64{}}
			aggs[name] = a
		}
		return a
	}
	// Retried overhead steps (a KFP driver with a retry strategy): their
	// retries are the run's, not a stage item's.
	overheadRetries := map[string]bool{}
	for i := range run.Steps {
		s := &run.Steps[i]
		if s.Kind == pipeline.KindOverhead {
			if s.RetryID != "" {
				overheadRetries[s.RetryID] = true
			}
			if s.StageName() == "" {
				continue // run-level overhead: pipeline_run_overhead_seconds only
			}
			// Overhead prepares the stage's items but is none of them: its
			// time is the stage's overhead, not item time, wall time,
			// items or resources.
			a := get(s.StageName())
			a.hasOverhead = true
			if s.Finished {
				a.overhead += s.Duration.Seconds()
			}
			continue
		}
		a := get(s.StageName())
		if s.Result != pipeline.ResultNone && s.Parent == "" {
			a.counts[s.Result]++
		}
		for r, v := range s.Resources {
			a.res[r] += v
		}
		if s.Parent != "" || s.Kind == pipeline.KindSkip {
			// A part (a container of a TaskRun or a container set) is
			// counted by its parent; a skipped item takes no time.
			continue
		}
		if !s.Finished {
			a.open++
			continue
		}
		a.timed++
		a.itemSecs += s.Duration.Seconds()
		if start := s.End.Add(-s.Duration); a.first.IsZero() || start.Before(a.first) {
			a.first = start
		}
		if a.last.IsZero() || s.End.After(a.last) {
			a.last = s.End
		}
	}
	for i := range run.Retries {
		r := &run.Retries[i]
		if overheadRetries[r.ID] {
			continue
		}
		get(r.StageName()).retries += r.Retries()
	}
	names := make([]string, 0, len(aggs))
	for n := range aggs {
		names = append(names, n)
	}
	sort.Strings(names)
	return &stageSet{names: names, aggs: aggs}
}

// series counts the series write gives.
func (st *stageSet) series() int {
	if st == nil {
		return 0
	}
	n := 0
	for _, a := range st.aggs {
		for _, r := range pipeline.Results {
			if a.counts[r] > 0 {
				n++
			}
		}
		if a.timed > 0 {
			n++
			if a.open == 0 {
				n++
			}
		}
		if a.retries > 0 {
			n++
		}
		n += len(a.res)
		if a.hasOverhead {
			n++
		}
	}
	return n
}

// write adds the stage families.
func (st *stageSet) write(b *builder, rl labels) {
	for _, n := range st.names {
		a := st.aggs[n]
		sl := b.with(rl, schema.LabelStage, n)
		for _, r := range pipeline.Results {
			if a.counts[r] > 0 {
				b.gauge(schema.StageItems, b.with(sl, schema.LabelResult, string(r)), float64(a.counts[r]))
			}
		}
		if a.timed > 0 {
			b.gauge(schema.StageItemSeconds, sl, a.itemSecs)
			if a.open == 0 {
				d, _ := pipeline.Span(a.first, a.last)
				b.gauge(schema.StageDuration, sl, d.Seconds())
			}
		}
		if a.retries > 0 {
			b.gauge(schema.StageRetries, sl, float64(a.retries))
		}
		for _, r := range sortedFloatKeys(a.res) {
			b.gauge(schema.StageResources, b.with(sl, schema.LabelResource, r), a.res[r])
		}
		if a.hasOverhead {
			b.gauge(schema.StageOverhead, sl, a.overhead)
		}
	}
}
