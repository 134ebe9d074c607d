package dashboards

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

// The values the panels must show for the synthetic runs. Fixture runs
// ended years ago: panels over "runs that ended in the time range" must not
// count them although their groups (and series) are there.

type checks = map[string]func(t *testing.T, r *testenv.Result)

func count(runs []*synthRun, f func(*synthRun) bool) (n int) {
	for _, r := range runs {
		if f(r) {
			n++
		}
	}
	return n
}

func retries(r *synthRun) (n int) {
	for _, nd := range r.nodes {
		if nd.attempt > 0 {
			n++
		}
	}
	return n
}

func (e *e2e) overviewChecks() checks {
	synth := e.inRange(e.runs)
	pipelines := map[string]string{"ml-train": "ml", "nightly-etl": "data", "batch-fanout": "data"}
	perPipeline := func(f func(runs []*synthRun) float64) map[string]float64 {
		out := map[string]float64{}
		for p, ns := range pipelines {
			out[ns+"/"+p] = f(e.inRange(e.pipelineRuns(p)))
		}
		return out
	}
	ok := func(r *synthRun) bool { return !r.failed() }
	failed := func(r *synthRun) bool { return r.failed() }
	// The run the exit handler could not read succeeded (by its arguments)
	// and ended when its handler ran: one more finished and successful run,
	// in a pipeline of its own, without duration or retries.
	gaps := incompleteRun.namespace + "/" + incompleteRun.pipeline
	withGaps := func(m map[string]float64, v float64) map[string]float64 {
		m[gaps] = v
		return m
	}
	return checks{
		"Finished runs/A": func(t *testing.T, r *testenv.Result) { single(t, "finished runs", r, float64(len(synth)+1)) },
		"Success rate/A": func(t *testing.T, r *testenv.Result) {
			single(t, "success rate", r, float64(count(synth, ok)+1)/float64(len(synth)+1))
		},
		"Runs with incomplete metrics/A": func(t *testing.T, r *testenv.Result) { single(t, "runs with incomplete metrics", r, 1) },
		"Failed runs/A":                  func(t *testing.T, r *testenv.Result) { single(t, "failed runs", r, float64(count(synth, failed))) },
		"Median run duration/A": func(t *testing.T, r *testenv.Result) {
			single(t, "median duration", r, quantile(0.5, durations(synth)))
		},
		"Retries/A": func(t *testing.T, r *testenv.Result) {
			n := 0
			for _, x := range synth {
				n += retries(x)
			}
			single(t, "retries", r, float64(n))
		},
		"Groups with a failed push/A": func(t *testing.T, r *testenv.Result) { single(t, "failed pushes", r, 1) },
		"Pipelines/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "runs", byLabel(r, "namespace", "pipeline"), withGaps(perPipeline(func(rs []*synthRun) float64 { return float64(len(rs)) }), 1))
		},
		"Pipelines/B": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "success rate", byLabel(r, "namespace", "pipeline"), withGaps(perPipeline(func(rs []*synthRun) float64 {
				return float64(count(rs, ok)) / float64(len(rs))
			}), 1))
		},
		"Pipelines/C": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "failed", byLabel(r, "namespace", "pipeline"), withGaps(perPipeline(func(rs []*synthRun) float64 { return float64(count(rs, failed)) }), 0))
		},
		"Pipelines/D": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "retries", byLabel(r, "namespace", "pipeline"), perPipeline(func(rs []*synthRun) float64 {
				n := 0
				for _, x := range rs {
					n += retries(x)
				}
				return float64(n)
			}))
		},
		"Pipelines/E": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "p50", byLabel(r, "namespace", "pipeline"), perPipeline(func(rs []*synthRun) float64 { return quantile(0.5, durations(rs)) }))
		},
		"Pipelines/F": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "p90", byLabel(r, "namespace", "pipeline"), perPipeline(func(rs []*synthRun) float64 { return quantile(0.9, durations(rs)) }))
		},
		"Pipelines/G": func(t *testing.T, r *testenv.Result) {
			// The handler ran during the test: well within approx's
			// tolerance of a millisecond timestamp (1e-6, half an hour).
			wantValues(t, "last run", byLabel(r, "namespace", "pipeline"), withGaps(perPipeline(func(rs []*synthRun) float64 {
				return float64(rs[len(rs)-1].end.UnixMilli())
			}), float64(e.end.UnixMilli())))
		},
		"Recent failed runs/A": func(t *testing.T, r *testenv.Result) {
			want := map[string]float64{}
			for _, x := range synth {
				if x.failed() {
					for _, n := range x.nodes {
						if n.phase == "Failed" && n.attempt < 0 {
							want[x.name+"/"+n.group+"/"+n.stage] = float64(x.end.UnixMilli())
						}
					}
				}
			}
			wantValues(t, "failed runs (workflow/stage/step -> end ms)", byLabel(r, "workflow", "stage", "step"), want)
		},
		// Each run is counted once over the whole range, at its end time.
		"Runs by result/A": func(t *testing.T, r *testenv.Result) {
			got := map[string]float64{}
			for _, s := range r.Series {
				for _, p := range s.Values {
					got[s.Metric["result"]] += p.V
				}
			}
			wantValues(t, "runs by result over the range", got, map[string]float64{
				"success": float64(count(synth, ok) + 1), "failure": float64(count(synth, failed))})
		},
		"Run duration, one point per run/A": func(t *testing.T, r *testenv.Result) {
			for p := range pipelines {
				s := seriesWith(r, "pipeline", p)
				if s == nil {
					t.Errorf("no series for %s", p)
					continue
				}
				e.wantRunPoints(t, "duration of "+p, *s, e.inRange(e.pipelineRuns(p)), func(x *synthRun) float64 { return x.duration().Seconds() })
			}
		},
		"Run duration p50 / p90, rolling ${window:text}/A": func(t *testing.T, r *testenv.Result) {
			e.wantLast(t, "rolling p50", r, "pipeline", func(rs []*synthRun) float64 { return quantile(0.5, durations(rs)) }, nil)
		},
		"Run duration p50 / p90, rolling ${window:text}/B": func(t *testing.T, r *testenv.Result) {
			e.wantLast(t, "rolling p90", r, "pipeline", func(rs []*synthRun) float64 { return quantile(0.9, durations(rs)) }, nil)
		},
		"Success rate, rolling ${window:text}/A": func(t *testing.T, r *testenv.Result) {
			e.wantLast(t, "rolling success rate", r, "pipeline", func(rs []*synthRun) float64 { return float64(count(rs, ok)) / float64(len(rs)) },
				map[string]float64{incompleteRun.pipeline: 1})
		},
	}
}

