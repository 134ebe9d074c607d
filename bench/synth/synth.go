// Package synth generates realistic synthetic Argo Workflows of a given
// number of nodes, for benchmarks: the object `kubectl get wf -o json`
// prints while the workflow's exit handler runs.
//
// The shape is a data pipeline's DAG: fetch-data, plan, a fan-out over data
// shards (each a Retry node with one to three attempts: OOM kills and
// errors retried, a few shards failing for good or timing out, some skipped
// by a `when`), a fan-in that gathers them, a hyper-parameter fan-out of
// training runs on GPUs (also retried), evaluate, an approval (suspend), a
// register step through a templateRef, a notify-failure step skipped by its
// `when`, and the running exit hook (hooks.exit, nodeFlag.hooked) with the
// workflow still Running and its root node finished: the exit handler's
// view. Pods carry resourcesDuration, hostNodeName, inputs, an exit code
// and a main-logs artifact as Argo's controller writes them; every pod has
// its entry in status.taskResultsCompletionStatus.
//
//	data, err := synth.JSON(synth.Options{Nodes: 10000, Seed: 1})
//	data, err = synth.JSON(synth.Options{Nodes: 10000, Seed: 1, Compressed: true}) // status.compressedNodes (gzip)
//
// The output is deterministic: the same options give the same bytes.
package synth

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// MinNodes is the smallest workflow Generate builds: the fixed stages, the
// exit hook and one item in each fan-out.
const MinNodes = 16

// Options say what to generate.
type Options struct {
	// Nodes is the number of entries of status.nodes (at least MinNodes).
	Nodes int
	// Seed makes the run reproducible; runs with different seeds differ in
	// timings, failures and IDs.
	Seed uint64
	// Compressed puts the node map in status.compressedNodes (base64 of
	// gzip, as Argo v3 does for large workflows) instead of status.nodes.
	Compressed bool
	// Name is the workflow's name; empty means a name derived from Seed.
	Name string
	// Running leaves the root node Running too (a run caught before its
	// exit handler); by default the root is finished.
	Running bool
}

// Start is the start time of every generated workflow.
var Start = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// JSON returns the workflow as `kubectl get wf -o json` prints it.
func JSON(o Options) ([]byte, error) {
	wf, err := Generate(o)
	if err != nil {
		return nil, err
	}
	return json.Marshal(wf)
}

// Generate returns the workflow.
func Generate(o Options) (*wfv1.Workflow, error) {
	if o.Nodes < MinNodes {
		return nil, fmt.Errorf("synth: %d nodes: want at least %d", o.Nodes, MinNodes)
	}
	g := &gen{
		rng:   rand.New(rand.NewPCG(o.Seed, 0x5eed)),
		nodes: make(wfv1.Nodes, o.Nodes),
		tasks: map[string]bool{},
	}
	name := o.Name
	if name == "" {
		name = "fanout-" + g.suffix()
	}
	g.wf = name
	wf := &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, GenerateName: "fanout-", Namespace: "bench",
			UID:               types.UID(g.uuid()),
			ResourceVersion:   strconv.Itoa(100000 + g.rng.IntN(900000)),
			Generation:        int64(o.Nodes/3 + 5),
			CreationTimestamp: metav1.NewTime(Start),
			Labels: map[string]string{
				"workflows.argoproj.io/workflow-template": "shard-train-pipeline",
				"workflows.argoproj.io/phase":             "Running",
				"workflows.argoproj.io/creator":           "system-serviceaccount-argo-argo-server",
				"team":                                    "ml-platform",
			},
			Annotations: map[string]string{
				"workflows.argoproj.io/pod-name-format": "v2",
			},
		},
		Spec: wfv1.WorkflowSpec{
			Entrypoint:          "main",
			WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: "shard-train-pipeline"},
			Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{
				{Name: "dataset", Value: wfv1.AnyStringPtr("s3://datasets/clicks/2026-11-19")},
				{Name: "shards", Value: wfv1.AnyStringPtr("auto")},
			}},
			Hooks: wfv1.LifecycleHooks{wfv1.ExitLifecycleEvent: wfv1.LifecycleHook{
				TemplateRef: &wfv1.TemplateRef{Name: "step-metrics", Template: "push", ClusterScope: true},
				Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{
					{Name: "pushgateway-url", Value: wfv1.AnyStringPtr("http://pushgateway.monitoring.svc:9091")},
				}},
			}},
		},
	}
	g.build(o.Nodes, o.Running)
	res := wfv1.ResourcesDuration{}
	done := 0
	completion := map[string]bool{}
	for id, n := range g.nodes {
		for r, d := range n.ResourcesDuration {
			res[r] += d
		}
		if n.Type == wfv1.NodeTypePod {
			completion[id] = n.Phase.Completed()
		}
		if n.Fulfilled() {
			done++
		}
	}
	wf.Status = wfv1.WorkflowStatus{
		Phase:                       wfv1.WorkflowRunning,
		StartedAt:                   metav1.NewTime(Start),
		Progress:                    wfv1.Progress(fmt.Sprintf("%d/%d", done, len(g.nodes))),
		ResourcesDuration:           res,
		TaskResultsCompletionStatus: completion,
		ArtifactRepositoryRef: &wfv1.ArtifactRepositoryRefStatus{
			ArtifactRepositoryRef: wfv1.ArtifactRepositoryRef{ConfigMap: "artifact-repositories", Key: "default"},
			Namespace:             "bench", Default: false,
		},
		Conditions: wfv1.Conditions{{Type: wfv1.ConditionTypePodRunning, Status: metav1.ConditionTrue}},
	}
	if o.Compressed {
		s, err := compress(g.nodes)
		if err != nil {
			return nil, err
		}
		wf.Status.CompressedNodes = s
	} else {
		wf.Status.Nodes = g.nodes
	}
	return wf, nil
}

