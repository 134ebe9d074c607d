package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/internal/fakegw"

	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"

	"github.com/step-metrics/step-metrics/pkg/schema"

	dto "github.com/prometheus/client_model/go"

	"github.com/step-metrics/step-metrics/internal/testenv"
	"github.com/step-metrics/step-metrics/pkg/custom"
	"github.com/step-metrics/step-metrics/pkg/metrics"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestInfoFromEnv(t *testing.T) {
	nsFile := func(ns string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if p != ServiceAccountNamespaceFile {
				return nil, fmt.Errorf("unexpected read of %s", p)
			}
			if ns == "" {
				return nil, os.ErrNotExist
			}
			return []byte(ns + "\n"), nil
		}
	}
	cases := []struct {
		name string
		env  map[string]string
		ns   string
		want Info
	}{
		{"nothing", nil, "", Info{}},
		{"argo main container: node id only, namespace from the service account", map[string]string{
			"ARGO_NODE_ID": "train-x7k2p-1234", "ARGO_CONTAINER_NAME": "main",
		}, "ml", Info{NodeID: "train-x7k2p-1234", Namespace: "ml"}},
		{"argo executor variables", map[string]string{
			"ARGO_WORKFLOW_NAME": "train-x7k2p", "ARGO_WORKFLOW_UID": "uid-1", "ARGO_NODE_ID": "n1", "ARGO_POD_NAME": "train-x7k2p-train-1234",
			"POD_NAMESPACE": "ml",
		}, "other", Info{Workflow: "train-x7k2p", WorkflowUID: "uid-1", Namespace: "ml", NodeID: "n1", Pod: "train-x7k2p-train-1234"}},
		{"STEP_METRICS_ variables win", map[string]string{
			"ARGO_WORKFLOW_NAME": "a", "STEP_METRICS_WORKFLOW": "b",
			"ARGO_WORKFLOW_UID": "u1", "STEP_METRICS_WORKFLOW_UID": " u2 ",
			"POD_NAMESPACE": "ns1", "STEP_METRICS_NAMESPACE": "ns2",
			"ARGO_NODE_ID": "n1", "STEP_METRICS_NODE_ID": "n2",
			"POD_NAME": "p1", "STEP_METRICS_POD": "p2", "STEP_METRICS_STEP": "train",
		}, "", Info{Workflow: "b", WorkflowUID: "u2", Namespace: "ns2", Step: "train", NodeID: "n2", Pod: "p2"}},
		{"hostname is the pod name inside Kubernetes only", map[string]string{"HOSTNAME": "laptop"}, "", Info{}},
		{"hostname inside Kubernetes", map[string]string{"HOSTNAME": "train-pod", "KUBERNETES_SERVICE_HOST": "10.96.0.1"}, "", Info{Pod: "train-pod"}},
		{"downward API pod name beats hostname", map[string]string{"HOSTNAME": "h", "POD_NAME": "p", "KUBERNETES_SERVICE_HOST": "10.96.0.1"}, "", Info{Pod: "p"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := InfoFromEnv(envOf(c.env), nsFile(c.ns))
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
	// No readFile: no namespace from the file.
	if got := InfoFromEnv(envOf(nil), nil); got.Namespace != "" {
		t.Errorf("namespace %q without readFile", got.Namespace)
	}
}

func quietStep(info Info) (*Step, *bytes.Buffer) {
	var logs bytes.Buffer
	s := New(info)
	s.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	return s, &logs
}

func TestStepSetRefusesWhatTheExitHandlerWouldDrop(t *testing.T) {
	s, logs := quietStep(Info{})
	good := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"training_seconds", nil, 812.5},
		{"pipeline_custom_accuracy", nil, 0.93}, // the prefix is not doubled
		{"samples_per_second", map[string]string{"split": "train", "empty": ""}, 1200},
		{"note", map[string]string{"text": "a \"quoted\"\nline\\"}, 1},
		{"big", nil, 1e300},
		{"negative", nil, -3},
	}
	for _, g := range good {
		if err := s.SetWithLabels(g.name, g.labels, g.value); err != nil {
			t.Errorf("%s: %v", g.name, err)
		}
	}
	bad := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"1abc", nil, 1},
		{"a-b", nil, 1},
		{"a:b", nil, 1},
		{"__x", nil, 1},
		{"", nil, 1},
		{"x 5", nil, 3},                    // would read back as x=5
		{"x\ny", nil, 3},                   // two lines
		{`x{step="forged"}`, nil, 1},       // a label through the name
		{strings.Repeat("n", 129), nil, 1}, // longer than the exit handler reads
		{"nan", nil, math.NaN()},
		{"inf", nil, math.Inf(1)},
		{"l", map[string]string{"step": "forged"}, 1},
		{"l", map[string]string{"workflow_id": "forged"}, 1},
		{"l", map[string]string{"pod": "p"}, 1},
		{"l", map[string]string{"le": "1"}, 1},
		{"l", map[string]string{`a="1",b`: "x"}, 1},
		{"l", map[string]string{"__name__": "x"}, 1},
		{"l", map[string]string{"v": strings.Repeat("v", 257)}, 1},
		{"l", map[string]string{"v": "\xff"}, 1},
	}
	for _, b := range bad {
		if err := s.SetWithLabels(b.name, b.labels, b.value); err == nil {
			t.Errorf("%q %v = %v accepted", b.name, b.labels, b.value)
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "metric not recorded") {
		t.Errorf("refusals not logged:\n%s", logs.String())
	}
	var names []string
	for _, smp := range s.Samples() {
		names = append(names, smp.Name)
	}
	want := []string{"accuracy", "big", "negative", "note", "samples_per_second", "training_seconds"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("series %v, want %v", names, want)
	}
	for _, smp := range s.Samples() {
		if smp.Name == "samples_per_second" && (len(smp.Labels) != 1 || smp.Labels[0].Name != "split") {
			t.Errorf("empty label kept: %+v", smp.Labels)
		}
		if smp.Name == "note" && smp.Labels[0].Value != "a \"quoted\"\nline\\" {
			t.Errorf("label value changed: %q", smp.Labels[0].Value)
		}
	}
}

