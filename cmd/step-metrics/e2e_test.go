package main

// End-to-end tests: the real binary, built once in TestMain, against a real
// Pushgateway (internal/testenv) and Prometheus's promtool. Each run gets a
// clean environment, so nothing from the host leaks in.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "step-metrics-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "step-metrics")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=e2e-test", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build step-metrics: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	exampleNS  = "ml"
	exampleUID = "5f0c6b8e-2d41-4a7b-9c1e-8a3f2b6d9e10"
)

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// runCLI runs the binary with a clean environment plus env.
func runCLI(t *testing.T, stdin []byte, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return r
}

func (r result) want(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstderr:\n%s", r.code, code, r.stderr)
	}
}

func parseText(t *testing.T, s string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(s))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, s)
	}
	return fams
}

// seriesKey renders a sample's labels sorted, without the given ones.
func seriesKey(name string, m *dto.Metric, drop ...string) string {
	var parts []string
	for _, lp := range m.GetLabel() {
		skip := false
		for _, d := range drop {
			if lp.GetName() == d {
				skip = true
			}
		}
		if !skip {
			parts = append(parts, lp.GetName()+"="+lp.GetValue())
		}
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Summary != nil:
		return m.GetSummary().GetSampleSum()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// groupSeries returns the Pushgateway's series of one group (by job,
// namespace and workflow_id), keyed without the grouping labels.
func groupSeries(fams map[string]*dto.MetricFamily, ns, id string) map[string]float64 {
	out := map[string]float64{}
	for name, f := range fams {
		if name == "push_time_seconds" || name == "push_failure_time_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			ls := map[string]string{}
			for _, lp := range m.GetLabel() {
				ls[lp.GetName()] = lp.GetValue()
			}
			if ls["job"] != "step-metrics" || ls["namespace"] != ns || ls["workflow_id"] != id {
				continue
			}
			out[seriesKey(name, m, "job", "namespace", "workflow_id", "instance")] = value(m)
		}
	}
	return out
}

func allSeries(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			out[seriesKey(name, m)] = value(m)
		}
	}
	return out
}

// TestPushExampleToPushgateway: what --dry-run prints is exactly what lands
// in the Pushgateway, in the run's own group; a second push of the same run
// (here with the outcome Argo passes to exit handlers) replaces the group.
func TestPushExampleToPushgateway(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})

	dry := runCLI(t, nil, nil, "push", "--example", "--dry-run")
	dry.want(t, 0)
	want := allSeries(parseText(t, dry.stdout))
	if len(want) < 20 {
		t.Fatalf("dry run printed only %d series", len(want))
	}

	r := runCLI(t, nil, nil, "push", "--example", "--pushgateway", pg.URL)
	r.want(t, 0)
	if !strings.Contains(r.stderr, "msg=pushed") || !strings.Contains(r.stderr, "version=e2e-test") {
		t.Errorf("no result line with the version:\n%s", r.stderr)
	}
	got := groupSeries(pg.Scrape(t), exampleNS, exampleUID)
	if len(got) != len(want) {
		t.Errorf("pushgateway holds %d series for the run, dry run printed %d", len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("missing in pushgateway: %s", k)
		} else if g != v {
			t.Errorf("%s = %v in pushgateway, %v in dry run", k, g, v)
		}
	}
	groups := pg.Groups(t)
	if len(groups) != 1 {
		t.Fatalf("%d groups, want 1: %+v", len(groups), groups)
	}
	wantGroup := map[string]string{"job": "step-metrics", "namespace": exampleNS, "workflow_id": exampleUID}
	if fmt.Sprint(groups[0].Labels) != fmt.Sprint(wantGroup) {
		t.Errorf("group labels %v, want %v", groups[0].Labels, wantGroup)
	}

	// Re-push with --status Failed: the group is replaced, not merged.
	r = runCLI(t, nil, nil, "push", "--example", "--status", "Failed", "--steps", "template", "--pushgateway", pg.URL)
	r.want(t, 0)
	fams := pg.Scrape(t)
	got = groupSeries(fams, exampleNS, exampleUID)
	if v := got[`pipeline_run_result{engine=argo,phase=Failed,pipeline=train-pipeline,result=failure,workflow=train-x7k2p}`]; v != 1 {
		t.Errorf("after re-push with --status Failed, result=failure is %v, want 1\n%v", v, keys(got))
	}
	if v := got[`pipeline_run_result{engine=argo,phase=Failed,pipeline=train-pipeline,result=success,workflow=train-x7k2p}`]; v != 0 {
		t.Errorf("after re-push, result=success is %v, want 0", v)
	}
	for k := range got {
		if strings.HasPrefix(k, "pipeline_step_") {
			t.Errorf("per-node series %s survived a re-push in template mode: the group was merged, not replaced", k)
		}
	}
	if len(pg.Groups(t)) != 1 {
		t.Errorf("re-push created another group")
	}
}

