//go:build e2eargo

package e2eargo

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The test's kubelet stand-in for pods labelled stepm-e2e/kubelet=test
// (kwok's pod-complete and pod-fail stages leave them alone; kwok's pod-ready
// still makes them Running, containers running since then). Like the kubelet,
// it writes the pod's status through the pods/status subresource, with real
// container start and end times, so Argo's controller computes a non-zero
// resourcesDuration from the pod's requests (util/resource.DurationForPod):
//
//   - stepm-e2e/duration (default 1s): the containers run that long, from
//     their start (kwok's pod-ready) to startedAt + duration;
//   - stepm-e2e/exit-codes (default "0"): the main container's exit code per
//     attempt (the node name's "(N)" suffix), comma-separated, the last one
//     repeating; the other containers exit 0; the pod fails on non-zero;
//   - a pod past its spec.activeDeadlineSeconds (which the controller sets
//     from the workflow's deadline) fails as the kubelet fails it: reason
//     DeadlineExceeded, containers killed (137);
//   - a pod whose node the controller has already failed (workflow deadline,
//     stop: exec_control.go applyExecutionControl) is killed now, as the
//     kubelet would on the SIGTERM the controller sends through pods/exec
//     (which reaches no kubelet here): main exits 143.
const kubeletLabel = "stepm-e2e/kubelet"

const (
	annDuration  = "stepm-e2e/duration"
	annExitCodes = "stepm-e2e/exit-codes"
	annStopWhen  = "stepm-e2e/stop-when-running"
	annNodeID    = "workflows.argoproj.io/node-id"
	annNodeName  = "workflows.argoproj.io/node-name"
)

// attemptSuffix is the "(N)" Argo gives a retry attempt's node name.
var attemptSuffix = regexp.MustCompile(`\((\d+)\)$`)

// runningSince is when the pod's main container started running (kwok's
// pod-ready), zero if it is not running.
func runningSince(p *corev1.Pod) time.Time {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == "main" && cs.State.Running != nil {
			return cs.State.Running.StartedAt.Time
		}
	}
	return time.Time{}
}

// finishPods finishes the workflow's stand-in pods that are due. It returns,
// for the stop trigger, how many pods annotated stepm-e2e/stop-when-running
// run ([annStopWhen]) and how many must ([annStopWhen+"/all"]).
func (e *env) finishPods(ctx context.Context, t *testing.T, wf *wfv1.Workflow) map[string]int {
	t.Helper()
	pods, err := e.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: kubeletLabel + "=test,workflows.argoproj.io/workflow=" + wf.Name})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if v, ok := p.Annotations[annStopWhen]; ok {
			n, _ := strconv.Atoi(v)
			counts[annStopWhen+"/all"] = n
			if p.Status.Phase == corev1.PodRunning {
				counts[annStopWhen]++
			}
		}
		start := runningSince(p)
		if p.Status.Phase != corev1.PodRunning || start.IsZero() {
			continue
		}
		if node, ok := wf.Status.Nodes[p.Annotations[annNodeID]]; ok && node.Fulfilled() {
			t.Logf("kubelet: killing pod %s (node %s is %s: %s)", p.Name, node.DisplayName, node.Phase, node.Message)
			e.finishPod(ctx, t, p.Name, func(c string) int {
				if c == "main" {
					return 143
				}
				return 0
			}, time.Time{})
			continue
		}
		if ads := p.Spec.ActiveDeadlineSeconds; ads != nil && p.Status.StartTime != nil &&
			!time.Now().Before(p.Status.StartTime.Add(time.Duration(*ads)*time.Second)) {
			// The kubelet's own pod deadline (kubelet_pods.go: pastActiveDeadline),
			// which the controller sets from the workflow deadline too.
			t.Logf("kubelet: pod %s past its activeDeadlineSeconds %d", p.Name, *ads)
			e.finishPodWith(ctx, t, p.Name, func(string) int { return 137 }, time.Time{}, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
			continue
		}
		d := time.Second
		if v := p.Annotations[annDuration]; v != "" {
			if d, err = time.ParseDuration(v); err != nil {
				t.Fatalf("pod %s: %s: %v", p.Name, annDuration, err)
			}
		}
		end := start.Add(d)
		if time.Now().Before(end) {
			continue
		}
		code := 0
		if v := p.Annotations[annExitCodes]; v != "" {
			codes := strings.Split(v, ",")
			attempt := 0
			if m := attemptSuffix.FindStringSubmatch(p.Annotations[annNodeName]); m != nil {
				attempt, _ = strconv.Atoi(m[1])
			}
			if attempt >= len(codes) {
				attempt = len(codes) - 1
			}
			if code, err = strconv.Atoi(strings.TrimSpace(codes[attempt])); err != nil {
				t.Fatalf("pod %s: %s: %v", p.Name, annExitCodes, err)
			}
		}
		e.finishPod(ctx, t, p.Name, func(c string) int {
			if c == "main" {
				return code
			}
			return 0
		}, end)
	}
	return counts
}