func TestStepSetLimitAndReplace(t *testing.T) {
	s, _ := quietStep(Info{})
	for i := 0; i < custom.DefaultLimits.MaxSamples; i++ {
		if err := s.Set(fmt.Sprintf("m%d", i), float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set("one_too_many", 1); err == nil {
		t.Error("a series beyond the exit handler's limit was accepted")
	}
	if err := s.Set("m7", 70); err != nil {
		t.Errorf("replacing a value at the limit: %v", err)
	}
	for _, smp := range s.Samples() {
		if smp.Name == "m7" && smp.Value != 70 {
			t.Errorf("m7 = %v, want 70", smp.Value)
		}
	}
}

func TestStepConcurrentSets(t *testing.T) {
	s, _ := quietStep(Info{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				_ = s.SetWithLabels("items", map[string]string{"worker": fmt.Sprint(g)}, float64(i))
				s.Describe("items", "Items done.")
				_, _ = s.Gather()
			}
		}()
	}
	wg.Wait()
	if n := len(s.Samples()); n != 8 {
		t.Errorf("%d series, want 8", n)
	}
}

func TestStepTime(t *testing.T) {
	s, _ := quietStep(Info{})
	stop := s.Time("training_seconds")
	time.Sleep(30 * time.Millisecond)
	stop()
	got := s.Samples()
	if len(got) != 1 || got[0].Name != "training_seconds" {
		t.Fatalf("samples %+v", got)
	}
	if v := got[0].Value; v < 0.03 || v > 5 {
		t.Errorf("training_seconds = %v after sleeping 30ms", v)
	}
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

func TestStepPush(t *testing.T) {
	srv, gw := fakegw.New(t, nil)
	s, logs := quietStep(Info{Workflow: "train-x7k2p", WorkflowUID: "uid-1", Namespace: "ml", Step: "train", NodeID: "train-x7k2p-1234", Pod: "train-x7k2p-train-1234"})
	s.URL = srv.URL
	_ = s.Set("training_seconds", 812.5)
	s.Describe("training_seconds", "Time in fit().")
	_ = s.SetWithLabels("accuracy", map[string]string{"split": "test"}, 0.93)
	if err := s.Push(context.Background()); err != nil {
		t.Fatalf("push: %v\n%s", err, logs)
	}
	reqs := gw.Requests()
	if len(reqs) != 1 || reqs[0].Method != "PUT" {
		t.Fatalf("requests %+v", reqs)
	}
	_, group := fakegw.Grouping(t, reqs[0].Path)
	want := map[string]string{"job": "step-metrics", "namespace": "ml", "workflow_id": "uid-1", "step": "train"}
	if fmt.Sprint(group) != fmt.Sprint(want) {
		t.Errorf("group %v, want %v", group, want)
	}
	fams := map[string]*dto.MetricFamily{}
	for _, f := range fakegw.DecodeBody(t, reqs[0].Header, reqs[0].Body) {
		fams[f.GetName()] = f
	}
	if len(fams) != 2 {
		t.Fatalf("families %v", fams)
	}
	tr := fams["pipeline_custom_training_seconds"]
	if tr == nil || tr.GetType() != dto.MetricType_GAUGE || tr.GetHelp() != "Time in fit()." {
		t.Fatalf("training_seconds family: %v", tr)
	}
	wantLabels := map[string]string{"workflow": "train-x7k2p", "node_id": "train-x7k2p-1234", "pod": "train-x7k2p-train-1234"}
	if got := labelsOf(tr.GetMetric()[0]); fmt.Sprint(got) != fmt.Sprint(wantLabels) {
		t.Errorf("labels %v, want %v (grouping labels come from the path)", got, wantLabels)
	}
	acc := fams["pipeline_custom_accuracy"]
	if acc.GetHelp() != schema.CustomHelp || labelsOf(acc.GetMetric()[0])["split"] != "test" || acc.GetMetric()[0].GetGauge().GetValue() != 0.93 {
		t.Errorf("accuracy family: %v", acc)
	}
}

// TestStepHelpIsTheExitHandlers: a custom metric pushed by a step and the
// same one pushed by the exit handler have one HELP, so the Pushgateway
// never sees two.
func TestStepHelpIsTheExitHandlers(t *testing.T) {
	run := &pipeline.Run{Engine: "argo", Name: "w", Steps: []pipeline.Step{{ID: "n", Name: "s", Attempt: -1, Outputs: map[string]string{schema.OutputName: "x 1\n"}}}}
	fams, _ := metrics.CustomFamilies(run, metrics.Options{}, custom.DefaultLimits)
	if len(fams) != 1 || fams[0].GetHelp() != schema.CustomHelp {
		t.Errorf("exit handler's HELP %q, the Step's %q", fams[0].GetHelp(), schema.CustomHelp)
	}
}

func TestStepPushFailSafe(t *testing.T) {
	refused := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	full := Info{Workflow: "w", WorkflowUID: "u", Namespace: "ml", Step: "train"}
	cases := []struct {
		name  string
		setup func(s *Step)
		want  string
	}{
		{"no URL", func(s *Step) {}, "no Pushgateway URL"},
		{"refused", func(s *Step) { s.URL = refused; s.Timeout = 2 * time.Second }, "connection refused"},
		{"no workflow", func(s *Step) { s.URL = refused; s.Info.WorkflowUID, s.Info.Workflow = "", "" }, "no workflow ID"},
		{"no step", func(s *Step) { s.URL = refused; s.Info.Step = "" }, "no step name"},
		{"client set-up failed", func(s *Step) { s.URL = refused; s.clientErr = errors.New("read CA file: nope") }, "read CA file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, logs := quietStep(full)
			_ = s.Set("x", 1)
			c.setup(s)
			start := time.Now()
			err := s.Push(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want %q", err, c.want)
			}
			if took := time.Since(start); took > 4*time.Second {
				t.Errorf("took %v with a 2s timeout", took)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), c.want) {
				t.Errorf("not logged as a warning:\n%s", logs)
			}
		})
	}
	var nilStep *Step
	if err := nilStep.Push(context.Background()); err == nil {
		t.Error("nil Step pushed")
	}
}

