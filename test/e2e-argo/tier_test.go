//go:build e2eargo

package e2eargo

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

// TestTierWorkflows runs the workflows of test/e2e-argo/workflows/ (edge
// cases of the controller's status shapes: fan-out with retries, continueOn
// and when, a retried task with hooks.exit, suspend, the workflow deadline,
// argo stop), the step pods finished by the test's kubelet stand-in with real
// container times, and checks the run's group against the controller's
// status as the exit handler read it, computed here from the Workflow object
// alone.
func TestTierWorkflows(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	cases := []struct {
		file       string
		wantResult string
		wantHooks  int
		stop       bool
	}{
		{"fanout-retries.yaml", "success", 1, false},
		{"continueon-when.yaml", "success", 1, false},
		{"retry-hook-next.yaml", "success", 2, false},
		{"suspend.yaml", "success", 1, false},
		{"deadline.yaml", "timeout", 1, false},
		{"stop.yaml", "cancellation", 1, true},
	}
	for _, c := range cases {
		name := strings.TrimSuffix(c.file, ".yaml")
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			wf := e.submitFile(ctx, t, filepath.Join("workflows", c.file))
			var atExit *wfv1.Workflow
			hooks := e.drive(ctx, t, wf.Name, driveOpts{stop: c.stop, atExit: func(w *wfv1.Workflow) { atExit = w }})
			final := e.waitFinished(ctx, t, wf.Name)
			record(t, name, "test/e2e-argo/workflows/"+c.file, atExit, final)
			if hooks != c.wantHooks {
				t.Errorf("%d exit-handler pods ran, want %d", hooks, c.wantHooks)
			}
			if atExit == nil {
				t.Fatal("the workflow-level exit handler never ran")
			}
			e.checkHooksSucceeded(t, final)
			e.checkTier(t, atExit, final, c.wantResult)
			t.Logf("%s: %s, %d nodes, %v", final.Name, final.Status.Phase, len(final.Status.Nodes), time.Since(start).Round(time.Millisecond))
		})
	}
}

// wantStep is what the status says of one step, read without step-metrics.
type wantStep struct {
	id, name, stage, item, attempt string
	typ                            wfv1.NodeType
	result                         string // "" while unfinished
	finished                       bool
	start, end                     time.Time
	res                            wfv1.ResourcesDuration
}

var (
	itemRe     = regexp.MustCompile(`^([^()]+)\((\d+):[^()]*\)$`)
	exitCodeRe = regexp.MustCompile(`\(exit code (\d+)\)$`)
)

// wantResultOf is a node's result as the README's "Semantics of edge cases"
// define it: Succeeded success; Skipped and Omitted skip; Failed or Error
// cancellation when the controller failed it for a stop ("workflow shutdown
// with strategy") or killed it under spec.shutdown, timeout when it failed it
// for the workflow deadline ("Step exceeded its deadline") or killed it past
// the deadline, a Retry node as its last attempt; failure otherwise.
func wantResultOf(wf *wfv1.Workflow, n wfv1.NodeStatus, deadline time.Time) string {
	switch n.Phase {
	case wfv1.NodeSucceeded:
		return "success"
	case wfv1.NodeSkipped, wfv1.NodeOmitted:
		return "skip"
	case wfv1.NodeFailed, wfv1.NodeError:
	default:
		return ""
	}
	m := strings.TrimSpace(n.Message)
	switch {
	case strings.HasPrefix(m, "workflow shutdown with strategy"):
		return "cancellation"
	case m == "Step exceeded its deadline", strings.HasSuffix(m, "Pod was active on the node longer than the specified deadline"):
		return "timeout"
	}
	if c := exitCodeRe.FindStringSubmatch(m); c != nil && (c[1] == "143" || c[1] == "137") {
		switch {
		case wf.Spec.Shutdown != "":
			return "cancellation"
		case !deadline.IsZero() && !n.FinishedAt.Time.Before(deadline):
			return "timeout"
		}
	}
	if n.Type == wfv1.NodeTypeRetry && len(n.Children) > 0 {
		for i := len(n.Children) - 1; i >= 0; i-- {
			c := wf.Status.Nodes[n.Children[i]]
			if strings.HasPrefix(c.Name, n.Name+"(") {
				if r := wantResultOf(wf, c, deadline); r == "timeout" || r == "cancellation" {
					return r
				}
				break
			}
		}
	}
	return "failure"
}

