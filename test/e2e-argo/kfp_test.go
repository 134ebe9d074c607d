//go:build e2eargo

package e2eargo

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

// What workflows/kfp-pipeline.yaml is: KFP's pipeline name (the drivers'
// --pipeline_name after its last "/"), its components, and the iterations
// its ParallelFor's iterator driver reports.
const (
	kfpPipelineName = "preprocess-train-eval"
	kfpLoopItems    = 2
	kfpServiceAcct  = "pipeline-runner"
)

// TestKFPPipeline runs a Workflow shaped as the Kubeflow Pipelines v2
// compiler emits it (workflows/kfp-pipeline.yaml: drivers, executor DAGs
// and work pods; a retried component; a ParallelFor) on the real
// controller, as KFP's pipeline-runner ServiceAccount (which templates/rbac
// binds), and checks that the run's group holds the pipeline the user
// wrote: the components as steps and stages, the drivers as overhead.
// Expectations come from the Workflow object alone.
func TestKFPPipeline(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	// KFP's installation creates pipeline-runner in each profile namespace;
	// nothing does here (no kube-controller-manager either).
	if _, err := e.kube.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: kfpServiceAcct}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	start := time.Now()
	const file = "kfp-pipeline.yaml"
	wf := e.submitFile(ctx, t, "workflows/"+file)
	var atExit *wfv1.Workflow
	reported := map[string]bool{}
	hooks := e.drive(ctx, t, wf.Name, driveOpts{
		atExit: func(w *wfv1.Workflow) { atExit = w },
		tick:   func(w *wfv1.Workflow) { e.reportKFPDriverOutputs(ctx, t, w, reported) },
	})
	final := e.waitFinished(ctx, t, wf.Name)
	record(t, "kfp-pipeline", "test/e2e-argo/workflows/"+file, atExit, final)
	if hooks != 1 {
		t.Errorf("%d exit-handler pods ran, want 1", hooks)
	}
	if atExit == nil {
		t.Fatal("the workflow-level exit handler never ran")
	}
	e.checkHooksSucceeded(t, final)
	// The exit handler ran as its pod's ServiceAccount: KFP's.
	pods, err := e.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: exitHandlerSel + ",workflows.argoproj.io/workflow=" + wf.Name})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.ServiceAccountName != kfpServiceAcct {
			t.Errorf("exit-handler pod %s runs as %q, want %s", p.Name, p.Spec.ServiceAccountName, kfpServiceAcct)
		}
	}
	// The drivers' outputs reached the work pods: their main container is
	// the one the driver's pod-spec-patch gave.
	steps, err := e.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: kubeletLabel + "=test,workflows.argoproj.io/workflow=" + wf.Name})
	if err != nil {
		t.Fatal(err)
	}
	impls := 0
	for _, p := range steps.Items {
		if n, ok := final.Status.Nodes[p.Annotations[annNodeID]]; !ok || kfpRoleOf(n.TemplateName) != kfpRoleImpl {
			continue
		}
		impls++
		for _, c := range p.Spec.Containers {
			if c.Name == "main" && c.Image != "busybox:1.36" {
				t.Errorf("work pod %s: main image %q, not the driver's pod-spec-patch", p.Name, c.Image)
			}
		}
	}
	if impls != 3+kfpLoopItems {
		t.Errorf("%d work pods, want %d", impls, 3+kfpLoopItems)
	}
	e.checkKFP(t, atExit, final)
	t.Logf("%s: %s, %d nodes, %v", final.Name, final.Status.Phase, len(final.Status.Nodes), time.Since(start).Round(time.Millisecond))
}

// The KFP system templates of workflows/kfp-pipeline.yaml, by name.
const (
	kfpRoleNone = iota
	kfpRoleDriver
	kfpRoleDAGDriver
	kfpRoleImpl
)

func kfpRoleOf(template string) int {
	switch template {
	case "system-container-driver":
		return kfpRoleDriver
	case "system-dag-driver":
		return kfpRoleDAGDriver
	case "system-container-impl", "retry-system-container-impl":
		return kfpRoleImpl
	}
	return kfpRoleNone
}