// finishPod writes the status the kubelet writes when the pod's containers
// have exited: each container terminated with codeOf(name), from its running
// startedAt to end (now if zero); phase Failed if any code is non-zero.
func (e *env) finishPod(ctx context.Context, t *testing.T, name string, codeOf func(container string) int, end time.Time) {
	t.Helper()
	e.finishPodWith(ctx, t, name, codeOf, end, "", "")
}

// finishPodWith is finishPod with the pod's status reason and message.
func (e *env) finishPodWith(ctx context.Context, t *testing.T, name string, codeOf func(container string) int, end time.Time, reason, message string) {
	t.Helper()
	for try := 0; ; try++ {
		p, err := e.kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status.Phase != corev1.PodRunning {
			return
		}
		fin := end
		if fin.IsZero() {
			fin = time.Now()
		}
		phase := corev1.PodSucceeded
		for i := range p.Status.ContainerStatuses {
			cs := &p.Status.ContainerStatuses[i]
			started := p.Status.StartTime
			if cs.State.Running != nil {
				started = &cs.State.Running.StartedAt
			}
			if started == nil {
				started = &metav1.Time{Time: fin}
			}
			code := codeOf(cs.Name)
			reason := "Completed"
			if code != 0 {
				reason = "Error"
				phase = corev1.PodFailed
			}
			f := false
			cs.Ready, cs.Started = false, &f
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: int32(code), Reason: reason, StartedAt: *started, FinishedAt: metav1.NewTime(fin),
			}}
		}
		p.Status.Phase = phase
		if reason != "" {
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, reason, message
		}
		for i := range p.Status.Conditions {
			c := &p.Status.Conditions[i]
			if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				c.Status, c.Reason, c.LastTransitionTime = corev1.ConditionFalse, "PodCompleted", metav1.NewTime(fin)
			}
		}
		_, err = e.kube.CoreV1().Pods(namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) || try > 5 {
			t.Fatalf("finish pod %s: %v", name, err)
		}
	}
}

// stopWorkflow does what `argo stop` does: spec.shutdown = Stop.
func stopWorkflow(ctx context.Context, t *testing.T, e *env, name string) {
	t.Helper()
	t.Logf("argo stop %s (spec.shutdown: Stop)", name)
	if _, err := e.argo.ArgoprojV1alpha1().Workflows(namespace).Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"shutdown":"Stop"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// settled reads the workflow until its nodes outside the exit handlers stay
// the same for half a second (at most 10 s): pods the stand-in just killed
// may still be landing in the status.
func (e *env) settled(ctx context.Context, t *testing.T, name string) *wfv1.Workflow {
	t.Helper()
	key := func(wf *wfv1.Workflow) string {
		hooked := hookedNodes(wf)
		m := map[string]wfv1.NodeStatus{}
		for id, n := range wf.Status.Nodes {
			if !hooked[id] {
				m[id] = n
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	var prev *wfv1.Workflow
	deadline := time.Now().Add(10 * time.Second)
	for {
		wf, err := e.argo.ArgoprojV1alpha1().Workflows(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if prev != nil && key(prev) == key(wf) || time.Now().After(deadline) {
			return wf
		}
		prev = wf
		time.Sleep(500 * time.Millisecond)
	}
}