// wantSteps reads the steps, retries (Retry node ID -> attempts) and the
// workflow deadline from the status.
func wantSteps(wf *wfv1.Workflow) (steps []wantStep, retries map[string]int, deadline time.Time) {
	if ads := wf.Spec.ActiveDeadlineSeconds; ads != nil && *ads > 0 {
		deadline = wf.Status.StartedAt.Truncate(time.Second).Add(time.Duration(*ads) * time.Second)
	}
	hooked := hookedNodes(wf)
	retryOf := map[string]string{}
	attemptOf := map[string]int{}
	retries = map[string]int{}
	for id, n := range wf.Status.Nodes {
		if n.Type != wfv1.NodeTypeRetry || hooked[id] {
			continue
		}
		i := 0
		for _, c := range n.Children {
			// Attempts are named "<retry>(N)"; the Retry's exit hook
			// ("<retry>.onExit") is its child too, and no attempt.
			if cn := wf.Status.Nodes[c]; strings.HasPrefix(cn.Name, n.Name+"(") && !hooked[c] {
				retryOf[c], attemptOf[c] = id, i
				i++
			}
		}
		retries[id] = i
	}
	for id, n := range wf.Status.Nodes {
		if hooked[id] {
			continue
		}
		switch n.Type {
		case wfv1.NodeTypePod, wfv1.NodeTypeSuspend, wfv1.NodeTypeSkipped, wfv1.NodeTypeContainer:
		default:
			continue
		}
		s := wantStep{id: id, name: n.DisplayName, typ: n.Type, result: wantResultOf(wf, n, deadline), start: n.StartedAt.Time, end: n.FinishedAt.Time}
		if r, ok := retryOf[id]; ok {
			s.name = wf.Status.Nodes[r].DisplayName
			s.attempt = strconv.Itoa(attemptOf[id])
		}
		s.stage = s.name
		if m := itemRe.FindStringSubmatch(s.name); m != nil {
			s.stage, s.item = m[1], m[2]
		}
		s.finished = s.result != "" && s.result != "skip" && !s.start.IsZero() && !s.end.IsZero()
		if n.Type == wfv1.NodeTypePod {
			s.res = n.ResourcesDuration
		}
		steps = append(steps, s)
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].id < steps[j].id })
	return steps, retries, deadline
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// checkTier compares the run's group with the status the exit handler read
// (atExit) and the final one.
func (e *env) checkTier(t *testing.T, wf, final *wfv1.Workflow, wantResult string) {
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
	one := func(metric string, kv ...string) (float64, bool) {
		s := testenv.Series(fams, metric, with(kv...))
		if len(s) > 1 {
			t.Errorf("%s%v: %d series, want at most 1", metric, kv, len(s))
		}
		if len(s) == 0 {
			return 0, false
		}
		return s[0].Value, true
	}
	expect := func(metric string, want float64, kv ...string) {
		t.Helper()
		got, ok := one(metric, kv...)
		if !ok {
			t.Errorf("%s%v missing, status says %v", metric, kv, want)
		} else if !near(got, want) {
			t.Errorf("%s%v = %v, status says %v", metric, kv, got, want)
		}
	}
	absent := func(metric string, why string, kv ...string) {
		t.Helper()
		if got, ok := one(metric, kv...); ok {
			t.Errorf("%s%v = %v pushed, want none: %s", metric, kv, got, why)
		}
	}

	// The run.
	root := wf.Status.Nodes[wf.Name]
	steps, retries, deadline := wantSteps(wf)
	switch wantResult {
	case "cancellation":
		if wf.Spec.Shutdown != wfv1.ShutdownStrategyStop || !root.FailedOrError() {
			t.Errorf("status: shutdown %q, root %s: not a stopped run", wf.Spec.Shutdown, root.Phase)
		}
	case "timeout":
		// Failed at or past the deadline, or by a step the deadline failed.
		byDeadline := false
		for _, s := range steps {
			byDeadline = byDeadline || s.result == "timeout"
		}
		if deadline.IsZero() || !root.FailedOrError() || (root.FinishedAt.Time.Before(deadline) && !byDeadline) {
			t.Errorf("status: root %s at %v, deadline %v: not a run failed by its deadline", root.Phase, root.FinishedAt, deadline)
		}
	}
	if got, ok := one("pipeline_run_result", "result", wantResult); !ok || got != 1 {
		t.Errorf("pipeline_run_result{result=%q} = %v (pushed: %v), root %s %q", wantResult, got, ok, root.Phase, root.Message)
		for _, s := range testenv.Series(fams, "pipeline_run_result", group) {
			if s.Value == 1 {
				t.Errorf("  pushed result %q", s.Labels["result"])
			}
		}
	}
	expect("pipeline_run_duration_seconds", root.FinishedAt.Sub(wf.Status.StartedAt.Time).Seconds())

	// Every step.
	counts := map[string]float64{}
	unfinished, wait := 0.0, 0.0
	runRes := map[string]float64{}
	for _, s := range steps {
		labels := []string{"node_id", s.id, "step", s.name, "stage", s.stage, "item", s.item, "attempt", s.attempt}
		if s.result == "" {
			unfinished++
			absent("pipeline_step_result", "unfinished step "+s.name, "node_id", s.id)
		} else {
			counts[s.result]++
			expect("pipeline_step_result", 1, append(labels, "result", s.result, "phase", string(wf.Status.Nodes[s.id].Phase))...)
		}
		dur := s.end.Sub(s.start).Seconds()
		switch {
		case !s.finished:
			absent("pipeline_step_duration_seconds", "no duration for "+s.name, "node_id", s.id)
			absent("pipeline_step_wait_seconds", "no duration for "+s.name, "node_id", s.id)
		case s.typ == wfv1.NodeTypeSuspend:
			wait += dur
			expect("pipeline_step_wait_seconds", dur, labels...)
			absent("pipeline_step_duration_seconds", "a suspend is waiting time", "node_id", s.id)
		default:
			expect("pipeline_step_duration_seconds", dur, labels...)
		}
		for r, d := range s.res {
			runRes[string(r)] += float64(d)
			expect("pipeline_step_resource_seconds", float64(d), "node_id", s.id, "resource", string(r))
		}
		if s.typ != wfv1.NodeTypePod {
			absent("pipeline_step_resource_seconds", "resource seconds are pods' only", "node_id", s.id)
		}
	}
	if n := len(testenv.Series(fams, "pipeline_step_result", group)); n != int(len(steps)-int(unfinished)) {
		t.Errorf("%d pipeline_step_result series, the status has %d finished steps", n, len(steps)-int(unfinished))
	}
	for _, r := range []string{"success", "failure", "error", "skip", "timeout", "cancellation"} {
		expect("pipeline_run_steps", counts[r], "result", r)
	}
	expect("pipeline_run_steps_unfinished", unfinished)
	expect("pipeline_run_wait_seconds", wait)

	// Retries: attempts after the first, per Retry node (its hook is none).
	total := 0
	for id, n := range retries {
		total += max(n-1, 0)
		expect("pipeline_step_retries", float64(max(n-1, 0)), "node_id", id)
	}
	if n := len(testenv.Series(fams, "pipeline_step_retries", group)); n != len(retries) {
		t.Errorf("%d pipeline_step_retries series, the status has %d Retry nodes", n, len(retries))
	}
	expect("pipeline_run_retries", float64(total))

	// Resource seconds: Pod nodes only; the run's total is what the
	// controller sums over all pods at the end minus the exit handlers'.
	checkRunResources(t, final, runRes, expect)

	// Stages: fan-out items name(i:v) and retry attempts are one stage.
	type stage struct {
		items       map[string]float64
		first, last time.Time
		open, timed int
		itemSecs    float64
		retries     int
		res         map[string]float64
	}
	stages := map[string]*stage{}
	get := func(n string) *stage {
		if stages[n] == nil {
			stages[n] = &stage{items: map[string]float64{}, res: map[string]float64{}}
		}
		return stages[n]
	}
	for _, s := range steps {
		a := get(s.stage)
		if s.result != "" {
			a.items[s.result]++
		}
		for r, d := range s.res {
			a.res[string(r)] += float64(d)
		}
		switch {
		case s.result == "skip":
		case !s.finished:
			a.open++
		default:
			a.timed++
			a.itemSecs += s.end.Sub(s.start).Seconds()
			if a.first.IsZero() || s.start.Before(a.first) {
				a.first = s.start
			}
			if s.end.After(a.last) {
				a.last = s.end
			}
		}
	}
	for id, n := range retries {
		name := wf.Status.Nodes[id].DisplayName
		if m := itemRe.FindStringSubmatch(name); m != nil {
			name = m[1]
		}
		get(name).retries += max(n-1, 0)
	}
	for name, a := range stages {
		for r, v := range a.items {
			expect("pipeline_stage_items", v, "stage", name, "result", r)
		}
		if n := len(testenv.Series(fams, "pipeline_stage_items", with("stage", name))); n != len(a.items) {
			t.Errorf("stage %s: %d pipeline_stage_items series, the status has results %v", name, n, a.items)
		}
		if a.timed > 0 && a.open == 0 {
			expect("pipeline_stage_duration_seconds", a.last.Sub(a.first).Seconds(), "stage", name)
		} else {
			absent("pipeline_stage_duration_seconds", fmt.Sprintf("%d timed, %d open items", a.timed, a.open), "stage", name)
		}
		if a.timed > 0 {
			expect("pipeline_stage_item_seconds", a.itemSecs, "stage", name)
		}
		if a.retries > 0 {
			expect("pipeline_stage_retries", float64(a.retries), "stage", name)
		}
		for r, v := range a.res {
			expect("pipeline_stage_resource_seconds", v, "stage", name, "resource", r)
		}
	}
	if n := len(testenv.Series(fams, "pipeline_stage_duration_seconds", group)); n > len(stages) {
		t.Errorf("%d stage durations pushed, the status has %d stages", n, len(stages))
	}
}

