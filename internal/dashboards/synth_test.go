package dashboards

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Synthetic runs for the end-to-end test: small Argo Workflows written as
// `kubectl get wf -o yaml` prints them when the exit handler runs (root node
// finished), so the real binary reads them like any other.

type attempt struct {
	dur   time.Duration
	phase string // Succeeded, Failed, Error
	msg   string
	gpu   bool
	// metrics is the step's step-metrics output parameter: the custom
	// metrics it publishes about itself.
	metrics string
}

type stage struct {
	name, template string
	suspend        bool
	skipped        bool // Omitted: never ran
	retry          bool // under a Retry node (retryStrategy)
	parallel       bool // starts with the previous stage (a fan-out)
	// fanout and item: for an item of a withItems fan-out, the stage all
	// its items share and the item's index (name is its display name,
	// fanout(item:value)).
	fanout, item string
	attempts     []attempt
}

// group is the pipeline stage the step belongs to: its fan-out, or itself.
func (s stage) group() string {
	if s.fanout != "" {
		return s.fanout
	}
	return s.name
}

type synthRun struct {
	pipeline, namespace, name, uid string
	end                            time.Time
	phase                          string // the root node's phase
	steps                          string // --steps mode; "" for node
	stages                         []stage
	// Filled by layout.
	start time.Time
	nodes []synthNode
}

type synthNode struct {
	id, name, display, typ, template, phase, msg, host, metrics string
	start, end                                                  time.Time
	children                                                    []string
	res                                                         map[string]int64
	stage                                                       string // the step's name (a Retry's attempts share it)
	group, item                                                 string // its pipeline stage and fan-out item
	attempt                                                     int    // -1 unless under a Retry node
}

func (r *synthRun) duration() time.Duration { return r.end.Sub(r.start) }

func (r *synthRun) failed() bool { return r.phase == "Failed" || r.phase == "Error" }

// layout places the stages on a timeline ending at r.end: stages run one
// after the other (2 s apart) unless parallel, attempts 5 s apart.
func (r *synthRun) layout() {
	var cursor, groupStart time.Duration
	type placed struct {
		s          stage
		start, end []time.Duration
	}
	var ps []placed
	for _, s := range r.stages {
		start := cursor + 2*time.Second
		if s.parallel {
			start = groupStart
		} else {
			groupStart = start
		}
		p := placed{s: s}
		t := start
		for _, a := range s.attempts {
			p.start = append(p.start, t)
			p.end = append(p.end, t+a.dur)
			t += a.dur + 5*time.Second
		}
		if len(p.end) > 0 && p.end[len(p.end)-1] > cursor {
			cursor = p.end[len(p.end)-1]
		}
		ps = append(ps, p)
	}
	total := cursor + time.Second
	r.start = r.end.Add(-total)
	n := 0
	id := func() string { n++; return fmt.Sprintf("%s-%d", r.name, 1000+n) }
	for _, p := range ps {
		s := p.s
		if s.skipped {
			r.nodes = append(r.nodes, synthNode{id: id(), name: r.name + "." + s.name, display: s.name, typ: "Skipped",
				template: s.template, phase: "Omitted", stage: s.name, group: s.group(), item: s.item, attempt: -1})
			continue
		}
		var kids []string
		for i, a := range s.attempts {
			typ := "Pod"
			if s.suspend {
				typ = "Suspend"
			}
			nd := synthNode{id: id(), name: r.name + "." + s.name, display: s.name, typ: typ, template: s.template,
				phase: a.phase, msg: a.msg, metrics: a.metrics, start: r.start.Add(p.start[i]), end: r.start.Add(p.end[i]), stage: s.name, group: s.group(), item: s.item, attempt: -1}
			if s.retry {
				nd.name = fmt.Sprintf("%s.%s(%d)", r.name, s.name, i)
				nd.display = fmt.Sprintf("%s(%d)", s.name, i)
				nd.attempt = i
			}
			if !s.suspend {
				nd.host = "cpu-pool-1"
				secs := int64(a.dur.Seconds())
				nd.res = map[string]int64{"cpu": secs, "memory": 20 * secs}
				if a.gpu {
					nd.host = "gpu-pool-1"
					nd.res["nvidia.com/gpu"] = secs
					nd.res["cpu"] = 4 * secs
				}
			}
			kids = append(kids, nd.id)
			r.nodes = append(r.nodes, nd)
		}
		if s.retry {
			last := r.nodes[len(r.nodes)-1]
			r.nodes = append(r.nodes, synthNode{id: id(), name: r.name + "." + s.name, display: s.name, typ: "Retry",
				template: s.template, phase: last.phase, start: r.start.Add(p.start[0]), end: last.end, children: kids, stage: s.name, group: s.group(), item: s.item, attempt: -1})
		}
	}
}