func compress(nodes wfv1.Nodes) (string, error) {
	raw, err := json.Marshal(nodes)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

type gen struct {
	rng   *rand.Rand
	wf    string
	nodes wfv1.Nodes
	tasks map[string]bool
}

const alphabet = "bcdfghjklmnpqrstvwxz2456789"

func (g *gen) suffix() string {
	b := make([]byte, 5)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *gen) uuid() string {
	a, b := g.rng.Uint64(), g.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, (b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}

// id returns a fresh node ID in Argo's form: the workflow name and a
// 32-bit hash of the node name, unique in the run.
func (g *gen) id() string {
	for {
		h := g.rng.Uint32()
		id := g.wf + "-" + strconv.FormatUint(uint64(h), 10)
		if _, taken := g.nodes[id]; !taken {
			return id
		}
	}
}

func (g *gen) at(t time.Time) metav1.Time { return metav1.NewTime(t) }

// secs returns a duration of about mean seconds (log-normal-ish spread).
func (g *gen) secs(mean float64) time.Duration {
	f := mean * (0.5 + g.rng.ExpFloat64()*0.5)
	return time.Duration(f * float64(time.Second)).Round(time.Second)
}

var (
	cpuHosts = []string{"cpu-pool-7f9c", "cpu-pool-8a1d", "cpu-pool-2b6e", "cpu-pool-5c3a", "cpu-pool-9e0f", "cpu-pool-1d4b"}
	gpuHosts = []string{"gpu-pool-a100-1", "gpu-pool-a100-2", "gpu-pool-a100-3", "gpu-pool-h100-1"}
)

type podSpec struct {
	name, display, template string
	templateRef             *wfv1.TemplateRef
	start                   time.Time
	dur                     time.Duration
	phase                   wfv1.NodePhase
	message                 string
	gpu                     bool
	inputs                  []wfv1.Parameter
	retried                 bool
	outputs                 []wfv1.Parameter
}

func (g *gen) pod(p podSpec) *wfv1.NodeStatus {
	id := g.id()
	host := cpuHosts[g.rng.IntN(len(cpuHosts))]
	if p.gpu {
		host = gpuHosts[g.rng.IntN(len(gpuHosts))]
	}
	s := int64(p.dur / time.Second)
	res := wfv1.ResourcesDuration{
		corev1.ResourceCPU:    wfv1.NewResourceDuration(time.Duration(s*int64(1+g.rng.IntN(4))) * time.Second),
		corev1.ResourceMemory: wfv1.NewResourceDuration(time.Duration(s*int64(10+g.rng.IntN(30))) * time.Second),
	}
	if p.gpu {
		res["nvidia.com/gpu"] = wfv1.NewResourceDuration(time.Duration(s) * time.Second)
	}
	exit := "0"
	switch {
	case p.phase == wfv1.NodeFailed && p.message == "OOMKilled (exit code 137)":
		exit = "137"
	case p.phase == wfv1.NodeFailed:
		exit = "1"
	}
	n := &wfv1.NodeStatus{
		ID: id, Name: p.name, DisplayName: p.display, Type: wfv1.NodeTypePod,
		TemplateName: p.template, TemplateRef: p.templateRef,
		TemplateScope: "local/" + g.wf, Phase: p.phase, BoundaryID: g.wf, Message: p.message,
		StartedAt: g.at(p.start), FinishedAt: g.at(p.start.Add(p.dur)),
		Progress: "1/1", ResourcesDuration: res, HostNodeName: host,
		Outputs: &wfv1.Outputs{
			ExitCode:   &exit,
			Parameters: p.outputs,
			Artifacts: wfv1.Artifacts{{Name: "main-logs", ArtifactLocation: wfv1.ArtifactLocation{
				S3: &wfv1.S3Artifact{Key: g.wf + "/" + g.wf + "-" + p.template + "-" + id[len(g.wf)+1:] + "/main.log"},
			}}},
		},
	}
	if p.templateRef != nil {
		n.TemplateName = ""
	}
	if len(p.inputs) > 0 {
		n.Inputs = &wfv1.Inputs{Parameters: p.inputs}
	}
	if p.retried {
		n.NodeFlag = &wfv1.NodeFlag{Retried: true}
	}
	if p.phase == wfv1.NodeFailed && p.message == "" {
		n.Message = "Error (exit code 1)"
	}
	g.nodes[id] = *n
	return n
}

func (g *gen) put(n *wfv1.NodeStatus) { g.nodes[n.ID] = *n }

func (g *gen) link(from string, to ...string) {
	n := g.nodes[from]
	n.Children = append(n.Children, to...)
	g.nodes[from] = n
}

// fanout builds a TaskGroup of items Retry nodes (and skipped items) of
// template tmpl starting at start, and returns the group node, the IDs of
// the items' last nodes (to link to the next stage) and the fan-out's end.
func (g *gen) fanout(task string, items int, start time.Time, mean float64, gpu bool, failRate float64) (string, []string, time.Time) {
	group := &wfv1.NodeStatus{
		ID: g.id(), Name: g.wf + "." + task, DisplayName: task, Type: wfv1.NodeTypeTaskGroup,
		TemplateName: task, TemplateScope: "local/" + g.wf, BoundaryID: g.wf, Phase: wfv1.NodeSucceeded,
		StartedAt: g.at(start),
	}
	g.put(group)
	var last []string
	end := start
	for i := 0; i < items; i++ {
		item := fmt.Sprintf("%s(%d:%s)", task, i, itemValue(task, i))
		name := g.wf + "." + item
		inputs := []wfv1.Parameter{{Name: itemParam(task), Value: wfv1.AnyStringPtr(itemValue(task, i))}}
		// Staggered starts: the controller creates pods in waves.
		s0 := start.Add(time.Duration(g.rng.IntN(1+items/50)) * time.Second)
		if g.rng.Float64() < 0.02 {
			sk := &wfv1.NodeStatus{
				ID: g.id(), Name: name, DisplayName: item, Type: wfv1.NodeTypeSkipped, TemplateName: task,
				TemplateScope: "local/" + g.wf, BoundaryID: g.wf, Phase: wfv1.NodeSkipped,
				Message: "when 'false' evaluated false", StartedAt: g.at(s0), FinishedAt: g.at(s0),
				Inputs: &wfv1.Inputs{Parameters: inputs},
			}
			g.put(sk)
			g.link(group.ID, sk.ID)
			last = append(last, sk.ID)
			continue
		}
		retry := &wfv1.NodeStatus{
			ID: g.id(), Name: name, DisplayName: item, Type: wfv1.NodeTypeRetry, TemplateName: task,
			TemplateScope: "local/" + g.wf, BoundaryID: g.wf, StartedAt: g.at(s0),
			Inputs: &wfv1.Inputs{Parameters: inputs},
		}
		g.put(retry)
		g.link(group.ID, retry.ID)
		// Attempts: most succeed first time; some are OOM-killed or error
		// and retried (retryStrategy.limit 2); a few fail for good or time out.
		attempts := 1
		r := g.rng.Float64()
		final := wfv1.NodeSucceeded
		finalMsg := ""
		switch {
		case r < failRate:
			attempts, final, finalMsg = 3, wfv1.NodeFailed, "No more retries left"
		case r < failRate*1.5:
			attempts, final, finalMsg = 1, wfv1.NodeFailed, "Pod was active on the node longer than the specified deadline"
		case r < 0.12:
			attempts = 2
		case r < 0.14:
			attempts = 3
		}
		t := s0
		var attemptID string
		for a := 0; a < attempts; a++ {
			phase, msg := wfv1.NodeSucceeded, ""
			d := g.secs(mean)
			switch {
			case a < attempts-1 && g.rng.IntN(2) == 0:
				phase, msg, d = wfv1.NodeFailed, "OOMKilled (exit code 137)", d/3
			case a < attempts-1:
				phase, msg = wfv1.NodeFailed, "Error (exit code 1)"
			case final != wfv1.NodeSucceeded && finalMsg != "No more retries left":
				phase, msg = final, finalMsg
			case final != wfv1.NodeSucceeded:
				phase, msg = wfv1.NodeFailed, "Error (exit code 1)"
			}
			var outs []wfv1.Parameter
			if phase == wfv1.NodeSucceeded && gpu {
				outs = []wfv1.Parameter{{
					Name:      "step-metrics",
					Value:     wfv1.AnyStringPtr(fmt.Sprintf("training_seconds %.1f\naccuracy{split=\"test\"} %.4f\n", d.Seconds()*0.9, 0.8+g.rng.Float64()*0.15)),
					ValueFrom: &wfv1.ValueFrom{Path: "/tmp/step-metrics.prom", Default: wfv1.AnyStringPtr("")},
				}}
			}
			p := g.pod(podSpec{
				name: fmt.Sprintf("%s(%d)", name, a), display: fmt.Sprintf("%s(%d)", item, a), template: task,
				start: t, dur: d, phase: phase, message: msg, gpu: gpu, inputs: inputs, retried: a > 0, outputs: outs,
			})
			g.link(retry.ID, p.ID)
			attemptID = p.ID
			t = t.Add(d + time.Duration(2+g.rng.IntN(10))*time.Second)
		}
		rn := g.nodes[retry.ID]
		rn.Phase = final
		rn.Message = finalMsg
		last0 := g.nodes[attemptID]
		rn.FinishedAt = last0.FinishedAt
		g.nodes[retry.ID] = rn
		if last0.FinishedAt.After(end) {
			end = last0.FinishedAt.Time
		}
		last = append(last, attemptID)
	}
	gn := g.nodes[group.ID]
	gn.FinishedAt = g.at(end)
	g.nodes[group.ID] = gn
	return group.ID, last, end
}

func itemParam(task string) string {
	if task == "train" {
		return "lr"
	}
	return "shard"
}

func itemValue(task string, i int) string {
	if task == "train" {
		return fmt.Sprintf("lr-%g", 0.1/float64(1+i%7)) + "-bs-" + strconv.Itoa(32<<(i%4)) + "-" + strconv.Itoa(i)
	}
	return fmt.Sprintf("part-%05d", i)
}

// build fills g.nodes with exactly n nodes.
func (g *gen) build(n int, running bool) {
	// Fixed nodes: root, fetch-data, plan, gather, evaluate, approve,
	// register-model, notify-failure (skipped), the exit hook, two
	// TaskGroups. The rest is shared by the two fan-outs, each item taking
	// about 2.2 nodes (a Retry node and its attempts).
	const fixed = 11
	root := &wfv1.NodeStatus{
		ID: g.wf, Name: g.wf, DisplayName: g.wf, Type: wfv1.NodeTypeDAG, TemplateName: "main",
		TemplateScope: "local/" + g.wf, Phase: wfv1.NodeSucceeded, StartedAt: g.at(Start),
	}
	g.put(root)
	t := Start.Add(2 * time.Second)
	fetch := g.pod(podSpec{name: g.wf + ".fetch-data", display: "fetch-data", template: "fetch-data", start: t, dur: g.secs(60), phase: wfv1.NodeSucceeded})
	g.link(root.ID, fetch.ID)
	t = fetch.FinishedAt.Add(2 * time.Second)
	plan := g.pod(podSpec{name: g.wf + ".plan", display: "plan", template: "plan", start: t, dur: g.secs(20), phase: wfv1.NodeSucceeded})
	g.link(fetch.ID, plan.ID)
	t = plan.FinishedAt.Add(2 * time.Second)

	// Split the remaining budget: 80% shards, 20% training, by items,
	// until the node count is exact.
	budget := n - fixed
	shardItems := max(1, int(float64(budget)*0.8/2.2))
	// Generate the shards, then size training to what is left.
	before := len(g.nodes)
	group, lastShards, end := g.fanout("process-shard", shardItems, t, 90, false, 0.01)
	g.link(plan.ID, group)
	used := len(g.nodes) - before
	remaining := budget - used
	trainItems := max(1, int(float64(remaining)/2.3))
	t = end.Add(2 * time.Second)
	gather := g.pod(podSpec{name: g.wf + ".gather", display: "gather", template: "gather", start: t, dur: g.secs(45), phase: wfv1.NodeSucceeded})
	for _, id := range lastShards {
		g.link(id, gather.ID)
	}
	t = gather.FinishedAt.Add(2 * time.Second)
	// The training fan-out takes what is left but for the five nodes
	// that follow it: evaluate, approve, register-model, notify-failure
	// and the exit hook.
	tgroup, lastTrain, tend := g.fanoutExact("train", trainItems, n-5, t)
	g.link(gather.ID, tgroup)
	t = tend.Add(2 * time.Second)
	eval := g.pod(podSpec{name: g.wf + ".evaluate", display: "evaluate", template: "evaluate", start: t, dur: g.secs(120), phase: wfv1.NodeSucceeded, gpu: true})
	for _, id := range lastTrain {
		g.link(id, eval.ID)
	}
	t = eval.FinishedAt.Add(time.Second)
	approveEnd := t.Add(g.secs(600))
	approve := &wfv1.NodeStatus{
		ID: g.id(), Name: g.wf + ".approve", DisplayName: "approve", Type: wfv1.NodeTypeSuspend, TemplateName: "approve",
		TemplateScope: "local/" + g.wf, BoundaryID: g.wf, Phase: wfv1.NodeSucceeded, Message: "Resumed by: map[User:system:serviceaccount:ml:release-bot]",
		StartedAt: g.at(t), FinishedAt: g.at(approveEnd),
	}
	g.put(approve)
	g.link(eval.ID, approve.ID)
	t = approveEnd.Add(time.Second)
	reg := g.pod(podSpec{name: g.wf + ".register-model", display: "register-model", template: "register",
		templateRef: &wfv1.TemplateRef{Name: "model-registry", Template: "register"},
		start:       t, dur: g.secs(15), phase: wfv1.NodeSucceeded})
	g.link(approve.ID, reg.ID)
	notify := &wfv1.NodeStatus{
		ID: g.id(), Name: g.wf + ".notify-failure", DisplayName: "notify-failure", Type: wfv1.NodeTypeSkipped, TemplateName: "notify",
		TemplateScope: "local/" + g.wf, BoundaryID: g.wf, Phase: wfv1.NodeOmitted, Message: "omitted: depends condition not met",
		StartedAt: g.at(reg.FinishedAt.Time), FinishedAt: g.at(reg.FinishedAt.Time),
	}
	g.put(notify)
	g.link(reg.ID, notify.ID)
	rootEnd := reg.FinishedAt.Add(time.Second)
	r := g.nodes[root.ID]
	if running {
		r.Phase = wfv1.NodeRunning
	} else {
		r.FinishedAt = g.at(rootEnd)
	}
	r.Progress = wfv1.Progress(fmt.Sprintf("%d/%d", len(g.nodes)-1, len(g.nodes)-1))
	r.OutboundNodes = []string{reg.ID, notify.ID}
	g.nodes[root.ID] = r

	// The exit hook: the step-metrics pod itself, running.
	hook := &wfv1.NodeStatus{
		ID: g.id(), Name: g.wf + ".onExit", DisplayName: g.wf + ".onExit", Type: wfv1.NodeTypePod,
		TemplateRef:   &wfv1.TemplateRef{Name: "step-metrics", Template: "push", ClusterScope: true},
		TemplateScope: "local/" + g.wf, Phase: wfv1.NodeRunning, StartedAt: g.at(rootEnd.Add(time.Second)),
		HostNodeName: cpuHosts[0], NodeFlag: &wfv1.NodeFlag{Hooked: true}, Progress: "0/1",
		Inputs: &wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: "pushgateway-url", Value: wfv1.AnyStringPtr("http://pushgateway.monitoring.svc:9091")}}},
	}
	g.put(hook)
	if len(g.nodes) != n {
		panic(fmt.Sprintf("synth: built %d nodes, want %d", len(g.nodes), n))
	}
}