// record writes the workflow as the exit handler read it and as it finished,
// as `kubectl get wf -o yaml` prints them (no managedFields), into
// $STEPM_E2E_RECORD_DIR/<name>.yaml (two YAML documents), when set.
func record(t *testing.T, name, source string, atExit, final *wfv1.Workflow) {
	t.Helper()
	dir := os.Getenv("STEPM_E2E_RECORD_DIR")
	if dir == "" {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Recorded by test/e2e-argo (%s), Argo workflow-controller %s, %s.\n", source, os.Getenv("STEPM_E2E_ARGO_VERSION"), time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "# Document 1: the Workflow as read right before the workflow-level exit handler ran; document 2: after completion.\n")
	docs := 0
	for _, wf := range []*wfv1.Workflow{atExit, final} {
		if wf == nil {
			b.WriteString("# (no exit-handler read recorded)\n")
			continue
		}
		w := wf.DeepCopy()
		w.APIVersion, w.Kind = "argoproj.io/v1alpha1", "Workflow"
		w.ManagedFields = nil
		y, err := yaml.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if docs++; docs > 1 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkRunResources checks the run's resource seconds, runRes (the sum
// over its step pods at exit-handler time), against the controller's own
// total at the end (status.resourcesDuration minus the exit handlers'
// pods), requires some cpu (the kubelet stand-in's container times reached
// the controller), and expects runRes as pipeline_run_resource_seconds.
func checkRunResources(t *testing.T, final *wfv1.Workflow, runRes map[string]float64, expect func(metric string, want float64, kv ...string)) {
	t.Helper()
	hooked := hookedNodes(final)
	fromStatus := map[string]float64{}
	for r, d := range final.Status.ResourcesDuration {
		fromStatus[string(r)] += float64(d)
	}
	for id, n := range final.Status.Nodes {
		if hooked[id] && n.Type == wfv1.NodeTypePod {
			for r, d := range n.ResourcesDuration {
				fromStatus[string(r)] -= float64(d)
			}
		}
	}
	if runRes["cpu"] <= 0 {
		t.Errorf("the run's pods have no cpu resourcesDuration in the status (%v): the kubelet stand-in's container times did not reach the controller", runRes)
	}
	for r, v := range fromStatus {
		if !near(v, runRes[r]) {
			t.Errorf("status.resourcesDuration[%s] minus the exit handlers' pods = %v, the steps' pods at exit-handler time sum to %v", r, v, runRes[r])
		}
	}
	for r, v := range runRes {
		expect("pipeline_run_resource_seconds", v, "resource", r)
	}
}