// wantLast checks the value at the last step of each pipeline's series
// against f over the pipeline's runs of the last day (the window), and
// extra's values for the series that are not a synthetic pipeline's.
func (e *e2e) wantLast(t *testing.T, what string, r *testenv.Result, label string, f func([]*synthRun) float64, extra map[string]float64) {
	t.Helper()
	got := map[string]float64{}
	for _, s := range r.Series {
		if n := len(s.Values); n > 0 && approx(s.Values[n-1].T, float64(e.end.UnixMilli())/1000) {
			got[s.Metric[label]] = s.Values[n-1].V
		}
	}
	want := map[string]float64{}
	for _, p := range []string{"ml-train", "nightly-etl", "batch-fanout"} {
		var rs []*synthRun
		for _, x := range e.pipelineRuns(p) {
			if x.end.After(e.end.Add(-24 * time.Hour)) {
				rs = append(rs, x)
			}
		}
		want[p] = f(rs)
	}
	for k, v := range extra {
		want[k] = v
	}
	wantValues(t, what+" at the end", got, want)
}

func (e *e2e) overviewOneChecks() checks {
	ml := e.pipelineRuns("ml-train")
	failed := ml[mlFailedRun]
	return checks{
		"Finished runs/A": func(t *testing.T, r *testenv.Result) { single(t, "finished runs", r, float64(len(ml))) },
		"Success rate/A": func(t *testing.T, r *testenv.Result) {
			single(t, "success rate", r, float64(len(ml)-1)/float64(len(ml)))
		},
		"Failed runs/A": func(t *testing.T, r *testenv.Result) { single(t, "failed runs", r, 1) },
		"Recent failed runs/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "failed runs", byLabel(r, "workflow", "step"), map[string]float64{failed.name + "/evaluate": float64(failed.end.UnixMilli())})
		},
	}
}

