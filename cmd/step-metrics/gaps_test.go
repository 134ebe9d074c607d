package main

// Loud gaps, one deadline and the series budget, end to end: the real
// binary against a real Pushgateway and loopback stand-ins for the
// apiserver that refuse, dribble or never finish.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/step-metrics/step-metrics/bench/synth"
	"github.com/step-metrics/step-metrics/internal/faultproxy"
	"github.com/step-metrics/step-metrics/internal/testenv"
	"github.com/step-metrics/step-metrics/pkg/metrics"
)

// TestForbiddenIsLoud: the shipped RoleBinding names the ServiceAccount
// "default"; a workflow running as another one gets 403 from the
// apiserver. The exit handler still exits 0, pushes the outcome from its
// arguments with pipeline_run_metrics_incomplete{reason="forbidden"} 1 and
// an end timestamp (when it ran), so the run is on the panels and the
// alert fires, and its warning names the Role it needs and the fix.
func TestForbiddenIsLoud(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	_, kubeconfig := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		apiStatus(w, 403, "Forbidden", `workflows.argoproj.io "train-x7k2p" is forbidden: User "system:serviceaccount:ml:trainer" cannot get resource "workflows" in API group "argoproj.io" in the namespace "ml"`)
	})
	before := float64(time.Now().UnixNano()) / 1e9
	r := runCLI(t, nil, []string{"KUBECONFIG=" + kubeconfig}, "push", "--workflow", "train-x7k2p", "--namespace", "ml",
		"--workflow-uid", exampleUID, "--status", "Succeeded", "--pushgateway", pg.URL)
	after := float64(time.Now().UnixNano()) / 1e9
	r.want(t, 0)
	for _, s := range []string{"forbidden (403)", `verb \"get\" on resource \"workflows\"`, "kubectl apply -k templates/rbac/", "system:serviceaccount:ml:trainer", "incomplete=forbidden"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr does not say %s:\n%s", s, r.stderr)
		}
	}
	got := groupSeries(pg.Scrape(t), exampleNS, exampleUID)
	if v, ok := got["pipeline_run_metrics_incomplete{engine=argo,pipeline=train,reason=forbidden,workflow=train-x7k2p}"]; !ok || v != 1 {
		t.Errorf("pipeline_run_metrics_incomplete{reason=forbidden} = %v, %v; the group holds %v", v, ok, keys(got))
	}
	if v := got["pipeline_run_result{engine=argo,phase=Succeeded,pipeline=train,result=success,workflow=train-x7k2p}"]; v != 1 {
		t.Errorf("the outcome from the arguments is not pushed: %v", keys(got))
	}
	end, ok := got["pipeline_run_end_timestamp_seconds{engine=argo,pipeline=train,workflow=train-x7k2p}"]
	if !ok || end < before-1 || end > after {
		t.Errorf("end timestamp %v (%v): want when the handler ran, %.0f..%.0f", end, ok, before, after)
	}
	for k := range got {
		if strings.HasPrefix(k, "pipeline_run_duration_seconds") || strings.HasPrefix(k, "pipeline_run_start") {
			t.Errorf("%s: a made-up time", k)
		}
	}
}

// TestTektonForbiddenIsLoud: the same for a PipelineRun.
func TestTektonForbiddenIsLoud(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	kubeconfig, _ := newTektonAPIServer(t, http.StatusForbidden)
	r := runCLI(t, nil, nil, "push", "--pipeline-run", tektonRunName, "--namespace", "ml", "--workflow-uid", tektonUID,
		"--task-run", tektonSelf, "--status", "Completed", "--kubeconfig", kubeconfig, "--pushgateway", pg.URL)
	r.want(t, 0)
	s := testenv.Series(pg.Scrape(t), "pipeline_run_metrics_incomplete", map[string]string{"workflow_id": tektonUID, "engine": "tekton"})
	if len(s) != 1 || s[0].Labels["reason"] != "forbidden" || s[0].Value != 1 {
		t.Errorf("pipeline_run_metrics_incomplete: %+v\n%s", s, r.stderr)
	}
}

