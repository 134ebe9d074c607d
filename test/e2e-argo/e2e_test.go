//go:build e2eargo

// Package e2eargo runs the example workflows on a real control plane: a real
// kube-apiserver, Argo's real workflow-controller, and kwok standing in for
// the kubelet (cluster.sh). kwok runs no containers, so this test does what
// the kubelet would for step-metrics' exit-handler pods: it reads the pod the
// controller created and runs our binary with exactly its command, args and
// env, authenticated as the pod's ServiceAccount with a token from the
// TokenRequest API, so the RBAC in templates/ is what is tested. Then it
// finishes the pod itself (pods/status, as the kubelet does) with the
// binary's exit code and real container times. It also plays kubelet for the
// step pods of test/e2e-argo/workflows/ (kubelet_test.go, tier_test.go).
//
// Run it with run.sh (make e2e-argo); it must run inside the cluster's
// network namespace, where pushgateway.monitoring.svc resolves to 127.0.0.1
// and a real Pushgateway listens on :9091.
package e2eargo

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argoclient "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

const (
	namespace = "ml"
	// pushgatewayAddr is where the examples' pushgateway-url
	// (http://pushgateway.monitoring.svc:9091) lands inside the netns.
	pushgatewayAddr = "127.0.0.1:9091"
	exitHandlerSel  = "app.kubernetes.io/component=exit-handler"
)

type env struct {
	kube       kubernetes.Interface
	argo       argoclient.Interface
	server, ca string // API server URL and CA file, for the tokens' kubeconfigs
	binary     string
	pg         *testenv.Pushgateway
	dir        string
}