func keys(m map[string]float64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestPushFromStdin: kubectl get wf -o json | step-metrics push -f -
func TestPushFromStdin(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	data, err := os.ReadFile("../../testdata/argo/16-dag-retry-failed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Metadata struct{ Name, Namespace, UID string }
	}
	if err := yaml.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, js, []string{"PUSHGATEWAY_URL=" + pg.URL}, "push", "-f", "-")
	r.want(t, 0)
	id := meta.Metadata.UID
	if id == "" {
		id = meta.Metadata.Name
	}
	got := groupSeries(pg.Scrape(t), meta.Metadata.Namespace, id)
	found := false
	for k, v := range got {
		if strings.HasPrefix(k, "pipeline_run_result{") && strings.Contains(k, "result=failure") && v == 1 {
			found = true
		}
	}
	if !found {
		t.Errorf("no failed run result in the group %s/%s: %v", meta.Metadata.Namespace, id, keys(got))
	}
}

// TestEnvironmentFallbacks: every flag has a STEP_METRICS_ variable.
func TestEnvironmentFallbacks(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	r := runCLI(t, nil, []string{
		"STEP_METRICS_EXAMPLE=true",
		"STEP_METRICS_PUSHGATEWAY=" + pg.URL,
		"STEP_METRICS_STEPS=none",
		"STEP_METRICS_LABEL=team=vision\nenv=prod",
		"STEP_METRICS_JOB=ml-runs",
	}, "push")
	r.want(t, 0)
	fams := pg.Scrape(t)
	s := testenv.Series(fams, "pipeline_run_result", map[string]string{"job": "ml-runs", "team": "vision", "env": "prod", "result": "success"})
	if len(s) != 1 || s[0].Value != 1 {
		t.Errorf("env labels/job not applied: %+v", s)
	}
	if f := fams["pipeline_step_duration_seconds"]; f != nil {
		t.Errorf("STEP_METRICS_STEPS=none ignored: %d step series", len(f.GetMetric()))
	}
	// A flag wins over its variable.
	r = runCLI(t, nil, []string{"STEP_METRICS_STEPS=bogus"}, "push", "--example", "--dry-run", "--steps", "template")
	r.want(t, 0)
	// A bad variable is a usage error naming it.
	r = runCLI(t, nil, []string{"STEP_METRICS_TIMEOUT=soon"}, "push", "--example", "--dry-run")
	r.want(t, 2)
	if !strings.Contains(r.stderr, "STEP_METRICS_TIMEOUT") {
		t.Errorf("error does not name the variable:\n%s", r.stderr)
	}
}

