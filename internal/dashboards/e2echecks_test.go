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
	return checks{
		"Finished runs/A": func(t *testing.T, r *testenv.Result) { single(t, "finished runs", r, float64(len(synth))) },
		"Success rate/A": func(t *testing.T, r *testenv.Result) {
			single(t, "success rate", r, float64(count(synth, ok))/float64(len(synth)))
		},
		"Failed runs/A": func(t *testing.T, r *testenv.Result) { single(t, "failed runs", r, float64(count(synth, failed))) },
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
			wantValues(t, "runs", byLabel(r, "namespace", "pipeline"), perPipeline(func(rs []*synthRun) float64 { return float64(len(rs)) }))
		},
		"Pipelines/B": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "success rate", byLabel(r, "namespace", "pipeline"), perPipeline(func(rs []*synthRun) float64 {
				return float64(count(rs, ok)) / float64(len(rs))
			}))
		},
		"Pipelines/C": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "failed", byLabel(r, "namespace", "pipeline"), perPipeline(func(rs []*synthRun) float64 { return float64(count(rs, failed)) }))
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
			wantValues(t, "last run", byLabel(r, "namespace", "pipeline"), perPipeline(func(rs []*synthRun) float64 {
				return float64(rs[len(rs)-1].end.UnixMilli())
			}))
		},
		"Recent failed runs/A": func(t *testing.T, r *testenv.Result) {
			want := map[string]float64{}
			for _, x := range synth {
				if x.failed() {
					for _, n := range x.nodes {
						if n.phase == "Failed" && n.attempt < 0 {
							want[x.name+"/"+n.stage] = float64(x.end.UnixMilli())
						}
					}
				}
			}
			wantValues(t, "failed runs (workflow/step -> end ms)", byLabel(r, "workflow", "step"), want)
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
				"success": float64(count(synth, ok)), "failure": float64(count(synth, failed))})
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
			e.wantLast(t, "rolling p50", r, "pipeline", func(rs []*synthRun) float64 { return quantile(0.5, durations(rs)) })
		},
		"Run duration p50 / p90, rolling ${window:text}/B": func(t *testing.T, r *testenv.Result) {
			e.wantLast(t, "rolling p90", r, "pipeline", func(rs []*synthRun) float64 { return quantile(0.9, durations(rs)) })
		},
		"Success rate, rolling ${window:text}/A": func(t *testing.T, r *testenv.Result) {
			e.wantLast(t, "rolling success rate", r, "pipeline", func(rs []*synthRun) float64 { return float64(count(rs, ok)) / float64(len(rs)) })
		},
	}
}