func setup(t *testing.T) *env {
	t.Helper()
	kubeconfig := os.Getenv("KUBECONFIG")
	binary := os.Getenv("STEP_METRICS_BIN")
	if kubeconfig == "" || binary == "" {
		t.Fatal("run through test/e2e-argo/run.sh: KUBECONFIG and STEP_METRICS_BIN must be set")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		kube:   kubernetes.NewForConfigOrDie(cfg),
		argo:   argoclient.NewForConfigOrDie(cfg),
		server: cfg.Host,
		ca:     cfg.TLSClientConfig.CAFile,
		binary: binary,
		dir:    t.TempDir(),
	}
	if e.ca == "" {
		e.ca = filepath.Join(e.dir, "ca.crt")
		if err := os.WriteFile(e.ca, cfg.TLSClientConfig.CAData, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.pg = testenv.StartPushgateway(t, testenv.PushgatewayOptions{Addr: pushgatewayAddr})
	return e
}

// TestExamples submits each example workflow and checks what reaches the
// Pushgateway against the controller's own record of the run.
func TestExamples(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	cases := []struct {
		file       string
		wantResult string // pipeline_run_result's result label
		wantHooks  int    // exit-handler pods of step-metrics
		steps      string // the example's steps parameter
	}{
		{"ml-training-pipeline.yaml", "success", 1, "node"},
		{"onexit-classic.yaml", "success", 1, "template"},
		{"step-exit-hook.yaml", "success", 2, "node"},
		{"failing-pipeline.yaml", "failure", 1, "node"},
		{"cron-ml-pipeline.yaml", "success", 1, "node"},
		{"wrapped-step.yaml", "success", 1, "node"},
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".yaml"), func(t *testing.T) {
			start := time.Now()
			wf := e.submit(ctx, t, c.file)
			var atExit *wfv1.Workflow
			hooks := e.drive(ctx, t, wf.Name, driveOpts{atExit: func(w *wfv1.Workflow) { atExit = w }})
			final := e.waitFinished(ctx, t, wf.Name)
			record(t, "example-"+strings.TrimSuffix(c.file, ".yaml"), "examples/workflows/"+c.file, atExit, final)
			if hooks != c.wantHooks {
				t.Errorf("%d exit-handler pods ran, want %d", hooks, c.wantHooks)
			}
			e.checkHooksSucceeded(t, final)
			e.checkGroup(t, final, c.wantResult, c.steps)
			if c.file == "wrapped-step.yaml" {
				e.checkWrappedStep(t, final)
			}
			t.Logf("%s: %s, %d nodes, %v", final.Name, final.Status.Phase, len(final.Status.Nodes), time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestServiceAccountWithoutRole: the exit handler runs as a ServiceAccount
// the Role is not bound to. It says which permission is missing, exits 0,
// and still pushes the outcome from its arguments.
func TestServiceAccountWithoutRole(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	if _, err := e.kube.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "no-rbac"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	wf := e.submit(ctx, t, "failing-pipeline.yaml")
	var stderr string
	e.runExitHandlers(ctx, t, wf.Name, "no-rbac", func(code int, out string) { stderr = out })
	final := e.waitFinished(ctx, t, wf.Name)
	for _, want := range []string{"forbidden", `verb \"get\"`, `resource \"workflows\"`, "argoproj.io", "pushing its outcome from the arguments"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	fams := e.pg.Scrape(t)
	s := testenv.Series(fams, "pipeline_run_result", map[string]string{"workflow_id": string(final.UID), "namespace": namespace, "result": "failure"})
	if len(s) != 1 || s[0].Value != 1 {
		t.Errorf("outcome from the arguments not pushed: %+v", s)
	}
	if s := testenv.Series(fams, "pipeline_step_duration_seconds", map[string]string{"workflow_id": string(final.UID)}); len(s) != 0 {
		t.Errorf("%d step series without permission to read the steps", len(s))
	}
	e.checkHooksSucceeded(t, final)
}

func (e *env) submit(ctx context.Context, t *testing.T, file string) *wfv1.Workflow {
	t.Helper()
	return e.submitFile(ctx, t, filepath.Join("../../examples/workflows", file))
}

// submitFile submits the Workflow (or CronWorkflow's workflowSpec) in path.
func (e *env) submitFile(ctx context.Context, t *testing.T, path string) *wfv1.Workflow {
	t.Helper()
	file := filepath.Base(path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wf wfv1.Workflow
	if strings.Contains(string(b), "kind: CronWorkflow") {
		// What the controller does on schedule, now: a Workflow from the
		// cron's workflowSpec, named and labelled as the cron controller does.
		var cron wfv1.CronWorkflow
		if err := yaml.UnmarshalStrict(b, &cron); err != nil {
			t.Fatal(err)
		}
		wf.Name = fmt.Sprintf("%s-%d", cron.Name, time.Now().Unix())
		wf.Labels = map[string]string{"workflows.argoproj.io/cron-workflow": cron.Name}
		wf.Spec = cron.Spec.WorkflowSpec
	} else if err := yaml.UnmarshalStrict(b, &wf); err != nil {
		t.Fatal(err)
	}
	wf.Namespace = namespace
	created, err := e.argo.ArgoprojV1alpha1().Workflows(namespace).Create(ctx, &wf, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s: %v", file, err)
	}
	t.Logf("submitted %s as %s", file, created.Name)
	return created
}

// runExitHandlers plays kubelet for the workflow's step-metrics pods until
// the workflow ends: each pod, once, in creation order, as serviceAccount
// ("" for the pod's own). It returns how many it ran.
func (e *env) runExitHandlers(ctx context.Context, t *testing.T, wfName, serviceAccount string, after func(code int, stderr string)) int {
	t.Helper()
	return e.drive(ctx, t, wfName, driveOpts{serviceAccount: serviceAccount, after: after})
}

// driveOpts tune drive.
type driveOpts struct {
	serviceAccount string                        // "" for the pod's own
	after          func(code int, stderr string) // called after each exit-handler run
	// stop: patch spec.shutdown=Stop (what `argo stop` does) once every pod
	// annotated stepm-e2e/stop-when-running runs.
	stop bool
	// atExit, if set, receives the workflow as read right before the
	// workflow-level exit handler (node <wf>.onExit) ran: what it reads.
	atExit func(*wfv1.Workflow)
	// tick, if set, gets each read of the workflow before its pods are
	// finished (kfp_test.go: the KFP drivers' outputs).
	tick func(*wfv1.Workflow)
}

// drive plays kubelet until the workflow ends: for step-metrics' exit-handler
// pods (runs the binary, see runPod), for steps run through `step-metrics
// run` (runWrappedSteps), and for pods labelled stepm-e2e/kubelet=test
// (finishPods). It returns how many exit-handler pods it ran.
func (e *env) drive(ctx context.Context, t *testing.T, wfName string, o driveOpts) int {
	t.Helper()
	done := map[string]bool{}
	stopped, allRunning, sawExit := false, time.Time{}, false
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if err := e.runWrappedSteps(ctx, t, wfName, done); err != nil {
			t.Fatal(err)
		}
		wf, err := e.argo.ArgoprojV1alpha1().Workflows(namespace).Get(ctx, wfName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if o.tick != nil {
			o.tick(wf)
		}
		running := e.finishPods(ctx, t, wf)
		if o.stop && !stopped && running[annStopWhen] > 0 && running[annStopWhen] == running[annStopWhen+"/all"] {
			// Stop once they have run for two seconds.
			if allRunning.IsZero() {
				allRunning = time.Now()
			} else if time.Since(allRunning) >= 2*time.Second {
				stopWorkflow(ctx, t, e, wfName)
				stopped = true
			}
		}
		pods, err := e.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: exitHandlerSel + ",workflows.argoproj.io/workflow=" + wfName})
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(pods.Items, func(i, j int) bool {
			return pods.Items[i].CreationTimestamp.Before(&pods.Items[j].CreationTimestamp)
		})
		for i := range pods.Items {
			p := &pods.Items[i]
			if done[p.Name] || p.Status.Phase != corev1.PodRunning {
				continue
			}
			// The workflow-level exit handler: hooks.exit's pod is the node
			// <wf>.onExit, spec.onExit's steps template has pods below it
			// (<wf>.onExit[0].push-metrics).
			if nn := p.Annotations[annNodeName]; o.atExit != nil && !sawExit && (nn == wfName+".onExit" || strings.HasPrefix(nn, wfName+".onExit[")) {
				o.atExit(e.settled(ctx, t, wfName))
				sawExit = true
			}
			code, stderr := e.runPod(ctx, t, p, o.serviceAccount)
			if o.after != nil {
				o.after(code, stderr)
			}
			e.release(ctx, t, p, code)
			done[p.Name] = true
		}
		if wf.Status.Fulfilled() {
			n := 0
			for k := range done {
				if !strings.HasPrefix(k, "wrapped:") {
					n++
				}
			}
			return n
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("workflow %s did not finish in 3 minutes", wfName)
	return 0
}

// runPod runs the binary as the pod's main container would: the command
// after Argo's emissary wrapper, its args and its plain env, with a token of
// the ServiceAccount (the pod's own, unless sa overrides it).
func (e *env) runPod(ctx context.Context, t *testing.T, p *corev1.Pod, sa string) (int, string) {
	t.Helper()
	var main *corev1.Container
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == "main" {
			main = &p.Spec.Containers[i]
		}
	}
	if main == nil {
		t.Fatalf("pod %s has no main container", p.Name)
	}
	argv := append(append([]string{}, main.Command...), main.Args...)
	// Argo's emissary runs: /var/run/argo/argoexec emissary [flags] -- CMD ARGS...
	for i, a := range argv {
		if a == "--" {
			argv = argv[i+1:]
			break
		}
	}
	if len(argv) < 2 || argv[0] != "/step-metrics" || argv[1] != "push" {
		t.Fatalf("pod %s runs %q, want /step-metrics push ...", p.Name, argv)
	}
	for _, a := range argv {
		if strings.Contains(a, "{{") {
			t.Errorf("unsubstituted Argo variable in the pod's args: %q", a)
		}
	}
	if sa == "" {
		sa = p.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
	}
	kubeconfig := e.tokenKubeconfig(ctx, t, sa)
	cmd := exec.CommandContext(ctx, e.binary, argv[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "KUBECONFIG=" + kubeconfig}
	for _, ev := range main.Env {
		if ev.ValueFrom == nil && strings.HasPrefix(ev.Name, "STEP_METRICS_") {
			cmd.Env = append(cmd.Env, ev.Name+"="+ev.Value)
		}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("pod %s as %s: exit %d\n%s", p.Name, sa, code, stderr.String())
	if code != 0 {
		t.Errorf("step-metrics exited %d in pod %s", code, p.Name)
	}
	return code, stderr.String()
}

// tokenKubeconfig returns a kubeconfig holding a short-lived token of the
// ServiceAccount, from the TokenRequest API (what the kubelet mounts).
func (e *env) tokenKubeconfig(ctx context.Context, t *testing.T, sa string) string {
	t.Helper()
	exp := int64(600)
	tr, err := e.kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, sa, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", sa, err)
	}
	path := filepath.Join(e.dir, "kubeconfig-"+sa)
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, certificate-authority: %q}}]
users: [{name: %s, user: {token: %q}}]
contexts: [{name: c, context: {cluster: c, user: %s, namespace: %s}}]
current-context: c
`, e.server, e.ca, sa, tr.Status.Token, sa, namespace)
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// release finishes an exit-handler pod as the kubelet would once its
// container exited with code: it ran from the container's start until now
// (at least one second, so its resourcesDuration is not 0).
func (e *env) release(ctx context.Context, t *testing.T, p *corev1.Pod, code int) {
	t.Helper()
	if start := runningSince(p); !start.IsZero() {
		if wait := time.Until(start.Add(time.Second)); wait > 0 {
			time.Sleep(wait)
		}
	}
	e.finishPod(ctx, t, p.Name, func(c string) int {
		if c == "main" {
			return code
		}
		return 0
	}, time.Time{})
}

func (e *env) waitFinished(ctx context.Context, t *testing.T, name string) *wfv1.Workflow {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		wf, err := e.argo.ArgoprojV1alpha1().Workflows(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if wf.Status.Fulfilled() && !wf.Status.FinishedAt.IsZero() {
			return wf
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("workflow %s not finished", name)
	return nil
}

// hookedNodes returns the IDs of exit-handler and hook nodes and of the
// nodes inside them, read from the controller's status without our code: a
// node is inside a hook when its boundaryID chain reaches one (as the
// controller's NodeStatus.IsPartOfExitHandler decides); a hook's children are
// not followed (the task after a retried task with hooks.exit is a child of
// the hook node).
func hookedNodes(wf *wfv1.Workflow) map[string]bool {
	isHook := func(n wfv1.NodeStatus) bool {
		return (n.NodeFlag != nil && n.NodeFlag.Hooked) || strings.HasSuffix(n.Name, ".onExit")
	}
	out := map[string]bool{}
	for id, n := range wf.Status.Nodes {
		for seen := 0; seen <= len(wf.Status.Nodes); seen++ {
			if isHook(n) {
				out[id] = true
				break
			}
			b, ok := wf.Status.Nodes[n.BoundaryID]
			if n.BoundaryID == "" || !ok {
				break
			}
			n = b
		}
	}
	return out
}

// checkHooksSucceeded: the workflow's exit handlers ended Succeeded.
func (e *env) checkHooksSucceeded(t *testing.T, wf *wfv1.Workflow) {
	t.Helper()
	n := 0
	for id := range hookedNodes(wf) {
		node := wf.Status.Nodes[id]
		if node.Type == wfv1.NodeTypePod {
			n++
			if node.Phase != wfv1.NodeSucceeded {
				t.Errorf("exit-handler node %s is %s: %s", node.Name, node.Phase, node.Message)
			}
		}
	}
	if n == 0 {
		t.Error("no exit-handler pod node in the workflow's status")
	}
}

// checkGroup compares the run's Pushgateway group with the controller's
// record: every finished step pod, with finishedAt - startedAt, and the
// pipeline's outcome.
func (e *env) checkGroup(t *testing.T, wf *wfv1.Workflow, wantResult, stepMode string) {
	t.Helper()
	fams := e.pg.Scrape(t)
	group := map[string]string{"job": "step-metrics", "namespace": namespace, "workflow_id": string(wf.UID)}
	res := testenv.Series(fams, "pipeline_run_result", group)
	if len(res) == 0 {
		t.Fatalf("no group for %s (uid %s) in the Pushgateway", wf.Name, wf.UID)
	}
	for _, s := range res {
		want := 0.0
		if s.Labels["result"] == wantResult {
			want = 1
		}
		if s.Value != want {
			t.Errorf("pipeline_run_result{result=%q} = %v, want %v", s.Labels["result"], s.Value, want)
		}
	}
	hooked := hookedNodes(wf)
	durations := map[string]float64{}
	for _, s := range testenv.Series(fams, "pipeline_step_duration_seconds", group) {
		durations[s.Labels["node_id"]] = s.Value
	}
	steps, total := 0, 0.0
	for id, n := range wf.Status.Nodes {
		if n.Type != wfv1.NodeTypePod || hooked[id] || n.FinishedAt.IsZero() {
			continue
		}
		steps++
		want := n.FinishedAt.Sub(n.StartedAt.Time).Seconds()
		total += want
		if stepMode != "node" {
			continue
		}
		got, ok := durations[id]
		if !ok {
			t.Errorf("step %s (%s) is not in the Pushgateway", n.DisplayName, id)
			continue
		}
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("step %s: %vs pushed, controller says %vs", n.DisplayName, got, want)
		}
	}
	if steps == 0 {
		t.Error("the run has no step pods")
	}
	switch stepMode {
	case "node":
		if len(durations) != steps {
			t.Errorf("%d step durations pushed, the controller recorded %d finished step pods", len(durations), steps)
		}
	case "template":
		if len(durations) != 0 {
			t.Errorf("--steps template pushed %d per-node series", len(durations))
		}
		sum, n := 0.0, 0.0
		for _, s := range testenv.Series(fams, "pipeline_template_duration_seconds", group) {
			sum += s.Value
		}
		for _, s := range testenv.Series(fams, "pipeline_template_steps", group) {
			n += s.Value
		}
		if math.Abs(sum-total) > 1e-6 || int(n) != steps {
			t.Errorf("templates: %v steps, %vs pushed; the controller recorded %d steps, %vs", n, sum, steps, total)
		}
	}
	dur := testenv.Series(fams, "pipeline_run_duration_seconds", group)
	root := wf.Status.Nodes[wf.Name]
	if want := root.FinishedAt.Sub(wf.Status.StartedAt.Time).Seconds(); len(dur) != 1 || math.Abs(dur[0].Value-want) > 1e-9 {
		t.Errorf("pipeline duration %+v, want root finishedAt - startedAt = %v", dur, want)
	}
}

// mainArgv returns the pod's main container command line after Argo's
// emissary wrapper (/var/run/argo/argoexec emissary ... -- CMD ARGS).
func mainArgv(p *corev1.Pod) []string {
	for _, c := range p.Spec.Containers {
		if c.Name != "main" {
			continue
		}
		argv := append(append([]string{}, c.Command...), c.Args...)
		for i, a := range argv {
			if a == "--" {
				return argv[i+1:]
			}
		}
		return argv
	}
	return nil
}

// runWrappedSteps plays kubelet and Argo's wait container for steps whose
// command runs through `step-metrics run` (examples/workflows/wrapped-step.yaml):
// it runs the real wrapper with the pod's command, and reports the file the
// output parameter step-metrics reads as the step's output, in a
// WorkflowTaskResult, as the wait container would.
func (e *env) runWrappedSteps(ctx context.Context, t *testing.T, wfName string, done map[string]bool) error {
	pods, err := e.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "workflows.argoproj.io/workflow=" + wfName})
	if err != nil {
		return err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		argv := mainArgv(p)
		if done["wrapped:"+p.Name] || len(argv) < 2 || !strings.HasSuffix(argv[0], "/step-metrics") || argv[1] != "run" {
			continue
		}
		done["wrapped:"+p.Name] = true
		out := filepath.Join(e.dir, p.Name+".prom")
		args := append([]string{}, argv[1:]...)
		sep := -1
		for j, a := range args {
			if a == "--output-file" && j+1 < len(args) {
				args[j+1] = out
			}
			if a == "--" && sep < 0 {
				sep = j
			}
		}
		if sep >= 0 && sep+1 < len(args) && args[sep+1] == "python" {
			if _, err := exec.LookPath("python"); err != nil {
				args[sep+1] = "python3"
			}
		}
		cmd := exec.CommandContext(ctx, e.binary, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		b, err := cmd.CombinedOutput()
		t.Logf("wrapped step %s: %v\n%s", p.Name, err, b)
		if err != nil {
			return fmt.Errorf("wrapper in pod %s: %v", p.Name, err)
		}
		text, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		nodeID := p.Annotations["workflows.argoproj.io/node-id"]
		if nodeID == "" {
			return fmt.Errorf("pod %s has no node-id annotation", p.Name)
		}
		tr := &wfv1.WorkflowTaskResult{
			ObjectMeta: metav1.ObjectMeta{Name: nodeID, Namespace: namespace, Labels: map[string]string{
				"workflows.argoproj.io/workflow":                 wfName,
				"workflows.argoproj.io/report-outputs-completed": "true",
			}},
			NodeResult: wfv1.NodeResult{Phase: wfv1.NodeSucceeded, Outputs: &wfv1.Outputs{
				Parameters: []wfv1.Parameter{{Name: "step-metrics", Value: wfv1.AnyStringPtr(string(text))}},
			}},
		}
		if _, err := e.argo.ArgoprojV1alpha1().WorkflowTaskResults(namespace).Create(ctx, tr, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("task result for %s: %v", p.Name, err)
		}
	}
	return nil
}

// checkWrappedStep: what the wrapped command and the wrapper measured went
// from the step's output parameter, through the controller's status, to the
// run's group.
func (e *env) checkWrappedStep(t *testing.T, wf *wfv1.Workflow) {
	t.Helper()
	fams := e.pg.Scrape(t)
	m := map[string]string{"workflow_id": string(wf.UID), "step": "train"}
	if s := testenv.Series(fams, "pipeline_custom_training_seconds", m); len(s) != 1 || s[0].Value < 5 {
		t.Errorf("training_seconds from the child: %+v", s)
	}
	m["split"] = "test"
	if s := testenv.Series(fams, "pipeline_custom_accuracy", m); len(s) != 1 || s[0].Value != 0.93 {
		t.Errorf("accuracy from the child: %+v", s)
	}
	delete(m, "split")
	if s := testenv.Series(fams, "pipeline_custom_command_duration_seconds", m); len(s) != 1 || s[0].Value < 5 {
		t.Errorf("the wrapper's wall time: %+v", s)
	}
	if s := testenv.Series(fams, "pipeline_custom_command_exit_code", m); len(s) != 1 || s[0].Value != 0 {
		t.Errorf("the wrapper's exit code: %+v", s)
	}
}