// perStage collects, per pipeline stage, f of each run's stage values
// (the runs where the stage has them), and reduces them with agg.
func perStage(runs []*synthRun, f func(v *stageVals) (float64, bool), agg func([]float64) float64) map[string]float64 {
	vals := map[string][]float64{}
	for _, r := range runs {
		for st, v := range r.stageTotals() {
			if x, ok := f(v); ok {
				vals[st] = append(vals[st], x)
			}
		}
	}
	out := map[string]float64{}
	for st, v := range vals {
		out[st] = agg(v)
	}
	return out
}

func wallOf(v *stageVals) (float64, bool)     { return v.wall, v.hasWall }
func itemSecsOf(v *stageVals) (float64, bool) { return v.itemSecs, v.hasWall }
func sum(v []float64) (s float64) {
	for _, x := range v {
		s += x
	}
	return s
}
func maxOf(v []float64) float64   { return quantile(1, v) }
func countOf(v []float64) float64 { return float64(len(v)) }
func quantileOf(q float64) func([]float64) float64 {
	return func(v []float64) float64 { return quantile(q, v) }
}

// itemsOf is a stage's items with a result in results (all when none).
func itemsOf(results ...string) func(v *stageVals) (float64, bool) {
	return func(v *stageVals) (float64, bool) {
		if v == nil {
			return 0, false
		}
		n := 0.0
		for r, x := range v.items {
			if len(results) == 0 || contains(results, r) {
				n += x
			}
		}
		return n, n > 0
	}
}

var failedResultList = strings.Split(failedResults, "|")

func retriesOf(v *stageVals) (float64, bool) { return v.retries, v.retries > 0 }

// resourceOf is a stage's usage of the resources, scaled.
func resourceOf(scale float64, names ...string) func(v *stageVals) (float64, bool) {
	return func(v *stageVals) (float64, bool) {
		x, ok := 0.0, false
		for _, n := range names {
			if r, has := v.res[n]; has {
				x, ok = x+r*scale, true
			}
		}
		return x, ok
	}
}

// stageChecks are the checks of the stage panels over the runs of a
// pipeline, from the synthetic runs' own stage values.
func (e *e2e) stageChecks(runs []*synthRun, run *synthRun) checks {
	const items = "Items, failures and retries by stage/"
	one := func(f func(v *stageVals) (float64, bool)) map[string]float64 {
		return perStage([]*synthRun{run}, f, sum)
	}
	return checks{
		"Slowest stages/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "runs per stage", byLabel(r, "stage"), perStage(runs, wallOf, countOf))
		},
		"Slowest stages/B": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "wall time p50 per stage", byLabel(r, "stage"), perStage(runs, wallOf, quantileOf(0.5)))
		},
		"Slowest stages/C": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "wall time p90 per stage", byLabel(r, "stage"), perStage(runs, wallOf, quantileOf(0.9)))
		},
		"Slowest stages/D": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "longest wall time per stage", byLabel(r, "stage"), perStage(runs, wallOf, maxOf))
		},
		"Slowest stages/E": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "summed item time p50 per stage", byLabel(r, "stage"), perStage(runs, itemSecsOf, quantileOf(0.5)))
		},
		"Stage breakdown of the run/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "wall time of the run's stages", byLabel(r, "stage"), one(wallOf))
		},
		"Stage breakdown of the run/B": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "summed item time of the run's stages", byLabel(r, "stage"), one(itemSecsOf))
		},
		items + "A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "items", byLabel(r, "stage"), perStage(runs, itemsOf(), sum))
		},
		items + "B": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "failed items", byLabel(r, "stage"), perStage(runs, itemsOf(failedResultList...), sum))
		},
		items + "C": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "retries", byLabel(r, "stage"), perStage(runs, retriesOf, sum))
		},
		"CPU by stage/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "CPU core-hours", byLabel(r, "stage"), perStage(runs, resourceOf(1.0/3600, "cpu"), sum))
		},
		"Memory by stage/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "memory GiB-hours", byLabel(r, "stage"), perStage(runs, resourceOf(100.0/1024/3600, "memory"), sum))
		},
		"GPU by stage/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "GPU-hours", byLabel(r, "stage"), perStage(runs, resourceOf(1.0/3600, "nvidia.com/gpu"), sum))
		},
		"Failed items by stage/A": func(t *testing.T, r *testenv.Result) {
			for st := range perStage(runs, itemsOf(failedResultList...), sum) {
				s := seriesWith(r, "stage", st)
				if s == nil {
					t.Errorf("no failed items of %s: %v", st, r.Series)
					continue
				}
				var with []*synthRun
				for _, x := range runs {
					if n, ok := itemsOf(failedResultList...)(x.stageTotals()[st]); ok && n > 0 {
						with = append(with, x)
					}
				}
				e.wantRunPoints(t, "failed items of "+st, *s, with, func(x *synthRun) float64 {
					n, _ := itemsOf(failedResultList...)(x.stageTotals()[st])
					return n
				})
			}
		},
	}
}