// runCLIStdin is runCLI with a stdin that may never end, killed after
// limit.
func runCLIStdin(t *testing.T, stdin io.Reader, limit time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	cmd.Stdin = stdin
	cmd.WaitDelay = time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("push %v still ran after %v: --timeout does not bound the process\n%s", args, limit, r.stderr)
	}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return r
}

// dribble writes a YAML comment line every interval until stop: a source
// that never ends.
func dribble(stop <-chan struct{}, interval time.Duration) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		defer pw.Close()
		for {
			select {
			case <-stop:
				return
			case <-time.After(interval):
				if _, err := pw.Write([]byte("# still coming\n")); err != nil {
					return
				}
			}
		}
	}()
	return pr
}

// TestOneDeadline: --timeout is one deadline for the whole process, read,
// decode, compute and push with its retries, and the process returns
// within it (plus start-up) with exit 0 (1 with --strict) and a warning.
// The times asserted are loose (a few times the timeout at most where the
// old code took the timeout twice or forever); the exit codes and messages
// are exact.
func TestOneDeadline(t *testing.T) {
	t.Run("stdin that never ends", func(t *testing.T) {
		// Before: no deadline on a file or stdin at all; it hung.
		for _, strict := range []bool{false, true} {
			stop := make(chan struct{})
			args := []string{"push", "-f", "-", "--dry-run", "--timeout", "1s"}
			want := 0
			if strict {
				args, want = append(args, "--strict"), 1
			}
			r := runCLIStdin(t, dribble(stop, 20*time.Millisecond), 20*time.Second, args...)
			close(stop)
			r.want(t, want)
			if r.took > 10*time.Second {
				t.Errorf("took %v with --timeout 1s", r.took)
			}
			for _, s := range []string{"metrics not pushed", "reading the run and computing its metrics took more than 750ms of --timeout 1s", "context deadline exceeded"} {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("strict=%v: stderr does not say %s:\n%s", strict, s, r.stderr)
				}
			}
			t.Logf("strict=%v: took %v", strict, r.took.Round(time.Millisecond))
		}
	})

	t.Run("apiserver that dribbles forever", func(t *testing.T) {
		// The read is cut at 3/4 of --timeout and the outcome from the
		// arguments is pushed in the rest, saying reason="timeout".
		pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
		_, kubeconfig := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"annotations":{"x":"`)
			for {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
				_, _ = io.WriteString(w, "still coming ")
				w.(http.Flusher).Flush()
			}
		})
		r := runCLI(t, nil, []string{"KUBECONFIG=" + kubeconfig}, "push", "--workflow", "train-x7k2p", "--namespace", "ml",
			"--workflow-uid", exampleUID, "--status", "Failed", "--pushgateway", pg.URL, "--timeout", "2s")
		r.want(t, 0)
		if r.took > 10*2*time.Second {
			t.Errorf("took %v with --timeout 2s", r.took)
		}
		t.Logf("took %v", r.took.Round(time.Millisecond))
		s := testenv.Series(pg.Scrape(t), "pipeline_run_metrics_incomplete", map[string]string{"workflow_id": exampleUID})
		if len(s) != 1 || s[0].Labels["reason"] != "timeout" {
			t.Errorf("pipeline_run_metrics_incomplete: %+v\n%s", s, r.stderr)
		}
		if !strings.Contains(r.stderr, "msg=pushed") {
			t.Errorf("not pushed:\n%s", r.stderr)
		}
	})

	t.Run("slow read, then a Pushgateway that never answers", func(t *testing.T) {
		// The apiserver takes 2 s of --timeout 3s to send the workflow; the
		// push then has what is left, not another 3 s (the old code took
		// the read's 2 s plus a whole --timeout for the push: 5 s).
		pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
		proxy := faultproxy.Start(t, pg.Addr, faultproxy.Always(faultproxy.Action{Kind: faultproxy.BlackHole}))
		wf := runCLIExampleJSON(t)
		_, kubeconfig := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			const parts = 20
			for i := 0; i < parts; i++ {
				_, _ = w.Write(wf[i*len(wf)/parts : (i+1)*len(wf)/parts])
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(2 * time.Second / parts):
				}
			}
		})
		const timeout = 3 * time.Second
		r := runCLI(t, nil, []string{"KUBECONFIG=" + kubeconfig}, "push", "--workflow", "train-x7k2p", "--namespace", "ml",
			"--workflow-uid", exampleUID, "--pushgateway", "http://"+proxy.Addr, "--timeout", timeout.String(), "--retries", "4")
		r.want(t, 0)
		t.Logf("took %v", r.took.Round(time.Millisecond))
		if r.took > timeout+800*time.Millisecond {
			t.Errorf("took %v with --timeout %v: the push got a deadline of its own", r.took, timeout)
		}
		for _, s := range []string{"metrics not pushed", "context deadline exceeded"} {
			if !strings.Contains(r.stderr, s) {
				t.Errorf("stderr does not say %s:\n%s", s, r.stderr)
			}
		}
	})
}