// TestTLS: a Pushgateway with a private CA is refused unless --ca-file
// trusts it; mTLS needs --cert-file/--key-file. Refusal is fail-safe (exit
// 0) unless --strict.
func TestTLS(t *testing.T) {
	ca := testenv.NewCA(t, "pg")
	clients := testenv.NewCA(t, "clients")
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{TLS: ca, ClientCA: clients})
	cert, key := clients.Issue(t, "exit-handler", true)
	base := []string{"push", "--example", "--pushgateway", pg.URL, "--timeout", "5s", "--retries", "1"}

	r := runCLI(t, nil, nil, base...)
	r.want(t, 0)
	if !strings.Contains(r.stderr, "certificate") || !strings.Contains(r.stderr, "level=WARN") {
		t.Errorf("unknown CA: no warning about the certificate:\n%s", r.stderr)
	}
	runCLI(t, nil, nil, append(base, "--strict")...).want(t, 1)
	r = runCLI(t, nil, nil, append(base, "--strict", "--ca-file", ca.CertFile)...)
	r.want(t, 1) // the CA is trusted, but no client certificate
	if len(pg.Groups(t)) != 0 {
		t.Fatal("a refused push left a group")
	}
	r = runCLI(t, nil, nil, append(base, "--strict", "--ca-file", ca.CertFile, "--cert-file", cert, "--key-file", key)...)
	r.want(t, 0)
	if len(pg.Groups(t)) != 1 {
		t.Fatalf("mTLS push: %d groups, want 1", len(pg.Groups(t)))
	}
	// A CA file that is not there: fail-safe too, naming the file.
	r = runCLI(t, nil, nil, append(base, "--ca-file", "/nonexistent/ca.crt")...)
	r.want(t, 0)
	if !strings.Contains(r.stderr, "/nonexistent/ca.crt") {
		t.Errorf("missing CA file not named:\n%s", r.stderr)
	}
}

// TestPushgatewayDown: refused connections and a black hole that accepts and
// never answers both end within --timeout with exit 0 (1 with --strict).
func TestPushgatewayDown(t *testing.T) {
	refused := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))

	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			go func() { // read forever, answer never
				_, _ = bufio.NewReader(c).ReadString(0)
				c.Close()
			}()
		}
	}()
	blackHole := "http://" + hole.Addr().String()

	for name, url := range map[string]string{"refused": refused, "black hole": blackHole} {
		t.Run(name, func(t *testing.T) {
			args := []string{"push", "--example", "--pushgateway", url, "--timeout", "2s"}
			r := runCLI(t, nil, nil, args...)
			r.want(t, 0)
			if r.took > 6*time.Second {
				t.Errorf("took %v with --timeout 2s", r.took)
			}
			if !strings.Contains(r.stderr, "metrics not pushed") {
				t.Errorf("no warning:\n%s", r.stderr)
			}
			r = runCLI(t, nil, nil, append(args, "--strict")...)
			r.want(t, 1)
		})
	}
}

func TestUsageAndBadInput(t *testing.T) {
	dir := t.TempDir()
	notWF := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(notWF, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "Usage"},
		{"unknown command", []string{"pull"}, 2, "unknown command"},
		{"no source", []string{"push", "--dry-run"}, 2, "say which run"},
		{"two sources", []string{"push", "--example", "-f", notWF, "--dry-run"}, 2, "exclude each other"},
		{"workflow without namespace", []string{"push", "--workflow", "w", "--dry-run"}, 2, "--namespace"},
		{"no pushgateway", []string{"push", "--example"}, 2, "no Pushgateway"},
		{"credentials in URL", []string{"push", "--example", "--pushgateway", "http://u:secret@pg:9091"}, 2, "no credentials in the URL"},
		{"bad status", []string{"push", "--example", "--dry-run", "--status", "Done"}, 2, "--status"},
		{"bad steps", []string{"push", "--example", "--dry-run", "--steps", "all"}, 2, "--steps"},
		{"reserved label", []string{"push", "--example", "--dry-run", "--label", "workflow_id=x"}, 2, "workflow_id"},
		{"unknown flag", []string{"push", "--example", "--bogus"}, 2, "bogus"},
		{"not a workflow", []string{"push", "-f", notWF, "--dry-run"}, 3, `kind is \"Pod\"`},
		{"missing file", []string{"push", "-f", filepath.Join(dir, "nope.yaml"), "--dry-run"}, 3, "nope.yaml"},
		{"status Running is no outcome", []string{"push", "--example", "--dry-run", "--status", "Running"}, 0, `result="success"`},
		{"help", []string{"push", "--help"}, 0, "--pushgateway"},
		{"version", []string{"version"}, 0, "step-metrics e2e-test"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, nil, nil, c.args...)
			r.want(t, c.code)
			if !strings.Contains(r.stdout+r.stderr, c.want) {
				t.Errorf("output does not contain %q:\nstdout: %s\nstderr: %s", c.want, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "secret") {
				t.Errorf("a credential is echoed: %s", r.stderr)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("panic:\n%s", r.stderr)
			}
		})
	}
}