func (e *e2e) stagesChecks() checks {
	ml := e.pipelineRuns("ml-train")
	run := ml[mlRetryRun]
	c := e.stageChecks(ml, run)
	more := checks{
		"Stage wall time, one point per run/A": func(t *testing.T, r *testenv.Result) {
			if len(r.Series) != 6 {
				t.Errorf("%d series, want one per stage (6; a fan-out's items are one)", len(r.Series))
			}
			for _, st := range []string{"train", "evaluate"} {
				s := seriesWith(r, "stage", st)
				if s == nil {
					t.Errorf("no series for %s", st)
					continue
				}
				e.wantRunPoints(t, st, *s, ml, func(x *synthRun) float64 { return x.stageTotals()[st].wall })
			}
		},
		"Stage p90 across runs/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "p90 per stage", byLabel(r, "stage"), perStage(ml, wallOf, quantileOf(0.9)))
			for i := 1; i < len(r.Series); i++ {
				if r.Series[i].Value.V > r.Series[i-1].Value.V {
					t.Errorf("not sorted slowest first: %v", r.Series)
					break
				}
			}
		},
		"Result/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "result", byLabel(r, "namespace", "workflow", "result"), map[string]float64{"ml/" + run.name + "/success": 1})
		},
		"Duration/A": func(t *testing.T, r *testenv.Result) { single(t, "duration", r, run.duration().Seconds()) },
		"Started/A":  func(t *testing.T, r *testenv.Result) { single(t, "started", r, float64(run.start.UnixMilli())) },
		"Retries/A":  func(t *testing.T, r *testenv.Result) { single(t, "retries", r, 1) },
		"Waiting/A":  func(t *testing.T, r *testenv.Result) { single(t, "waiting", r, float64(100+30*mlRetryRun)) },
		"Finished steps/A": func(t *testing.T, r *testenv.Result) {
			single(t, "finished steps", r, float64(count1(run, "Pod")+count1(run, "Suspend")))
		},
		"Steps of the run/B": func(t *testing.T, r *testenv.Result) {
			want := map[string]float64{}
			for _, n := range run.nodes {
				if n.typ == "Pod" {
					a := ""
					if n.attempt >= 0 {
						a = fmt.Sprint(n.attempt)
					}
					want[n.group+"/"+n.item+"/"+n.stage+"/"+a+"/"+nodeResult(n.phase)] = n.end.Sub(n.start).Seconds()
				}
			}
			wantValues(t, "steps (stage/item/step/attempt/result -> duration)", byLabel(r, "stage", "item", "step", "attempt", "result"), want)
		},
		"Items, failures and retries by stage/D": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "runs failed at the stage", byLabel(r, "stage"), map[string]float64{"evaluate": 1})
		},
		"Resources per run/C": func(t *testing.T, r *testenv.Result) {
			if len(r.Series) != 1 {
				t.Fatalf("%d series", len(r.Series))
			}
			e.wantRunPoints(t, "GPU-hours per run", r.Series[0], ml, func(x *synthRun) float64 {
				return sum(mapValues(perStage([]*synthRun{x}, resourceOf(1.0/3600, "nvidia.com/gpu"), sum)))
			})
		},
		"Waiting time per run/A": func(t *testing.T, r *testenv.Result) {
			e.wantRunPoints(t, "waiting per run", r.Series[0], ml, func(x *synthRun) float64 {
				if n := x.nodeOf("approve"); n != nil && n.typ == "Suspend" {
					return n.end.Sub(n.start).Seconds()
				}
				return 0
			})
		},
		"Waiting by suspend stage, p50 across runs/A": func(t *testing.T, r *testenv.Result) {
			var waits []float64
			for _, x := range ml {
				if n := x.nodeOf("approve"); n.typ == "Suspend" {
					waits = append(waits, n.end.Sub(n.start).Seconds())
				}
			}
			wantValues(t, "waiting p50", byLabel(r, "stage"), map[string]float64{"approve": quantile(0.5, waits)})
		},
	}
	for k, v := range more {
		c[k] = v
	}
	return c
}

