package argo

// Tests on status shapes as Argo's controller (v3.7.12) writes them, from
// testdata/argo/controller (see its INDEX.md for the controller code behind
// each file).

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

const controllerDir = fixtureDir + "/controller"

func loadControllerFixture(t *testing.T, name string) ([]byte, rawWorkflow) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(controllerDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var raw rawWorkflow
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatalf("generic decode of %s: %v", name, err)
	}
	return data, raw
}

func stepNames(run *pipeline.Run) []string {
	var names []string
	for _, s := range run.Steps {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

func unfinished(run *pipeline.Run) int {
	n := 0
	for _, s := range run.Steps {
		if s.Result == pipeline.ResultNone {
			n++
		}
	}
	return n
}

func runRetries(run *pipeline.Run) int {
	n := 0
	for _, r := range run.Retries {
		n += r.Retries()
	}
	return n
}

// A Retry node's exit hook is one of its children (runOnExitNode adds it
// with addChildNode(retryNode, "<task>.onExit")), but not an attempt:
// the controller counts attempts as the children flagged retried
// (getChildNodeIdsRetried).
func TestArgoRetryExitHookIsNotAnAttempt(t *testing.T) {
	tests := []struct {
		file     string
		attempts int
		// attempt number by step ID
		attempt map[string]int
	}{
		{"01-dag-retry-exit-hook-next-task.yaml", 2, map[string]int{"retry-hook-k8s2q-2786210957": 0, "retry-hook-k8s2q-2853321433": 1}},
		{"02-steps-retry-exit-hook-next-stepgroup.yaml", 1, map[string]int{"steps-hook-p9x7z-1254305045": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, _ := loadControllerFixture(t, tc.file)
			run := readRun(t, data, Options{})
			if len(run.Retries) != 1 || run.Retries[0].Name != "A" {
				t.Fatalf("retries = %+v, want one for A", run.Retries)
			}
			if got := run.Retries[0].Attempts; got != tc.attempts {
				t.Errorf("A: %d attempts, want %d (the .onExit child is no attempt)", got, tc.attempts)
			}
			if got, want := runRetries(run), tc.attempts-1; got != want {
				t.Errorf("run retries = %d, want %d", got, want)
			}
			for _, s := range run.Steps {
				want, isAttempt := tc.attempt[s.ID]
				if !isAttempt {
					continue
				}
				if s.Attempt != want || s.RetryID != run.Retries[0].ID || s.Name != "A" {
					t.Errorf("attempt %s: attempt %d retry %q name %q, want %d %q A", s.ID, s.Attempt, s.RetryID, s.Name, want, run.Retries[0].ID)
				}
			}
		})
	}
}

// The controller links the task or step group after a retried task to the
// Retry node's outbound node, its last child (getOutboundNodes), which is
// the .onExit hook node. What follows is then a child of the hook while its
// boundaryID is the pipeline's template: it is part of the pipeline.
func TestArgoStepsAfterRetryExitHook(t *testing.T) {
	tests := []struct {
		file      string
		steps     []string
		excluded  []string // hook pods, by node name
		finished  bool
		unfinshed int
	}{
		{"01-dag-retry-exit-hook-next-task.yaml", []string{"A", "A", "B"}, []string{"retry-hook-k8s2q.A.onExit", "retry-hook-k8s2q.onExit"}, true, 0},
		// In the exit handler: the workflow's own onExit runs, the pipeline is done.
		{"02-steps-retry-exit-hook-next-stepgroup.yaml", []string{"A", "B", "C"}, []string{"steps-hook-p9x7z[0].A.onExit[0].send", "steps-hook-p9x7z.onExit"}, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, raw := loadControllerFixture(t, tc.file)
			run := readRun(t, data, Options{})
			if got := stepNames(run); !slices.Equal(got, tc.steps) {
				t.Errorf("steps %q, want %q", got, tc.steps)
			}
			ids := map[string]bool{}
			for _, s := range run.Steps {
				ids[s.ID] = true
			}
			for _, name := range tc.excluded {
				for id, n := range raw.Status.Nodes {
					if n.Name == name && ids[id] {
						t.Errorf("hook node %s became a step", name)
					}
				}
			}
			if run.Finished != tc.finished || run.Result != pipeline.ResultSuccess {
				t.Errorf("run finished %v result %q", run.Finished, run.Result)
			}
			if got := unfinished(run); got != tc.unfinshed {
				t.Errorf("%d unfinished steps, want %d", got, tc.unfinshed)
			}
		})
	}
}

// rawTotals reads status.resourcesDuration and the resources of the exit
// handlers' own pods (a hook node, or a pod whose boundaryID chain reaches
// one), with generic decoding.
func rawTotals(t *testing.T, data []byte) (total, hooks map[string]float64) {
	t.Helper()
	var raw struct {
		Status struct {
			ResourcesDuration map[string]float64 `json:"resourcesDuration"`
			Nodes             map[string]rawNode `json:"nodes"`
		} `json:"status"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	inHook := func(n rawNode) bool {
		for range len(raw.Status.Nodes) + 1 {
			if n.NodeFlag != nil && n.NodeFlag.Hooked || strings.HasSuffix(n.Name, ".onExit") {
				return true
			}
			b, ok := raw.Status.Nodes[n.BoundaryID]
			if !ok {
				return false
			}
			n = b
		}
		return false
	}
	hooks = map[string]float64{}
	for _, n := range raw.Status.Nodes {
		if n.Type == "Pod" && inHook(n) {
			for r, v := range n.ResourcesDuration {
				hooks[r] += v
			}
		}
	}
	return raw.Status.ResourcesDuration, hooks
}

// The controller's resource updater (util/resource/updater.go,
// UpdateResourceDurations) gives every finished non-Pod node the sum of the
// Pods below it by children, and status.resourcesDuration is the sum of
// the Pods. Only Pods carry their own usage: the run's total is
// status.resourcesDuration less the exit handlers' pods.
func TestArgoResourcesArePods(t *testing.T) {
	for _, file := range []string{
		"01-dag-retry-exit-hook-next-task.yaml",
		"02-steps-retry-exit-hook-next-stepgroup.yaml",
		"03-dag-containerset-suspend-retry-resources.yaml",
	} {
		t.Run(file, func(t *testing.T) {
			data, _ := loadControllerFixture(t, file)
			run := readRun(t, data, Options{})
			total, hooks := rawTotals(t, data)
			got := map[string]float64{}
			for _, s := range run.Steps {
				if len(s.Resources) > 0 && s.Type != string(wfv1.NodeTypePod) {
					t.Errorf("%s step %s has resources %v: only pods contribute", s.Type, s.Name, s.Resources)
				}
				for r, v := range s.Resources {
					got[r] += v
				}
			}
			for r, v := range total {
				if want := v - hooks[r]; got[r] != want {
					t.Errorf("run %s = %v, want status.resourcesDuration %v - exit handler pods %v = %v", r, got[r], v, hooks[r], want)
				}
			}
		})
	}
	// The container set's pod carries the pod's usage, its containers none.
	data, _ := loadControllerFixture(t, "03-dag-containerset-suspend-retry-resources.yaml")
	run := readRun(t, data, Options{})
	for _, s := range run.Steps {
		if s.Name == "cs" && (s.Resources["cpu"] != 6 || s.Resources["memory"] != 400) {
			t.Errorf("container set pod resources %v, want cpu 6 memory 400", s.Resources)
		}
	}
}

// A daemon step's pod is marked daemoned (phase Running, daemoned: true)
// when it runs and is ready; the node is then Fulfilled() to the
// controller, which sets its finishedAt (assessNodeStatus). When its
// scope ends the controller kills it (killDaemonedChildren: v3.7.12 sets
// Succeeded; the status below, from the controller's own test data, keeps
// Running). In a finished pipeline it is finished, not in progress.
func TestArgoDaemonedStepFinished(t *testing.T) {
	data, _ := loadControllerFixture(t, "04-steps-daemon-retry-running-finished.yaml")
	run := readRun(t, data, Options{})
	if !run.Finished || run.Result != pipeline.ResultSuccess {
		t.Fatalf("run finished %v result %q", run.Finished, run.Result)
	}
	if len(run.Steps) != 1 {
		t.Fatalf("%d steps, want 1", len(run.Steps))
	}
	s := run.Steps[0]
	if s.Result != pipeline.ResultSuccess || !s.Finished || s.Duration != 6*time.Second || s.Phase != "Running" {
		t.Errorf("daemon step: result %q finished %v duration %v phase %q, want success, finished, 6s, Running", s.Result, s.Finished, s.Duration, s.Phase)
	}
	if got := unfinished(run); got != 0 {
		t.Errorf("%d unfinished steps, want 0", got)
	}
}

// A daemon whose scope still runs is in progress.
func TestArgoDaemonedStepRunning(t *testing.T) {
	data, _ := loadControllerFixture(t, "04-steps-daemon-retry-running-finished.yaml")
	wf, _, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range wf.Status.Nodes {
		if n.Type != wfv1.NodeTypePod {
			n.Phase, n.FinishedAt = wfv1.NodeRunning, metav1.Time{}
			wf.Status.Nodes[id] = n
		}
	}
	wf.Status.Phase = wfv1.WorkflowRunning
	run := FromWorkflow(wf, Options{})
	if run.Result != pipeline.ResultNone || len(run.Steps) != 1 {
		t.Fatalf("run result %q, %d steps", run.Result, len(run.Steps))
	}
	if s := run.Steps[0]; s.Result != pipeline.ResultNone || s.Finished {
		t.Errorf("daemon of a running scope: result %q finished %v, want in progress", s.Result, s.Finished)
	}
}

// hookChain builds a workflow whose exit handler is a chain of n nested
// Steps nodes (each the boundary of the next) ending in a Pod, next to a
// main pipeline of n Pods.
func hookChain(n int) *wfv1.Workflow {
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: "chain"}}
	t0 := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	nodes := wfv1.Nodes{}
	root := wfv1.NodeStatus{ID: "chain", Name: "chain", Type: wfv1.NodeTypeSteps, Phase: wfv1.NodeSucceeded, StartedAt: t0, FinishedAt: t1}
	for i := range n {
		id := fmt.Sprintf("chain-main-%d", i)
		nodes[id] = wfv1.NodeStatus{ID: id, Name: fmt.Sprintf("chain[%d].w", i), DisplayName: "w", Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded, BoundaryID: "chain", StartedAt: t0, FinishedAt: t1}
		root.Children = append(root.Children, id)
	}
	nodes["chain"] = root
	prev := "chain-onexit"
	nodes[prev] = wfv1.NodeStatus{ID: prev, Name: "chain.onExit", Type: wfv1.NodeTypeSteps, Phase: wfv1.NodeRunning, NodeFlag: &wfv1.NodeFlag{Hooked: true}}
	for i := range n {
		id := fmt.Sprintf("chain-hook-%d", i)
		typ := wfv1.NodeTypeSteps
		if i == n-1 {
			typ = wfv1.NodeTypePod
		}
		// Reverse the IDs' order relative to the chain, so no map order helps.
		nodes[id] = wfv1.NodeStatus{ID: id, Name: fmt.Sprintf("chain.onExit.h%d", i), Type: typ, Phase: wfv1.NodeRunning, BoundaryID: prev}
		prev = id
	}
	wf.Status.Nodes = nodes
	wf.Status.Phase = wfv1.WorkflowRunning
	wf.Status.StartedAt = t0
	return wf
}

func TestArgoHookLongBoundaryChain(t *testing.T) {
	const n = 20000
	run := FromWorkflow(hookChain(n), Options{})
	if len(run.Steps) != n {
		t.Fatalf("%d steps, want the %d main pods", len(run.Steps), n)
	}
	for _, s := range run.Steps {
		if !strings.HasPrefix(s.ID, "chain-main-") {
			t.Fatalf("hook node %s became a step", s.ID)
		}
	}
}

func BenchmarkArgoHookedNodes(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		wf := hookChain(n)
		nodes := nodesOf(wf.Status.Nodes)
		b.Run(fmt.Sprintf("chain=%d", n), func(b *testing.B) {
			for b.Loop() {
				if h := argoHookedNodes(nodes, wf.Name); h != n+1 {
					b.Fatalf("%d hooked, want %d", h, n+1)
				}
			}
		})
	}
}

// A hook template with a retryStrategy: the hook node is a Retry node
// (executeTemplate), its attempts "<hook>(N)" get the DAG's boundaryID and,
// in v3.7.12, nodeFlag {hooked, retried}; older controllers set no flag.
// The next task hangs below the hook Retry node (getOutboundNodes of A's
// Retry is its last child, the hook).
func TestArgoRetriedHookAttempts(t *testing.T) {
	for _, flag := range []string{"nodeFlag: {hooked: true, retried: true}, ", ""} {
		data := []byte(`apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: rh}
status:
  phase: Succeeded
  startedAt: "2025-01-01T00:00:00Z"
  finishedAt: "2025-01-01T00:01:00Z"
  nodes:
    rh: {id: rh, name: rh, type: DAG, phase: Succeeded, startedAt: "2025-01-01T00:00:00Z", finishedAt: "2025-01-01T00:00:50Z", children: [ra]}
    ra: {id: ra, name: rh.A, displayName: A, type: Retry, boundaryID: rh, phase: Succeeded, children: [a0, rx]}
    a0: {id: a0, name: rh.A(0), displayName: A(0), type: Pod, boundaryID: rh, nodeFlag: {retried: true}, phase: Succeeded, startedAt: "2025-01-01T00:00:00Z", finishedAt: "2025-01-01T00:00:10Z"}
    rx: {id: rx, name: rh.A.onExit, displayName: A.onExit, type: Retry, boundaryID: rh, nodeFlag: {hooked: true, retried: true}, phase: Succeeded, children: [x0, x1, b]}
    x0: {id: x0, name: rh.A.onExit(0), displayName: A.onExit(0), type: Pod, boundaryID: rh, ` + flag + `phase: Failed, startedAt: "2025-01-01T00:00:11Z", finishedAt: "2025-01-01T00:00:15Z"}
    x1: {id: x1, name: rh.A.onExit(1), displayName: A.onExit(1), type: Pod, boundaryID: rh, ` + flag + `phase: Succeeded, startedAt: "2025-01-01T00:00:16Z", finishedAt: "2025-01-01T00:00:20Z"}
    b: {id: b, name: rh.B, displayName: B, type: Pod, boundaryID: rh, phase: Succeeded, startedAt: "2025-01-01T00:00:21Z", finishedAt: "2025-01-01T00:00:50Z"}
`)
		run := readRun(t, data, Options{})
		if got := stepNames(run); !slices.Equal(got, []string{"A", "B"}) {
			t.Errorf("flag %q: steps %q, want [A B]", flag, got)
		}
		if len(run.Retries) != 1 || run.Retries[0].Attempts != 1 {
			t.Errorf("flag %q: retries %+v, want A with 1 attempt", flag, run.Retries)
		}
	}
}