func TestStepTargetFallbacks(t *testing.T) {
	s := New(Info{Workflow: "w", NodeID: "w-123", Pod: "w-train-123"})
	tg, err := s.Target()
	if err != nil {
		t.Fatal(err)
	}
	if got := pushgateway.Group(tg); got != `job="step-metrics",namespace="",workflow_id="w",step="w-123"` {
		t.Errorf("group %s", got)
	}
	s.Info.NodeID = ""
	s.Job = "ml-steps"
	tg, _ = s.Target()
	if got := pushgateway.Group(tg); got != `job="ml-steps",namespace="",workflow_id="w",step="w-train-123"` {
		t.Errorf("group %s", got)
	}
}

func TestStepPushUnderWrapperWritesTheFile(t *testing.T) {
	srv, gw := fakegw.New(t, nil)
	path := filepath.Join(t.TempDir(), "metrics.prom")
	s, _ := quietStep(Info{Workflow: "w", Step: "s"})
	s.URL, s.File = srv.URL, path
	_ = s.Set("accuracy", 0.93)
	if err := s.Push(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(gw.Requests()); n != 0 {
		t.Errorf("%d requests under the wrapper", n)
	}
	if b, _ := os.ReadFile(path); string(b) != "# TYPE accuracy gauge\naccuracy 0.93\n" {
		t.Errorf("file %q", b)
	}
}

func TestStepWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "step-metrics.prom")
	s, logs := quietStep(Info{Workflow: "w", WorkflowUID: "u", Step: "train", NodeID: "n", Pod: "p"})
	_ = s.Set("training_seconds", 812.5)
	s.Describe("training_seconds", "Time in\nfit().")
	_ = s.SetWithLabels("accuracy", map[string]string{"split": "test"}, 0.93)

	// Fresh file: no prefix, no automatic labels, sorted, HELP kept, in
	// expfmt's text format (a # TYPE per family).
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	want := "# TYPE accuracy gauge\naccuracy{split=\"test\"} 0.93\n# HELP training_seconds Time in fit().\n# TYPE training_seconds gauge\ntraining_seconds 812.5\n"
	if b, _ := os.ReadFile(path); string(b) != want {
		t.Errorf("file:\n%s\nwant:\n%s", b, want)
	}
	// Twice: nothing duplicated.
	_ = s.WriteFile(path)
	if b, _ := os.ReadFile(path); string(b) != want {
		t.Errorf("after a second write:\n%s", b)
	}
	// Lines appended by someone else are kept; the Step's series win.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprint(f, "rows_read 1e6\ntraining_seconds 1\n")
	f.Close()
	_ = s.Set("training_seconds", 813)
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	want = "# TYPE accuracy gauge\naccuracy{split=\"test\"} 0.93\n# TYPE rows_read gauge\nrows_read 1e+06\n# HELP training_seconds Time in fit().\n# TYPE training_seconds gauge\ntraining_seconds 813\n"
	if b, _ := os.ReadFile(path); string(b) != want {
		t.Errorf("merged:\n%s\nwant:\n%s", b, want)
	}
	// A JSON object there is read too (as the exit handler would), and
	// what it would drop is dropped here, with a warning.
	if err := os.WriteFile(path, []byte(`{"loss": 0.12, "run": "abc"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "loss 0.12\n") || strings.Contains(string(b), "run") {
		t.Errorf("merged with JSON:\n%s", b)
	}
	if !strings.Contains(logs.String(), "existing metrics file") {
		t.Errorf("the dropped JSON key is not reported:\n%s", logs)
	}
	// The file reads back through the exit handler's parser unchanged.
	b, _ := os.ReadFile(path)
	got, warnings := custom.Parse(b, custom.DefaultLimits, schema.IsReservedLabel)
	if len(warnings) > 0 || len(got) != 3 {
		t.Errorf("parser: %d samples, warnings %v\n%s", len(got), warnings, b)
	}
	// Atomic: no temporary file is left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries", len(entries))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}

	// Unwritable: an error, logged, no panic.
	logs.Reset()
	notDir := filepath.Join(dir, "step-metrics.prom", "x.prom")
	if err := s.WriteFile(notDir); err == nil {
		t.Error("wrote under a file")
	}
	if !strings.Contains(logs.String(), "step metrics not written") {
		t.Errorf("not logged:\n%s", logs)
	}
	if err := s.WriteFile(""); err == nil {
		t.Error("wrote to an empty path")
	}
}

// TestStepWriteFileRoundTrip: what WriteFile writes, the exit handler
// pushes with the prefix and the run's and step's labels.
func TestStepWriteFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	s, _ := quietStep(Info{})
	_ = s.Set("training_seconds", 812.5)
	_ = s.SetWithLabels("accuracy", map[string]string{"split": "test"}, 0.93)
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	run := &pipeline.Run{Engine: "argo", Name: "train-x7k2p", Pipeline: "train", Steps: []pipeline.Step{
		{ID: "train-x7k2p-1", Name: "train", Template: "train", Attempt: -1, Outputs: map[string]string{schema.OutputName: string(b)}},
	}}
	fams, warnings := metrics.CustomFamilies(run, metrics.Options{}, custom.DefaultLimits)
	if len(warnings) > 0 {
		t.Errorf("warnings %v", warnings)
	}
	var buf bytes.Buffer
	if err := metrics.WriteText(&buf, fams); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`pipeline_custom_training_seconds{engine="argo",node_id="train-x7k2p-1",pipeline="train",step="train",template="train",workflow="train-x7k2p"} 812.5`,
		`pipeline_custom_accuracy{engine="argo",node_id="train-x7k2p-1",pipeline="train",split="test",step="train",template="train",workflow="train-x7k2p"} 0.93`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("exit handler output lacks\n%s\n%s", want, buf.String())
		}
	}
}

// TestStepWriteFileSizeLimit: a text the exit handler would refuse whole
// is cut, the series set first kept.
func TestStepWriteFileSizeLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	s, logs := quietStep(Info{})
	_ = s.Set("first", 1)
	long := strings.Repeat("v", custom.DefaultLimits.MaxValueLen)
	for i := 0; i < 499; i++ {
		labels := map[string]string{}
		for j := 0; j < 3; j++ {
			labels[fmt.Sprintf("l%d", j)] = long
		}
		labels["i"] = fmt.Sprint(i)
		if err := s.SetWithLabels("wide", labels, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if len(b) > custom.DefaultLimits.MaxBytes {
		t.Errorf("%d bytes written, the exit handler reads %d", len(b), custom.DefaultLimits.MaxBytes)
	}
	if !strings.Contains(string(b), "first 1\n") {
		t.Error("the series set first was dropped")
	}
	if len(b) < custom.DefaultLimits.MaxBytes-2000 {
		t.Errorf("only %d bytes written: cut too much", len(b))
	}
	if !strings.Contains(logs.String(), "series are not written") {
		t.Errorf("no warning:\n%s", logs)
	}
	got, warnings := custom.Parse(b, custom.DefaultLimits, nil)
	if len(warnings) > 0 || len(got) < 100 {
		t.Errorf("%d samples read back, warnings %v", len(got), warnings)
	}
}

// TestStepsInARealPushgateway: two steps of one run push into two groups,
// beside the exit handler's run group, which neither replaces; a step's
// re-push replaces its own group only.
func TestStepsInARealPushgateway(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	ctx := context.Background()

	// The exit handler's group for the run.
	runTarget := pushgateway.Target{URL: pg.URL, Job: "step-metrics", Grouping: []pushgateway.Label{{Name: "namespace", Value: "ml"}, {Name: "workflow_id", Value: "uid-1"}}}
	if err := pushgateway.Push(ctx, runTarget, fakegw.Registry(t), nil, pushgateway.DefaultRetry); err != nil {
		t.Fatal(err)
	}
	step := func(name string) *Step {
		s, _ := quietStep(Info{Workflow: "train-x7k2p", WorkflowUID: "uid-1", Namespace: "ml", Step: name, NodeID: "node-" + name, Pod: "pod-" + name})
		s.URL = pg.URL
		return s
	}
	train := step("train")
	_ = train.Set("training_seconds", 812.5)
	_ = train.SetWithLabels("accuracy", map[string]string{"split": "test"}, 0.93)
	eval := step("evaluate")
	_ = eval.Set("accuracy", 0.91)
	for _, s := range []*Step{train, eval} {
		if err := s.Push(ctx); err != nil {
			t.Fatal(err)
		}
	}
	groups := pg.Groups(t)
	if len(groups) != 3 {
		t.Fatalf("%d groups, want 3: %+v", len(groups), groups)
	}
	fams := pg.Scrape(t)
	s := testenv.Series(fams, "pipeline_custom_accuracy", map[string]string{
		"job": "step-metrics", "namespace": "ml", "workflow_id": "uid-1", "step": "train",
		"workflow": "train-x7k2p", "node_id": "node-train", "pod": "pod-train", "split": "test",
	})
	if len(s) != 1 || s[0].Value != 0.93 {
		t.Errorf("train's accuracy: %+v", s)
	}
	if s := testenv.Series(fams, "pipeline_custom_accuracy", map[string]string{"step": "evaluate", "workflow_id": "uid-1"}); len(s) != 1 || s[0].Value != 0.91 {
		t.Errorf("evaluate's accuracy: %+v", s)
	}
	if s := testenv.Series(fams, "test_pipeline_duration_seconds", map[string]string{"workflow_id": "uid-1"}); len(s) != 1 {
		t.Errorf("the run group's series: %+v", s)
	}

	// Re-push train without training_seconds: its group is replaced.
	train2 := step("train")
	_ = train2.Set("accuracy", 0.95)
	if err := train2.Push(ctx); err != nil {
		t.Fatal(err)
	}
	fams = pg.Scrape(t)
	if s := testenv.Series(fams, "pipeline_custom_training_seconds", map[string]string{"step": "train"}); len(s) != 0 {
		t.Errorf("re-push merged instead of replacing: %+v", s)
	}
	if s := testenv.Series(fams, "pipeline_custom_accuracy", map[string]string{"step": "evaluate"}); len(s) != 1 {
		t.Error("re-pushing train touched evaluate's group")
	}
	if s := testenv.Series(fams, "test_pipeline_duration_seconds", map[string]string{"workflow_id": "uid-1"}); len(s) != 1 {
		t.Error("a step's push replaced the run group")
	}
	// And the run group's re-push leaves the steps alone.
	if err := pushgateway.Push(ctx, runTarget, fakegw.Registry(t), nil, pushgateway.DefaultRetry); err != nil {
		t.Fatal(err)
	}
	if n := len(pg.Groups(t)); n != 3 {
		t.Errorf("%d groups after the run's re-push, want 3", n)
	}
	var keys []string
	for _, g := range pg.Groups(t) {
		keys = append(keys, fmt.Sprint(g.Labels))
	}
	sort.Strings(keys)
	t.Logf("groups: %v", keys)
}

func TestStepFromEnv(t *testing.T) {
	for k, v := range map[string]string{
		"STEP_METRICS_WORKFLOW_UID": "uid-1", "STEP_METRICS_STEP": "train", "ARGO_NODE_ID": "n1", "POD_NAMESPACE": "ml",
		"PUSHGATEWAY_URL": "http://pg:9091", "STEP_METRICS_JOB": "ml-steps", "STEP_METRICS_TIMEOUT": "3s",
		"STEP_METRICS_FILE": "", "STEP_METRICS_PUSHGATEWAY": "", "STEP_METRICS_CA_FILE": "", "STEP_METRICS_HEADER": "X-Scope-OrgID: ml\n",
	} {
		t.Setenv(k, v)
	}
	s := FromEnv()
	if s.Info.WorkflowUID != "uid-1" || s.Info.Step != "train" || s.Info.NodeID != "n1" || s.Info.Namespace != "ml" {
		t.Errorf("info %+v", s.Info)
	}
	if s.URL != "http://pg:9091" || s.Job != "ml-steps" || s.Timeout != 3*time.Second || s.File != "" || s.Client == nil || s.clientErr != nil {
		t.Errorf("step %+v", s)
	}
	// Under the wrapper, pushgateway.Push writes the wrapper's file.
	file := filepath.Join(t.TempDir(), "m")
	t.Setenv("STEP_METRICS_FILE", file)
	if s := FromEnv(); s.File != file {
		t.Errorf("File %q", s.File)
	}
	// A CA file that is not there: no panic, pushgateway.Push says so.
	t.Setenv("STEP_METRICS_FILE", "")
	t.Setenv("STEP_METRICS_CA_FILE", "/nonexistent/ca.crt")
	s = FromEnv()
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := s.Push(context.Background()); err == nil || !strings.Contains(err.Error(), "/nonexistent/ca.crt") {
		t.Errorf("push with a missing CA file: %v", err)
	}
}

// TestNilStepDoesNotPanic: a nil *Step (a step that never set one up)
// costs nothing but errors.
func TestNilStepDoesNotPanic(t *testing.T) {
	var s *Step
	if s.Set("x", 1) == nil || s.WriteFile(filepath.Join(t.TempDir(), "f")) == nil || s.Push(context.Background()) == nil {
		t.Error("a nil Step reported success")
	}
	s.Describe("x", "h")
	s.Time("x")()
	if s.Samples() != nil {
		t.Error("samples from a nil Step")
	}
	if f, err := s.Gather(); f != nil || err != nil {
		t.Error("families from a nil Step")
	}
}