func mapValues(m map[string]float64) []float64 {
	var out []float64
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

func count1(r *synthRun, typ string) (n int) {
	for _, nd := range r.nodes {
		if nd.typ == typ {
			n++
		}
	}
	return n
}

func (e *e2e) stagesFailedRunChecks() checks {
	run := e.pipelineRuns("ml-train")[mlFailedRun]
	// The chosen stages: train and approve (omitted in this run).
	train := run.stageTotals()["train"]
	return checks{
		"Result/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "result", byLabel(r, "workflow", "result"), map[string]float64{run.name + "/failure": 1})
		},
		"Stage breakdown of the run/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "breakdown", byLabel(r, "stage"), map[string]float64{"train": train.wall})
		},
		"Stage breakdown of the run/B": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "summed item time", byLabel(r, "stage"), map[string]float64{"train": train.itemSecs})
		},
		// Skipped steps are listed too, with their result.
		"Steps of the run/D": func(t *testing.T, r *testenv.Result) {
			want := map[string]float64{"approve/skip": 1}
			for _, s := range trainSteps {
				want[s+"/success"] = 1
			}
			wantValues(t, "steps", byLabel(r, "step", "result"), want)
		},
	}
}

func (e *e2e) templateChecks() checks {
	fan := e.pipelineRuns("batch-fanout")
	steps := map[string]float64{}
	total := map[string]float64{}
	longest := map[string]float64{}
	for _, r := range fan {
		for _, n := range r.nodes {
			if n.typ != "Pod" {
				continue
			}
			d := n.end.Sub(n.start).Seconds()
			steps[n.template]++
			total[n.template] += d
			if d > longest[n.template] {
				longest[n.template] = d
			}
		}
	}
	mean := map[string]float64{}
	for k := range total {
		mean[k] = total[k] / steps[k]
	}
	// The stage families are pushed in --steps template too: the 12-way
	// fan-out is one stage, shard.
	c := e.stageChecks(fan, e.run("batch-fanout", 1))
	for k, v := range (checks{
		"Templates/A": func(t *testing.T, r *testenv.Result) { wantValues(t, "steps", byLabel(r, "template"), steps) },
		"Templates/B": func(t *testing.T, r *testenv.Result) { wantValues(t, "mean", byLabel(r, "template"), mean) },
		"Templates/C": func(t *testing.T, r *testenv.Result) { wantValues(t, "longest", byLabel(r, "template"), longest) },
		"Templates/D": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "failed steps", byLabel(r, "template"), map[string]float64{"shard": 1})
		},
		"Templates/E": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "retries", byLabel(r, "template"), map[string]float64{"shard": 1})
		},
		"Stage wall time, one point per run/A": func(t *testing.T, r *testenv.Result) {
			s := seriesWith(r, "stage", "shard")
			if s == nil {
				t.Fatalf("no series for shard: %v", r.Series)
			}
			e.wantRunPoints(t, "shard", *s, fan, func(x *synthRun) float64 { return x.stageTotals()["shard"].wall })
		},
	}) {
		c[k] = v
	}
	return c
}