// reportKFPDriverOutputs plays Argo's wait container for the drivers: once
// per driver pod node, a WorkflowTaskResult with the outputs KFP's driver
// writes (what the executors' `when` and the loop's withSequence read): a
// container driver says "not cached, condition true" and gives the work
// pod its container through pod-spec-patch; a DAG driver an execution ID
// and, for the loop's iterator, the iteration count.
func (e *env) reportKFPDriverOutputs(ctx context.Context, t *testing.T, wf *wfv1.Workflow, reported map[string]bool) {
	t.Helper()
	ids := make([]string, 0, len(wf.Status.Nodes))
	for id := range wf.Status.Nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := wf.Status.Nodes[id]
		role := kfpRoleOf(n.TemplateName)
		if n.Type != wfv1.NodeTypePod || reported[id] || (role != kfpRoleDriver && role != kfpRoleDAGDriver) {
			continue
		}
		in := map[string]string{}
		if n.Inputs != nil {
			for _, p := range n.Inputs.Parameters {
				if p.Value != nil {
					in[p.Name] = p.Value.String()
				}
			}
		}
		var out []wfv1.Parameter
		param := func(k, v string) { out = append(out, wfv1.Parameter{Name: k, Value: wfv1.AnyStringPtr(v)}) }
		if role == kfpRoleDriver {
			var task struct {
				TaskInfo struct{ Name string } `json:"taskInfo"`
			}
			if err := json.Unmarshal([]byte(in["task"]), &task); err != nil || task.TaskInfo.Name == "" {
				t.Fatalf("driver %s: task input %q: %v", n.Name, in["task"], err)
			}
			patch := fmt.Sprintf(`{"containers":[{"name":"main","image":"busybox:1.36","command":["sh","-c","echo %s"],"resources":{"requests":{"cpu":"1","memory":"1Gi"}}}]}`, task.TaskInfo.Name)
			param("pod-spec-patch", patch)
			param("cached-decision", "false")
			param("condition", "true")
		} else {
			param("execution-id", strconv.Itoa(100+len(reported)))
			count := "0"
			if in["driver-type"] == "ITERATOR" {
				count = strconv.Itoa(kfpLoopItems)
			}
			param("iteration-count", count)
			param("condition", "true")
		}
		tr := &wfv1.WorkflowTaskResult{
			ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: namespace, Labels: map[string]string{
				"workflows.argoproj.io/workflow":                 wf.Name,
				"workflows.argoproj.io/report-outputs-completed": "true",
			}},
			NodeResult: wfv1.NodeResult{Phase: wfv1.NodeSucceeded, Outputs: &wfv1.Outputs{Parameters: out}},
		}
		if _, err := e.argo.ArgoprojV1alpha1().WorkflowTaskResults(namespace).Create(ctx, tr, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("task result for driver %s: %v", n.Name, err)
		}
		reported[id] = true
	}
}

// kfpStep is a step as the user's pipeline sees it, read from the status.
type kfpStep struct {
	wantStep
	role     int
	template string // the impl's: its task
}

// kfpSteps reads the status as a KFP run: a work pod (system-container-impl,
// or a retry attempt of it) is the step, stage and template of its task (the
// display name of the system-container-executor DAG that is its boundary);
// a container driver "<t>-driver" is overhead of stage <t>; a DAG driver is
// run-level overhead; inside the ParallelFor, item is the iteration index
// (the "iteration-iterations(<i>:<i>)" DAG on the boundary chain).
func kfpSteps(t *testing.T, wf *wfv1.Workflow) ([]kfpStep, map[string]int) {
	t.Helper()
	steps, retries, _ := wantSteps(wf)
	item := func(n wfv1.NodeStatus) string {
		var idx []string
		for id, hops := n.BoundaryID, 0; id != "" && hops < len(wf.Status.Nodes); hops++ {
			b := wf.Status.Nodes[id]
			if m := itemRe.FindStringSubmatch(b.DisplayName); b.Type == wfv1.NodeTypeDAG && m != nil {
				idx = append([]string{m[2]}, idx...)
			}
			id = b.BoundaryID
		}
		return strings.Join(idx, ".")
	}
	var out []kfpStep
	for _, s := range steps {
		n := wf.Status.Nodes[s.id]
		k := kfpStep{wantStep: s, role: kfpRoleOf(n.TemplateName)}
		k.item = item(n)
		switch k.role {
		case kfpRoleImpl:
			b := wf.Status.Nodes[n.BoundaryID]
			if !strings.HasSuffix(b.TemplateName, "system-container-executor") {
				t.Errorf("work pod %s: boundary %s is template %q, not an executor", n.Name, b.Name, b.TemplateName)
			}
			k.name, k.stage, k.template = b.DisplayName, b.DisplayName, b.DisplayName
		case kfpRoleDriver:
			k.stage = strings.TrimSuffix(k.name, "-driver")
		case kfpRoleDAGDriver:
			k.stage = ""
		default:
			t.Errorf("node %s (%s, template %s) is no KFP system pod", n.Name, n.Type, n.TemplateName)
		}
		out = append(out, k)
	}
	return out, retries
}