// wantLast checks the value at the last step of each pipeline's series
// against f over the pipeline's runs of the last day (the window).
func (e *e2e) wantLast(t *testing.T, what string, r *testenv.Result, label string, f func([]*synthRun) float64) {
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

// stepSums returns, per stage, f summed over the attempts of the runs.
func stepSums(runs []*synthRun, f func(n synthNode) float64) map[string]float64 {
	out := map[string]float64{}
	for _, r := range runs {
		for _, n := range r.nodes {
			if n.typ == "Pod" {
				out[n.stage] += f(n)
			}
		}
	}
	return out
}

func (e *e2e) stagesChecks() checks {
	ml := e.pipelineRuns("ml-train")
	run := ml[mlRetryRun]
	perStep := func(f func([]float64) float64) map[string]float64 {
		vals := map[string][]float64{}
		for _, r := range ml {
			for s, d := range r.byStep {
				vals[s] = append(vals[s], d.Seconds())
			}
		}
		out := map[string]float64{}
		for s, v := range vals {
			out[s] = f(v)
		}
		return out
	}
	res := func(name string, scale float64) func(n synthNode) float64 {
		return func(n synthNode) float64 { return float64(n.res[name]) * scale }
	}
	return checks{
		"Stage duration, one point per run/A": func(t *testing.T, r *testenv.Result) {
			for _, st := range []string{trainSteps[0], "evaluate"} {
				s := seriesWith(r, "step", st)
				if s == nil {
					t.Errorf("no series for %s", st)
					continue
				}
				e.wantRunPoints(t, st, *s, ml, func(x *synthRun) float64 { return x.byStep[st].Seconds() })
			}
		},
		"Slowest stages/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "runs per stage", byLabel(r, "step"), perStep(func(v []float64) float64 { return float64(len(v)) }))
		},
		"Slowest stages/B": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "p50 per stage", byLabel(r, "step"), perStep(func(v []float64) float64 { return quantile(0.5, v) }))
		},
		"Slowest stages/C": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "p90 per stage", byLabel(r, "step"), perStep(func(v []float64) float64 { return quantile(0.9, v) }))
		},
		"Stage p90 across runs/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "p90 per stage", byLabel(r, "step"), perStep(func(v []float64) float64 { return quantile(0.9, v) }))
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
		"Stage breakdown of the run/A": func(t *testing.T, r *testenv.Result) {
			want := map[string]float64{}
			for s, d := range run.byStep {
				want[s] = d.Seconds()
			}
			wantValues(t, "breakdown", byLabel(r, "step"), want)
		},
		"Stage breakdown of the run/B": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "waiting", byLabel(r, "step"), map[string]float64{"approve": float64(100 + 30*mlRetryRun)})
		},
		"Steps of the run/B": func(t *testing.T, r *testenv.Result) {
			want := map[string]float64{}
			for _, n := range run.nodes {
				if n.typ == "Pod" {
					a := ""
					if n.attempt >= 0 {
						a = fmt.Sprint(n.attempt)
					}
					want[n.stage+"/"+a+"/"+map[string]string{"Succeeded": "success", "Failed": "failure"}[n.phase]] = n.end.Sub(n.start).Seconds()
				}
			}
			wantValues(t, "steps (step/attempt/result -> duration)", byLabel(r, "step", "attempt", "result"), want)
		},
		"Failures and retries by stage/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "failed attempts", byLabel(r, "step"), map[string]float64{trainSteps[0]: 1, "evaluate": 1})
		},
		"Failures and retries by stage/B": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "retries", byLabel(r, "step"), map[string]float64{trainSteps[0]: 1, trainSteps[1]: 0, trainSteps[2]: 0})
		},
		"Failures and retries by stage/C": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "runs failed at the stage", byLabel(r, "step"), map[string]float64{"evaluate": 1})
		},
		"Failed attempts by stage/A": func(t *testing.T, r *testenv.Result) {
			if s := seriesWith(r, "step", trainSteps[0]); s == nil {
				t.Errorf("no failed attempts of %s", trainSteps[0])
			} else {
				e.wantRunPoints(t, "failed attempts", *s, []*synthRun{run}, func(*synthRun) float64 { return 1 })
			}
		},
		"CPU by stage/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "CPU core-hours", byLabel(r, "step"), stepSums(ml, res("cpu", 1.0/3600)))
		},
		"Memory by stage/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "memory GiB-hours", byLabel(r, "step"), stepSums(ml, res("memory", 100.0/1024/3600)))
		},
		"GPU by stage/A": func(t *testing.T, r *testenv.Result) {
			want := stepSums(ml, res("nvidia.com/gpu", 1.0/3600))
			for k, v := range want {
				if v == 0 {
					delete(want, k)
				}
			}
			wantValues(t, "GPU-hours", byLabel(r, "step"), want)
		},
		"Resources per run/C": func(t *testing.T, r *testenv.Result) {
			if len(r.Series) != 1 {
				t.Fatalf("%d series", len(r.Series))
			}
			e.wantRunPoints(t, "GPU-hours per run", r.Series[0], ml, func(x *synthRun) float64 {
				return stepSums([]*synthRun{x}, res("nvidia.com/gpu", 1.0/3600))[trainSteps[0]] +
					stepSums([]*synthRun{x}, res("nvidia.com/gpu", 1.0/3600))[trainSteps[1]] +
					stepSums([]*synthRun{x}, res("nvidia.com/gpu", 1.0/3600))[trainSteps[2]]
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
		"Waiting by suspend step, p50 across runs/A": func(t *testing.T, r *testenv.Result) {
			var waits []float64
			for _, x := range ml {
				if n := x.nodeOf("approve"); n.typ == "Suspend" {
					waits = append(waits, n.end.Sub(n.start).Seconds())
				}
			}
			wantValues(t, "waiting p50", byLabel(r, "step"), map[string]float64{"approve": quantile(0.5, waits)})
		},
	}
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
	return checks{
		"Result/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "result", byLabel(r, "workflow", "result"), map[string]float64{run.name + "/failure": 1})
		},
		"Stage breakdown of the run/A": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "breakdown", byLabel(r, "step"), map[string]float64{trainSteps[0]: run.byStep[trainSteps[0]].Seconds()})
		},
		// Skipped steps are listed too, with their result.
		"Steps of the run/D": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "steps", byLabel(r, "step", "result"), map[string]float64{trainSteps[0] + "/success": 1, "approve/skip": 1})
		},
	}
}

func (e *e2e) templateChecks() checks {
	fan := e.pipelineRuns("batch-fanout")
	steps := map[string]float64{}
	sum := map[string]float64{}
	longest := map[string]float64{}
	for _, r := range fan {
		for _, n := range r.nodes {
			if n.typ != "Pod" {
				continue
			}
			d := n.end.Sub(n.start).Seconds()
			steps[n.template]++
			sum[n.template] += d
			if d > longest[n.template] {
				longest[n.template] = d
			}
		}
	}
	mean := map[string]float64{}
	for k := range sum {
		mean[k] = sum[k] / steps[k]
	}
	return checks{
		"Templates/A": func(t *testing.T, r *testenv.Result) { wantValues(t, "steps", byLabel(r, "template"), steps) },
		"Templates/B": func(t *testing.T, r *testenv.Result) { wantValues(t, "mean", byLabel(r, "template"), mean) },
		"Templates/C": func(t *testing.T, r *testenv.Result) { wantValues(t, "longest", byLabel(r, "template"), longest) },
		"Templates/D": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "failed steps", byLabel(r, "template"), map[string]float64{"shard": 1})
		},
		"Templates/E": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "retries", byLabel(r, "template"), map[string]float64{"shard": 1})
		},
	}
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
	wantSlow := map[string]float64{}
	for _, s := range trainSteps {
		wantSlow[slow.name+"/"+s] = slow.byStep[s].Seconds()
	}
	want := map[string]func(t *testing.T, r *testenv.Result){
		// The failed runs that ended in the last 6 hours: not nightly-etl's
		// run of 20 hours ago, nor the failed fixtures of years ago.
		"PipelineRunFailed": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "failed runs", byLabel(r, "workflow", "result"), map[string]float64{
				ml[mlFailedRun].name + "/failure": 1, nightly[2].name + "/failure": 1})
		},
		"PipelineStageSlowerThanUsual": func(t *testing.T, r *testenv.Result) {
			wantValues(t, "slow stages", byLabel(r, "workflow", "step"), wantSlow)
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
		"PipelineRunFailed/firing": "2", "PipelineStageSlowerThanUsual/firing": "3",
		"PushgatewayPushFailed/firing": "1", "PipelineNoRecentSuccess/pending": "1",
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
	if strings.Join(names, ",") != "PipelineNoRecentSuccess,PipelineRunFailed,PipelineStageSlowerThanUsual,PushgatewayPushFailed" {
		t.Errorf("loaded rules %v", names)
	}
}