// TestSeriesBudget: a synthetic 10,000-node sweep (bench/synth) gives ~40k
// series in node mode. Under --max-series its step series fall back to
// template aggregates, with a warning and pipeline_run_series_limited
// {kept="template"} 1, and the series, custom metrics apart (they keep
// their own caps), stay below the budget; the default budget does the same
// in the Pushgateway itself; --max-series 0 is the old node mode.
func TestSeriesBudget(t *testing.T) {
	data, err := synth.JSON(synth.Options{Nodes: 10000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "wf.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	count := func(fams map[string]*dto.MetricFamily) (own, custom int) {
		for name, f := range fams {
			switch {
			case strings.HasPrefix(name, "pipeline_custom_"):
				custom += len(f.GetMetric())
			case strings.HasPrefix(name, "pipeline_"):
				own += len(f.GetMetric())
			}
		}
		return own, custom
	}

	r := runCLI(t, nil, nil, "push", "-f", file, "--dry-run", "--max-series", "0")
	r.want(t, 0)
	unlimited, _ := count(parseText(t, r.stdout))
	if unlimited < 30000 {
		t.Fatalf("node mode without a budget: only %d series", unlimited)
	}

	const budget = 5000
	r = runCLI(t, nil, nil, "push", "-f", file, "--dry-run", "--max-series", fmt.Sprint(budget))
	r.want(t, 0)
	fams := parseText(t, r.stdout)
	own, custom := count(fams)
	t.Logf("node mode: %d series without a budget; %d (+%d custom) under --max-series %d", unlimited, own, custom, budget)
	if own > budget || own == 0 {
		t.Errorf("%d series under --max-series %d", own, budget)
	}
	if custom > metrics.MaxCustomSamplesPerRun {
		t.Errorf("%d custom series, over their own cap %d", custom, metrics.MaxCustomSamplesPerRun)
	}
	limited := fams["pipeline_run_series_limited"]
	if limited == nil || len(limited.GetMetric()) != 1 || limited.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("no pipeline_run_series_limited: %v", limited)
	}
	if kept := labelOf(limited.GetMetric()[0], "kept"); kept != "template" {
		t.Errorf("kept=%q, want template", kept)
	}
	if fams["pipeline_step_duration_seconds"] != nil || fams["pipeline_template_duration_seconds"] == nil {
		t.Error("step series were not replaced by template aggregates")
	}
	for _, s := range []string{"level=WARN", "more series than --max-series", fmt.Sprintf("series=%d", unlimited), "max_series=5000", "kept=template"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("the warning does not say %s:\n%s", s, r.stderr)
		}
	}

	// The default budget, in the Pushgateway.
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	r = runCLI(t, nil, nil, "push", "-f", file, "--pushgateway", pg.URL)
	r.want(t, 0)
	own, custom = count(pg.Scrape(t))
	t.Logf("default budget: the group holds %d series (+%d custom)", own, custom)
	if own > defaultMaxSeries || own < 10 {
		t.Errorf("the group holds %d series, budget %d", own, defaultMaxSeries)
	}
	if len(testenv.Series(pg.Scrape(t), "pipeline_run_series_limited", map[string]string{"kept": "template"})) != 1 {
		t.Error("no pipeline_run_series_limited{kept=template} in the Pushgateway")
	}
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