func (e *e2e) mlChecks() checks {
	ml := e.pipelineRuns("ml-train")
	var withAcc []*synthRun
	index := map[*synthRun]int{}
	for i, r := range ml {
		index[r] = i
		if i != mlFailedRun {
			withAcc = append(withAcc, r)
		}
	}
	accuracies := func(split string) []float64 {
		var out []float64
		for _, r := range withAcc {
			out = append(out, customAccuracy(index[r], split))
		}
		return out
	}
	const acc, sps = "@pipeline_custom_accuracy", "@pipeline_custom_samples_per_second"
	return checks{
		"Metrics of run ${run:text}/A": func(t *testing.T, r *testenv.Result) {
			got := map[string]float64{}
			for _, s := range r.Series {
				got[s.Metric["__name__"]+"/"+s.Metric["step"]+"/"+s.Metric["split"]] = s.Value.V
			}
			want := map[string]float64{
				"pipeline_custom_accuracy/evaluate/test":  customAccuracy(mlRetryRun, "test"),
				"pipeline_custom_accuracy/evaluate/train": customAccuracy(mlRetryRun, "train"),
			}
			for k, s := range trainSteps {
				want["pipeline_custom_samples_per_second/"+s+"/"] = customSamples(mlRetryRun, k)
			}
			wantValues(t, "metrics of the run", got, want)
		},
		"$metric across runs/A" + acc: func(t *testing.T, r *testenv.Result) {
			for _, split := range []string{"test", "train"} {
				s := seriesWith(r, "split", split)
				if s == nil {
					t.Errorf("no series for split %s: %v", split, r.Series)
					continue
				}
				if s.Metric["pipeline"] != "ml-train" || s.Metric["step"] != "evaluate" || s.Metric["workflow_id"] != "" {
					t.Errorf("labels %v: want pipeline and step, no run identity", s.Metric)
				}
				e.wantRunPoints(t, "accuracy "+split, *s, withAcc, func(x *synthRun) float64 { return customAccuracy(index[x], split) })
			}
		},
		"$metric across runs/A" + sps: func(t *testing.T, r *testenv.Result) {
			if len(r.Series) != len(trainSteps) {
				t.Errorf("%d series, want one per training step", len(r.Series))
			}
			for k, st := range trainSteps {
				if s := seriesWith(r, "step", st); s != nil {
					e.wantRunPoints(t, "samples/s "+st, *s, ml, func(x *synthRun) float64 { return customSamples(index[x], k) })
				}
			}
		},
		"$metric across runs: min, p50, p90, max/A" + acc: func(t *testing.T, r *testenv.Result) {
			wantValues(t, "runs", byLabel(r, "split"), map[string]float64{"test": float64(len(withAcc)), "train": float64(len(withAcc))})
		},
		"$metric across runs: min, p50, p90, max/B" + acc: func(t *testing.T, r *testenv.Result) {
			wantValues(t, "min", byLabel(r, "split"), map[string]float64{"test": quantile(0, accuracies("test")), "train": quantile(0, accuracies("train"))})
		},
		"$metric across runs: min, p50, p90, max/C" + acc: func(t *testing.T, r *testenv.Result) {
			wantValues(t, "p50", byLabel(r, "split"), map[string]float64{"test": quantile(0.5, accuracies("test")), "train": quantile(0.5, accuracies("train"))})
		},
		"$metric across runs: min, p50, p90, max/E" + acc: func(t *testing.T, r *testenv.Result) {
			wantValues(t, "max", byLabel(r, "split"), map[string]float64{"test": quantile(1, accuracies("test")), "train": quantile(1, accuracies("train"))})
		},
		"$metric by run/A" + acc: func(t *testing.T, r *testenv.Result) {
			want := map[string]float64{}
			for _, x := range withAcc {
				for _, split := range []string{"test", "train"} {
					want[x.name+"/"+split] = customAccuracy(index[x], split)
				}
			}
			wantValues(t, "by run", byLabel(r, "workflow", "split"), want)
		},
	}
}

func (e *e2e) mlOneChecks() checks {
	run := e.pipelineRuns("ml-train")[mlFailedRun]
	return checks{
		"Metrics of run ${run:text}/A": func(t *testing.T, r *testenv.Result) {
			want := map[string]float64{}
			for k, s := range trainSteps {
				want["pipeline_custom_samples_per_second/"+s] = customSamples(mlFailedRun, k)
			}
			wantValues(t, "metrics of "+run.name, byLabel(r, "__name__", "step"), want)
		},
		"$metric across runs: min, p50, p90, max/A@pipeline_custom_samples_per_second": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "runs", byLabel(r, "step"), map[string]float64{trainSteps[0]: mlRuns})
		},
	}
}