// fanoutExact is fanout for the training stage (GPU pods that publish
// custom metrics), adding items until the node map holds target nodes.
func (g *gen) fanoutExact(task string, items, target int, start time.Time) (string, []string, time.Time) {
	group := &wfv1.NodeStatus{
		ID: g.id(), Name: g.wf + "." + task, DisplayName: task, Type: wfv1.NodeTypeTaskGroup,
		TemplateName: task, TemplateScope: "local/" + g.wf, BoundaryID: g.wf, Phase: wfv1.NodeSucceeded,
		StartedAt: g.at(start),
	}
	g.put(group)
	var last []string
	end := start
	for i := 0; len(g.nodes) < target; i++ {
		left := target - len(g.nodes)
		item := fmt.Sprintf("%s(%d:%s)", task, i, itemValue(task, i))
		name := g.wf + "." + item
		inputs := []wfv1.Parameter{{Name: itemParam(task), Value: wfv1.AnyStringPtr(itemValue(task, i))}}
		s0 := start.Add(time.Duration(g.rng.IntN(1+items/20)) * time.Second)
		if left == 1 {
			// One node left: a skipped item.
			sk := &wfv1.NodeStatus{
				ID: g.id(), Name: name, DisplayName: item, Type: wfv1.NodeTypeSkipped, TemplateName: task,
				TemplateScope: "local/" + g.wf, BoundaryID: g.wf, Phase: wfv1.NodeSkipped,
				Message: "when 'false' evaluated false", StartedAt: g.at(s0), FinishedAt: g.at(s0),
				Inputs: &wfv1.Inputs{Parameters: inputs},
			}
			g.put(sk)
			g.link(group.ID, sk.ID)
			last = append(last, sk.ID)
			continue
		}
		attempts := 1
		if r := g.rng.Float64(); r < 0.25 && left >= 3 {
			attempts = 2
		} else if r < 0.28 && left >= 4 {
			attempts = 3
		}
		retry := &wfv1.NodeStatus{
			ID: g.id(), Name: name, DisplayName: item, Type: wfv1.NodeTypeRetry, TemplateName: task,
			TemplateScope: "local/" + g.wf, BoundaryID: g.wf, StartedAt: g.at(s0), Phase: wfv1.NodeSucceeded,
			Inputs: &wfv1.Inputs{Parameters: inputs},
		}
		g.put(retry)
		g.link(group.ID, retry.ID)
		t := s0
		var attemptID string
		for a := 0; a < attempts; a++ {
			phase, msg := wfv1.NodeSucceeded, ""
			d := g.secs(400)
			if a < attempts-1 {
				phase, msg, d = wfv1.NodeFailed, "OOMKilled (exit code 137)", d/4
			}
			var outs []wfv1.Parameter
			if phase == wfv1.NodeSucceeded {
				outs = []wfv1.Parameter{{
					Name:      "step-metrics",
					Value:     wfv1.AnyStringPtr(fmt.Sprintf("training_seconds %.1f\naccuracy{split=\"test\"} %.4f\n", d.Seconds()*0.9, 0.8+g.rng.Float64()*0.15)),
					ValueFrom: &wfv1.ValueFrom{Path: "/tmp/step-metrics.prom", Default: wfv1.AnyStringPtr("")},
				}}
			}
			p := g.pod(podSpec{
				name: fmt.Sprintf("%s(%d)", name, a), display: fmt.Sprintf("%s(%d)", item, a), template: task,
				start: t, dur: d, phase: phase, message: msg, gpu: true, inputs: inputs, retried: a > 0, outputs: outs,
			})
			g.link(retry.ID, p.ID)
			attemptID = p.ID
			t = t.Add(d + time.Duration(2+g.rng.IntN(10))*time.Second)
		}
		rn := g.nodes[retry.ID]
		rn.FinishedAt = g.nodes[attemptID].FinishedAt
		g.nodes[retry.ID] = rn
		if rn.FinishedAt.After(end) {
			end = rn.FinishedAt.Time
		}
		last = append(last, attemptID)
	}
	gn := g.nodes[group.ID]
	gn.FinishedAt = g.at(end)
	g.nodes[group.ID] = gn
	return group.ID, last, end
}