// nodeOf returns the node of a stage's last attempt (not the Retry node).
func (r *synthRun) nodeOf(stage string) *synthNode {
	var out *synthNode
	for i := range r.nodes {
		if r.nodes[i].stage == stage && r.nodes[i].typ != "Retry" {
			out = &r.nodes[i]
		}
	}
	return out
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// yaml renders the Workflow.
func (r *synthRun) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: %s
  namespace: %s
  uid: %s
  labels:
    workflows.argoproj.io/workflow-template: %s
spec:
  entrypoint: main
status:
  phase: Running
  startedAt: %q
  nodes:
`, r.name, r.namespace, r.uid, r.pipeline, ts(r.start))
	var kids []string
	for _, n := range r.nodes {
		if n.attempt < 0 || n.typ == "Retry" {
			kids = append(kids, n.id)
		}
	}
	node := func(n synthNode) {
		fmt.Fprintf(&b, "    %s:\n      id: %s\n      name: %q\n      displayName: %q\n      type: %s\n      templateName: %s\n      phase: %s\n",
			n.id, n.id, n.name, n.display, n.typ, n.template, n.phase)
		if n.id != r.name {
			fmt.Fprintf(&b, "      boundaryID: %s\n", r.name)
		}
		if n.msg != "" {
			fmt.Fprintf(&b, "      message: %q\n", n.msg)
		}
		if n.host != "" {
			fmt.Fprintf(&b, "      hostNodeName: %s\n", n.host)
		}
		if !n.start.IsZero() {
			fmt.Fprintf(&b, "      startedAt: %q\n      finishedAt: %q\n", ts(n.start), ts(n.end))
		}
		if len(n.res) > 0 {
			var parts []string
			for _, k := range sortedKeys(n.res) {
				parts = append(parts, fmt.Sprintf("%s: %d", k, n.res[k]))
			}
			fmt.Fprintf(&b, "      resourcesDuration: {%s}\n", strings.Join(parts, ", "))
		}
		if n.metrics != "" {
			fmt.Fprintf(&b, "      outputs:\n        parameters:\n        - name: step-metrics\n          value: %q\n", n.metrics)
		}
		if len(n.children) > 0 {
			fmt.Fprintf(&b, "      children: [%s]\n", strings.Join(n.children, ", "))
		}
	}
	node(synthNode{id: r.name, name: r.name, display: r.name, typ: "DAG", template: "main", phase: r.phase,
		start: r.start, end: r.end, children: kids})
	for _, n := range r.nodes {
		node(n)
	}
	return b.String()
}

func ok(d time.Duration) attempt { return attempt{dur: d, phase: "Succeeded"} }

func okGPU(d time.Duration) attempt { return attempt{dur: d, phase: "Succeeded", gpu: true} }

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

// The synthetic pipelines. ml-train: 8 runs 5 hours apart, the last ending
// 25 minutes ago (fetch, preprocess, a 3-way hyper-parameter fan-out under
// retryStrategy whose items train(0:...), train(1:...), train(2:...) are
// one stage, train, evaluate, an approval, register; the steps publish
// custom metrics); run 2 retries a training item after an OOM kill, run 6 fails at
// evaluate (approve and register are omitted), run 7 trains three times
// slower than usual. nightly-etl: a
// success 30 hours ago, failures 20 and 3 hours ago. batch-fanout: two runs
// of a 12-way fan-out (one stage, shard; run 1 retries item 3) pushed with
// --steps template.
const (
	mlRuns      = 8
	mlFailedRun = 6
	mlRetryRun  = 2
	mlSlowRun   = 7
)

var trainSteps = []string{"train(0:lr-0.01)", "train(1:lr-0.001)", "train(2:lr-0.0001)"}

func synthRuns(now time.Time) []*synthRun {
	var runs []*synthRun
	for i := 0; i < mlRuns; i++ {
		r := &synthRun{pipeline: "ml-train", namespace: "ml", name: fmt.Sprintf("ml-train-%c%c%c", 'a'+i, 'x', 'q'),
			uid: fmt.Sprintf("00000000-0000-4000-8000-0000000000%02d", i), end: now.Add(-25*time.Minute - time.Duration(mlRuns-1-i)*5*time.Hour), phase: "Succeeded"}
		train := []int{600 + 10*i, 620 + 5*i, 580 + 8*i}
		if i == mlSlowRun {
			train = []int{1900, 1900, 1900}
		}
		r.stages = []stage{
			{name: "fetch-data", template: "fetch-data", attempts: []attempt{ok(sec(60 + 5*i))}},
			{name: "preprocess", template: "preprocess", attempts: []attempt{ok(sec(170 + 10*(i%3)))}},
		}
		for k, name := range trainSteps {
			st := stage{name: name, template: "train", retry: true, parallel: k > 0, fanout: "train", item: fmt.Sprint(k),
				attempts: []attempt{okGPU(sec(train[k]))}}
			if i == mlRetryRun && k == 0 {
				st.attempts = []attempt{{dur: sec(120), phase: "Failed", msg: "OOMKilled (exit code 137)", gpu: true}, okGPU(sec(train[k]))}
			}
			// The training publishes its throughput (the OOM-killed attempt
			// published nothing).
			st.attempts[len(st.attempts)-1].metrics = fmt.Sprintf(`{"samples_per_second": %g}`, customSamples(i, k))
			r.stages = append(r.stages, st)
		}
		if i == mlFailedRun {
			r.phase = "Failed"
			r.stages = append(r.stages,
				stage{name: "evaluate", template: "evaluate", attempts: []attempt{{dur: sec(95), phase: "Failed", msg: "Error (exit code 1)"}}},
				stage{name: "approve", template: "approve", skipped: true},
				stage{name: "register-model", template: "model-registry/register", skipped: true})
		} else {
			r.stages = append(r.stages,
				stage{name: "evaluate", template: "evaluate", attempts: []attempt{{dur: sec(120), phase: "Succeeded",
					metrics: fmt.Sprintf("# HELP accuracy Accuracy of the model.\naccuracy{split=\"test\"} %g\naccuracy{split=\"train\"} %g\n",
						customAccuracy(i, "test"), customAccuracy(i, "train"))}}},
				stage{name: "approve", template: "approve", suspend: true, attempts: []attempt{ok(sec(100 + 30*i))}},
				stage{name: "register-model", template: "model-registry/register", attempts: []attempt{ok(sec(60))}})
		}
		runs = append(runs, r)
	}
	for i, e := range []struct {
		ago   time.Duration
		phase string
	}{{30 * time.Hour, "Succeeded"}, {20 * time.Hour, "Failed"}, {3 * time.Hour, "Failed"}} {
		r := &synthRun{pipeline: "nightly-etl", namespace: "data", name: fmt.Sprintf("nightly-etl-%d", 1764200000+i),
			uid: fmt.Sprintf("00000000-0000-4000-9000-0000000000%02d", i), end: now.Add(-e.ago), phase: e.phase}
		transform := attempt{dur: sec(900), phase: "Succeeded"}
		if e.phase == "Failed" {
			transform = attempt{dur: sec(400), phase: "Failed", msg: "Error (exit code 2)"}
		}
		r.stages = []stage{
			{name: "extract", template: "extract", attempts: []attempt{ok(sec(300))}},
			{name: "transform", template: "transform", attempts: []attempt{transform}},
		}
		if e.phase == "Failed" {
			r.stages = append(r.stages, stage{name: "load", template: "load", skipped: true})
		} else {
			r.stages = append(r.stages, stage{name: "load", template: "load", attempts: []attempt{ok(sec(200))}})
		}
		runs = append(runs, r)
	}
	for i := 0; i < 2; i++ {
		r := &synthRun{pipeline: "batch-fanout", namespace: "data", name: fmt.Sprintf("batch-fanout-%d", i), steps: "template",
			uid: fmt.Sprintf("00000000-0000-4000-a000-0000000000%02d", i), end: now.Add(-time.Duration(50-10*i) * time.Minute), phase: "Succeeded"}
		r.stages = []stage{{name: "prepare", template: "prepare", attempts: []attempt{ok(sec(30))}}}
		for k := 0; k < 12; k++ {
			st := stage{name: fmt.Sprintf("shard(%d:%d)", k, k), template: "shard", retry: true, parallel: k > 0,
				fanout: "shard", item: fmt.Sprint(k), attempts: []attempt{ok(sec(100 + 10*k))}}
			if i == 1 && k == 3 {
				st.attempts = []attempt{{dur: sec(20), phase: "Error", msg: "pod deleted"}, ok(sec(130))}
			}
			r.stages = append(r.stages, st)
		}
		r.stages = append(r.stages, stage{name: "merge", template: "merge", attempts: []attempt{ok(sec(60))}})
		runs = append(runs, r)
	}
	for _, r := range runs {
		r.layout()
	}
	return runs
}

// stageVals are what one pipeline stage of a run adds up to, computed
// from the synthetic nodes: the test's own account of the pipeline_stage_*
// families.
type stageVals struct {
	// wall is the time from the first item's start to the last item's
	// end; hasWall says an item ran (a stage of skipped steps has none).
	wall     float64
	hasWall  bool
	itemSecs float64
	items    map[string]float64 // finished items (attempts) by result
	retries  float64
	res      map[string]float64
}

// nodeResult is the result the binary gives a synthetic node's phase.
func nodeResult(phase string) string {
	return map[string]string{"Succeeded": "success", "Failed": "failure", "Error": "error", "Omitted": "skip"}[phase]
}

// stageTotals returns the run's values per pipeline stage: the items of a
// fan-out and all their attempts are one stage.
func (r *synthRun) stageTotals() map[string]*stageVals {
	out := map[string]*stageVals{}
	var first, last = map[string]time.Time{}, map[string]time.Time{}
	for _, n := range r.nodes {
		if n.typ == "Retry" {
			continue
		}
		v := out[n.group]
		if v == nil {
			v = &stageVals{items: map[string]float64{}, res: map[string]float64{}}
			out[n.group] = v
		}
		v.items[nodeResult(n.phase)]++
		if n.typ == "Skipped" {
			continue
		}
		if n.attempt > 0 {
			v.retries++
		}
		v.itemSecs += n.end.Sub(n.start).Seconds()
		for k, x := range n.res {
			v.res[k] += float64(x)
		}
		if f, ok := first[n.group]; !ok || n.start.Before(f) {
			first[n.group] = n.start
		}
		if l, ok := last[n.group]; !ok || n.end.After(l) {
			last[n.group] = n.end
		}
		v.hasWall = true
		v.wall = last[n.group].Sub(first[n.group]).Seconds()
	}
	return out
}

// quantile is PromQL's quantile(): linear interpolation at rank q*(n-1).
func quantile(q float64, vs []float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	rank := q * float64(len(s)-1)
	lo := int(rank)
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	w := rank - float64(lo)
	return s[lo]*(1-w) + s[lo+1]*w
}