// checkKFP compares the run's group with the status the exit handler read.
func (e *env) checkKFP(t *testing.T, wf, final *wfv1.Workflow) {
	t.Helper()
	fams := e.pg.Scrape(t)
	group := map[string]string{"job": "step-metrics", "namespace": namespace, "workflow_id": string(wf.UID)}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range group {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	expect := func(metric string, want float64, kv ...string) {
		t.Helper()
		s := testenv.Series(fams, metric, with(kv...))
		switch {
		case len(s) == 0:
			t.Errorf("%s%v missing, status says %v", metric, kv, want)
		case len(s) > 1:
			t.Errorf("%s%v: %d series, want 1", metric, kv, len(s))
		case !near(s[0].Value, want):
			t.Errorf("%s%v = %v, status says %v", metric, kv, s[0].Value, want)
		}
	}

	steps, retries := kfpSteps(t, wf)

	// The status is the shape the workflow compiles to: 13 pods.
	shape := map[string]int{}
	for _, s := range steps {
		shape[fmt.Sprintf("%d/%s/%s", s.role, s.name, s.result)]++
	}
	wantShape := map[string]int{
		fmt.Sprintf("%d/root-driver/success", kfpRoleDAGDriver):           1,
		fmt.Sprintf("%d/iteration-driver/success", kfpRoleDAGDriver):      1,
		fmt.Sprintf("%d/iteration-item-driver/success", kfpRoleDAGDriver): kfpLoopItems,
		fmt.Sprintf("%d/preprocess-driver/success", kfpRoleDriver):        1,
		fmt.Sprintf("%d/train-model-driver/success", kfpRoleDriver):       1,
		fmt.Sprintf("%d/evaluate-driver/success", kfpRoleDriver):          kfpLoopItems,
		fmt.Sprintf("%d/preprocess/success", kfpRoleImpl):                 1,
		fmt.Sprintf("%d/train-model/failure", kfpRoleImpl):                1,
		fmt.Sprintf("%d/train-model/success", kfpRoleImpl):                1,
		fmt.Sprintf("%d/evaluate/success", kfpRoleImpl):                   kfpLoopItems,
	}
	if fmt.Sprint(shape) != fmt.Sprint(wantShape) {
		t.Errorf("status steps (role/name/result): %v, want %v", shape, wantShape)
	}

	// The run: KFP's pipeline name, its result and duration.
	root := wf.Status.Nodes[wf.Name]
	if root.Phase != wfv1.NodeSucceeded {
		t.Errorf("root node %s: %s", root.Phase, root.Message)
	}
	expect("pipeline_run_result", 1, "result", "success", "pipeline", kfpPipelineName)
	expect("pipeline_run_duration_seconds", root.FinishedAt.Sub(wf.Status.StartedAt.Time).Seconds())
	wrong := map[string]int{} // pipeline label -> series
	for name, f := range fams {
		if strings.HasPrefix(name, "push_") {
			continue // the Pushgateway's own push_time_seconds, push_failure_time_seconds
		}
		for _, m := range f.GetMetric() {
			ls := map[string]string{}
			for _, lp := range m.GetLabel() {
				ls[lp.GetName()] = lp.GetValue()
			}
			if ls["workflow_id"] == string(wf.UID) && ls["pipeline"] != kfpPipelineName {
				wrong[ls["pipeline"]]++
			}
		}
	}
	for p, n := range wrong {
		t.Errorf("%d series with pipeline %q, want KFP's %q (the drivers' --pipeline_name)", n, p, kfpPipelineName)
	}

	// Every step, drivers included (they are pods that ran): result and
	// duration under the component's names.
	counts := map[string]float64{}
	overhead := 0.0
	stageOverhead := map[string]float64{}
	runRes := map[string]float64{}
	finished := 0
	for _, s := range steps {
		labels := []string{"node_id", s.id, "step", s.name, "stage", s.stage, "item", s.item, "attempt", s.attempt}
		if s.template != "" {
			labels = append(labels, "template", s.template)
		}
		if s.result == "" {
			t.Errorf("step %s (%s) unfinished when the exit handler ran", s.name, s.id)
			continue
		}
		finished++
		counts[s.result]++
		expect("pipeline_step_result", 1, append(labels, "result", s.result, "phase", string(wf.Status.Nodes[s.id].Phase))...)
		dur := s.end.Sub(s.start).Seconds()
		expect("pipeline_step_duration_seconds", dur, labels...)
		if s.role == kfpRoleDriver || s.role == kfpRoleDAGDriver {
			overhead += dur
			if s.stage != "" {
				stageOverhead[s.stage] += dur
			}
		}
		for r, d := range s.res {
			runRes[string(r)] += float64(d)
		}
	}
	if n := len(testenv.Series(fams, "pipeline_step_result", group)); n != finished {
		t.Errorf("%d pipeline_step_result series, the status has %d finished steps", n, finished)
	}
	for _, name := range []string{"executor", "system-container-impl", "retry-system-container-impl"} {
		if s := testenv.Series(fams, "pipeline_step_result", with("step", name)); len(s) > 0 {
			t.Errorf("%d steps pushed as %q, want the components' task names", len(s), name)
		}
	}
	for _, r := range []string{"success", "failure", "error", "skip", "timeout", "cancellation"} {
		expect("pipeline_run_steps", counts[r], "result", r)
	}
	expect("pipeline_run_steps_unfinished", 0)

	// Drivers are overhead: the run's (all drivers) and each component's
	// (its <task>-driver pods).
	if overhead <= 0 {
		t.Error("no driver time in the status")
	}
	expect("pipeline_run_overhead_seconds", overhead)
	for _, c := range []string{"preprocess", "train-model", "evaluate"} {
		if stageOverhead[c] <= 0 {
			t.Errorf("no %s-driver time in the status", c)
		}
		expect("pipeline_stage_overhead_seconds", stageOverhead[c], "stage", c)
	}
	if n := len(testenv.Series(fams, "pipeline_stage_overhead_seconds", group)); n != len(stageOverhead) {
		t.Errorf("%d pipeline_stage_overhead_seconds series, the status has %d components with drivers", n, len(stageOverhead))
	}

	// Retries: train-model's executor, one retry, in its stage.
	if len(retries) != 1 {
		t.Errorf("%d Retry nodes in the status, want 1 (train-model's executor)", len(retries))
	}
	total := 0
	for id, n := range retries {
		total += max(n-1, 0)
		expect("pipeline_step_retries", float64(max(n-1, 0)), "node_id", id, "step", "train-model", "stage", "train-model")
	}
	if total != 1 {
		t.Errorf("train-model: %d retries in the status, want 1", total)
	}
	expect("pipeline_stage_retries", float64(total), "stage", "train-model")
	expect("pipeline_run_retries", float64(total))

	// Resource seconds: every pod's (drivers' too), as the controller sums
	// them at the end minus the exit handler's pod.
	checkRunResources(t, final, runRes, expect)

	// Stages are the components, their items the work pods only.
	type stage struct {
		items       map[string]float64
		first, last time.Time
		itemSecs    float64
		res         map[string]float64
	}
	stages := map[string]*stage{}
	for _, s := range steps {
		if s.role != kfpRoleImpl || !s.finished {
			continue
		}
		a := stages[s.stage]
		if a == nil {
			a = &stage{items: map[string]float64{}, res: map[string]float64{}}
			stages[s.stage] = a
		}
		a.items[s.result]++
		a.itemSecs += s.end.Sub(s.start).Seconds()
		if a.first.IsZero() || s.start.Before(a.first) {
			a.first = s.start
		}
		if s.end.After(a.last) {
			a.last = s.end
		}
		for r, d := range s.res {
			a.res[string(r)] += float64(d)
		}
	}
	var names []string
	for name, a := range stages {
		names = append(names, name)
		for r, v := range a.items {
			expect("pipeline_stage_items", v, "stage", name, "result", r)
		}
		if n := len(testenv.Series(fams, "pipeline_stage_items", with("stage", name))); n != len(a.items) {
			t.Errorf("stage %s: %d pipeline_stage_items series, the status has results %v", name, n, a.items)
		}
		expect("pipeline_stage_duration_seconds", a.last.Sub(a.first).Seconds(), "stage", name)
		expect("pipeline_stage_item_seconds", a.itemSecs, "stage", name)
		for r, v := range a.res {
			expect("pipeline_stage_resource_seconds", v, "stage", name, "resource", r)
		}
	}
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "evaluate,preprocess,train-model" {
		t.Errorf("components in the status: %s", got)
	}
	pushed := map[string]bool{}
	for _, m := range []string{"pipeline_stage_items", "pipeline_stage_duration_seconds", "pipeline_stage_item_seconds", "pipeline_stage_overhead_seconds", "pipeline_stage_retries", "pipeline_stage_resource_seconds"} {
		for _, s := range testenv.Series(fams, m, group) {
			pushed[s.Labels["stage"]] = true
		}
	}
	for st := range pushed {
		if stages[st] == nil {
			t.Errorf("stage %q pushed, but it is no component of the pipeline", st)
		}
	}
}