// rules runs every rule expression through the query API, checks which
// runs it selects, and waits for Prometheus's own evaluation of the loaded
// rules to agree.
func (e *e2e) rules(t *testing.T, rules []rule) {
	ml := e.pipelineRuns("ml-train")
	nightly := e.pipelineRuns("nightly-etl")
	slow := ml[mlSlowRun]
	// The slow run's training fan-out is one stage, slow as a whole: one
	// alert, with its wall time.
	wantSlow := map[string]float64{slow.name + "/train": slow.stageTotals()["train"].wall}
	want := map[string]func(t *testing.T, r *testenv.Result){
		// The failed runs that ended in the last 6 hours: not nightly-etl's
		// run of 20 hours ago, nor the failed fixtures of years ago.
		"PipelineRunFailed": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "failed runs", byLabel(r, "workflow", "result"), map[string]float64{
				ml[mlFailedRun].name + "/failure": 1, nightly[2].name + "/failure": 1})
		},
		"PipelineStageSlowerThanUsual": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "slow stages", byLabel(r, "workflow", "stage"), wantSlow)
		},
		"PipelineNoRecentSuccess": func(t *testing.T, r *testenv.Result) {
			got := byLabel(r, "namespace", "pipeline")
			since := e.end.Sub(nightly[0].end).Seconds()
			if len(got) != 1 || got["data/nightly-etl"] < since-1 || got["data/nightly-etl"] > since+1 {
				t.Errorf("pipelines without a recent success: %v, want data/nightly-etl at %v s", got, since)
			}
		},
		"PushgatewayPushFailed": func(t *testing.T, r *testenv.Result) {
			got := byLabel(r, "job", "namespace", "workflow_id")
			if _, ok := got["step-metrics/ml/"+ml[1].uid]; len(got) != 1 || !ok {
				t.Errorf("failed pushes: %v, want the group of %s", got, ml[1].name)
			}
		},
		"PipelineRunMetricsIncomplete": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "runs with incomplete metrics", byLabel(r, "namespace", "workflow", "reason"),
				map[string]float64{incompleteRun.namespace + "/" + incompleteRun.name + "/forbidden": 1})
		},
	}
	for _, rl := range rules {
		res, err := e.prom.Query(rl.Expr, e.end)
		if err != nil {
			t.Errorf("%s: %v", rl.Alert, err)
			continue
		}
		if len(res.Series) == 0 {
			t.Errorf("%s: no data", rl.Alert)
			continue
		}
		if check := want[rl.Alert]; check != nil {
			t.Run(rl.Alert, func(t *testing.T) { check(t, res) })
		} else {
			t.Errorf("%s: no expectation", rl.Alert)
		}
	}

	// Prometheus evaluates the loaded rules itself: the same alerts fire
	// (PipelineNoRecentSuccess waits its 15 minutes as pending).
	wantStates := map[string]string{
		"PipelineRunFailed/firing": "2", "PipelineStageSlowerThanUsual/firing": "1",
		"PushgatewayPushFailed/firing": "1", "PipelineNoRecentSuccess/pending": "1", "PipelineRunMetricsIncomplete/firing": "1",
	}
	var got map[string]string
	deadline := time.Now().Add(30 * time.Second)
	for {
		alerts, err := e.prom.Alerts()
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]string{}
		n := map[string]int{}
		for _, a := range alerts {
			n[a.Labels["alertname"]+"/"+a.State]++
		}
		for k, v := range n {
			got[k] = fmt.Sprint(v)
		}
		if fmt.Sprint(got) == fmt.Sprint(wantStates) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(wantStates) {
		t.Errorf("alerts = %v, want %v", got, wantStates)
	}
	loaded, err := e.prom.Rules()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range loaded {
		names = append(names, r.Name)
		if r.Health != "ok" {
			t.Errorf("rule %s: health %s %s", r.Name, r.Health, r.LastError)
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "PipelineNoRecentSuccess,PipelineRunFailed,PipelineRunMetricsIncomplete,PipelineStageSlowerThanUsual,PushgatewayPushFailed" {
		t.Errorf("loaded rules %v", names)
	}
}