// TestPromtoolCheckMetrics: every fixture in every step mode gives an
// exposition Prometheus's own linter accepts.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testenv.NeedBinary(t, func() (string, error) { return exec.LookPath("promtool") })
	files, err := filepath.Glob("../../testdata/argo/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		for _, mode := range []string{"node", "template", "none"} {
			r := runCLI(t, nil, nil, "push", "-f", f, "--dry-run", "--steps", mode, "--label-from-workflow", "workflows.argoproj.io/completed")
			r.want(t, 0)
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = strings.NewReader(r.stdout)
			out, err := cmd.CombinedOutput()
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("%s --steps %s: promtool check metrics: %v\n%s", filepath.Base(f), mode, err, out)
			}
		}
	}
}

// TestUnreadableWorkflowStillPushesOutcome: when the API cannot be read (here
// nothing listens where the kubeconfig points), the run's outcome from the
// exit handler's arguments is still pushed, and the exit code is 0 (1 with
// --strict, after pushing).
func TestUnreadableWorkflowStillPushesOutcome(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:%d"}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, testenv.FreePort(t))
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"push", "--workflow", "nightly-retrain-1764205200", "--namespace", "ml", "--workflow-uid", "uid-1",
		"--status", "Failed", "--kubeconfig", kubeconfig, "--pushgateway", pg.URL, "--timeout", "3s"}
	r := runCLI(t, nil, nil, args...)
	r.want(t, 0)
	if !strings.Contains(r.stderr, "cannot read the workflow") {
		t.Errorf("no warning about the read:\n%s", r.stderr)
	}
	fams := pg.Scrape(t)
	s := testenv.Series(fams, "pipeline_run_result", map[string]string{"workflow_id": "uid-1", "namespace": "ml", "result": "failure", "pipeline": "nightly-retrain", "workflow": "nightly-retrain-1764205200"})
	if len(s) != 1 || s[0].Value != 1 {
		t.Errorf("outcome from the arguments not pushed: %+v\n%s", s, r.stderr)
	}
	if f := fams["pipeline_run_duration_seconds"]; f != nil {
		t.Error("a duration was pushed without the workflow's times")
	}
	pg.Wipe(t)
	runCLI(t, nil, nil, append(args, "--strict")...).want(t, 1)
	if len(pg.Groups(t)) != 1 {
		t.Error("--strict: the outcome was not pushed before exiting 1")
	}
}

// TestCustomMetricsFromOutputs: metrics two steps published through their
// step-metrics output parameter land in the run's group with run and step
// labels; a re-push (here after the values changed and one metric went
// away) replaces them.
func TestCustomMetricsFromOutputs(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	runCLI(t, nil, nil, "push", "--example", "--pushgateway", pg.URL).want(t, 0)
	fams := pg.Scrape(t)
	group := map[string]string{"job": "step-metrics", "namespace": exampleNS, "workflow_id": exampleUID}
	check := func(name, step string, want float64) {
		t.Helper()
		m := map[string]string{"step": step, "pipeline": "train-pipeline", "workflow": "train-x7k2p"}
		for k, v := range group {
			m[k] = v
		}
		s := testenv.Series(fams, name, m)
		if len(s) != 1 || s[0].Value != want {
			t.Errorf("%s{step=%q} = %+v, want %v", name, step, s, want)
		}
	}
	check("pipeline_custom_training_seconds", "train(0:lr-0.01)", 431.2)
	check("pipeline_custom_accuracy", "evaluate", 0.9312)
	check("pipeline_custom_f1", "evaluate", 0.904)

	src, err := os.ReadFile("../../internal/example/ml-pipeline-running-exit-handler.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(src), "training_seconds 431.2", "training_seconds 400", 1)
	changed = strings.Replace(changed, `"f1": 0.904, `, "", 1)
	if changed == string(src) {
		t.Fatal("example changed shape: update this test")
	}
	runCLI(t, []byte(changed), nil, "push", "-f", "-", "--pushgateway", pg.URL).want(t, 0)
	fams = pg.Scrape(t)
	check("pipeline_custom_training_seconds", "train(0:lr-0.01)", 400)
	if s := testenv.Series(fams, "pipeline_custom_f1", group); len(s) != 0 {
		t.Errorf("f1 survived the re-push: %+v", s)
	}
}
