package step

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/step-metrics/step-metrics/internal/fakegw"
	"github.com/step-metrics/step-metrics/pkg/custom"
	"github.com/step-metrics/step-metrics/pkg/schema"
)

// userCollectors registers a counter, a gauge vector and a histogram, as a
// step's own client_golang code would, and one series the exit handler
// would refuse (a reserved label).
func userCollectors(t *testing.T, reg prometheus.Registerer) {
	t.Helper()
	rows := prometheus.NewCounter(prometheus.CounterOpts{Name: "rows_read_total", Help: "Rows read."})
	rows.Add(1500)
	loss := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loss", Help: "Loss by split."}, []string{"split"})
	loss.WithLabelValues("train").Set(0.12)
	loss.WithLabelValues("test").Set(0.2)
	batch := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "batch_seconds", Help: "Time per batch.", Buckets: []float64{0.1, 1}})
	batch.Observe(0.05)
	batch.Observe(0.5)
	forged := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "forged", Help: "Sets a reserved label."}, []string{"pod"})
	forged.WithLabelValues("someone-else").Set(1)
	reg.MustRegister(rows, loss, batch, forged)
}

// TestStepPushesTheUsersCollectors: what the step registers in Registry is
// pushed with the convenience gauges, prefixed, with the step's standard
// labels the user did not add; a series with a reserved label is left out
// with a warning, the rest still pushed.
func TestStepPushesTheUsersCollectors(t *testing.T) {
	srv, gw := fakegw.New(t, nil)
	s, logs := quietStep(Info{Workflow: "train-x7k2p", WorkflowUID: "uid-1", Namespace: "ml", Step: "train", NodeID: "n-1", Pod: "p-1"})
	s.URL = srv.URL
	userCollectors(t, s.Registry())
	_ = s.Set("accuracy", 0.93)
	if err := s.Push(context.Background()); err != nil {
		t.Fatalf("push: %v\n%s", err, logs)
	}
	reqs := gw.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	fams := map[string]*dto.MetricFamily{}
	for _, f := range fakegw.DecodeBody(t, reqs[0].Header, reqs[0].Body) {
		fams[f.GetName()] = f
	}
	std := map[string]string{"workflow": "train-x7k2p", "node_id": "n-1", "pod": "p-1"}
	withStd := func(extra ...string) string {
		m := map[string]string{}
		for k, v := range std {
			m[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return fmt.Sprint(m)
	}
	rows := fams["pipeline_custom_rows_read_total"]
	if rows.GetType() != dto.MetricType_COUNTER || rows.GetHelp() != "Rows read." || len(rows.GetMetric()) != 1 ||
		rows.GetMetric()[0].GetCounter().GetValue() != 1500 || fmt.Sprint(labelsOf(rows.GetMetric()[0])) != withStd() {
		t.Errorf("counter: %v", rows)
	}
	loss := fams["pipeline_custom_loss"]
	if len(loss.GetMetric()) != 2 {
		t.Fatalf("gauge vector: %v", loss)
	}
	for _, m := range loss.GetMetric() {
		split := labelsOf(m)["split"]
		if fmt.Sprint(labelsOf(m)) != withStd("split", split) {
			t.Errorf("loss labels %v", labelsOf(m))
		}
	}
	batch := fams["pipeline_custom_batch_seconds"]
	if batch.GetType() != dto.MetricType_HISTOGRAM || len(batch.GetMetric()) != 1 {
		t.Fatalf("histogram: %v", batch)
	}
	h := batch.GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 0.55 || len(h.GetBucket()) != 2 || h.GetBucket()[0].GetCumulativeCount() != 1 ||
		fmt.Sprint(labelsOf(batch.GetMetric()[0])) != withStd() {
		t.Errorf("histogram: %v", batch)
	}
	if acc := fams["pipeline_custom_accuracy"]; acc == nil || fmt.Sprint(labelsOf(acc.GetMetric()[0])) != withStd() {
		t.Errorf("the convenience gauge: %v", acc)
	}
	if _, ok := fams["pipeline_custom_forged"]; ok || len(fams) != 4 {
		t.Errorf("families %v", fams)
	}
	if !strings.Contains(logs.String(), `label \"pod\" is reserved`) {
		t.Errorf("the forged series is not reported:\n%s", logs)
	}
	// Gather says so too, with the rest.
	got, err := s.Gather()
	if len(got) != 4 || err == nil || !strings.Contains(err.Error(), `label "pod" is reserved`) {
		t.Errorf("Gather: %d families, err %v", len(got), err)
	}
}

// TestStepWritesTheUsersCollectors: WriteFile writes the registry's series
// too, as the exit handler reads them: a histogram as _sum and _count.
func TestStepWritesTheUsersCollectors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.prom")
	reg := prometheus.NewRegistry()
	userCollectors(t, reg)
	s, logs := quietStep(Info{Workflow: "w", NodeID: "n", Pod: "p"})
	s = NewWithRegistry(s.Info, reg)
	s.Logger = quietLogger(logs)
	_ = s.Set("accuracy", 0.93)
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got, warnings := custom.Parse(b, custom.DefaultLimits, schema.IsReservedLabel)
	if len(warnings) > 0 {
		t.Errorf("the exit handler would warn: %q\n%s", warnings, b)
	}
	values := map[string]float64{}
	help := map[string]string{}
	for _, smp := range got {
		k := smp.Name
		for _, l := range smp.Labels {
			k += "," + l.Name + "=" + l.Value
		}
		values[k] = smp.Value
		help[smp.Name] = smp.Help
	}
	want := map[string]float64{
		"accuracy": 0.93, "rows_read_total": 1500, "loss,split=train": 0.12, "loss,split=test": 0.2,
		"batch_seconds_sum": 0.55, "batch_seconds_count": 2,
	}
	if fmt.Sprint(values) != fmt.Sprint(want) {
		t.Errorf("file holds %v, want %v\n%s", values, want, b)
	}
	if help["rows_read_total"] != "Rows read." || help["batch_seconds_count"] != "Time per batch." {
		t.Errorf("HELP %v", help)
	}
	if !strings.Contains(logs.String(), "step metric not written") || !strings.Contains(logs.String(), "forged") {
		t.Errorf("the forged series is not reported:\n%s", logs)
	}
	if n := len(s.Samples()); n != len(want) {
		t.Errorf("Samples: %d, want %d", n, len(want))
	}
}

// TestStepDescribeEscapes: a HELP with a backslash (a Windows path) is
// written so that expfmt parses the file, and read back unchanged.
func TestStepDescribeEscapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.prom")
	s, _ := quietStep(Info{})
	s.Describe("acc", `Accuracy on C:\data, "quoted"`)
	_ = s.SetWithLabels("acc", map[string]string{"dir": `C:\data` + "\n" + `"x"`}, 0.93)
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("expfmt refuses the file: %v\n%s", err, b)
	}
	if h := fams["acc"].GetHelp(); h != `Accuracy on C:\data, "quoted"` {
		t.Errorf("expfmt reads HELP %q", h)
	}
	got, warnings := custom.Parse(b, custom.DefaultLimits, schema.IsReservedLabel)
	if len(warnings) > 0 || len(got) != 1 || got[0].Help != `Accuracy on C:\data, "quoted"` || got[0].Labels[0].Value != `C:\data`+"\n"+`"x"` {
		t.Errorf("read back %+v, warnings %q\n%s", got, warnings, b)
	}
	// The issue's own example.
	s2, _ := quietStep(Info{})
	s2.Describe("acc", `C:\data`)
	_ = s2.Set("acc", 1)
	path = filepath.Join(t.TempDir(), "issue.prom")
	if err := s2.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if _, err := p.TextToMetricFamilies(bytes.NewReader(b)); err != nil {
		t.Errorf("expfmt: %v\n%s", err, b)
	}
	if got, _ := custom.Parse(b, custom.DefaultLimits, nil); len(got) != 1 || got[0].Help != `C:\data` {
		t.Errorf("read back %+v", got)
	}
}

// TestFromEnvFunc: the environment is read through getenv only.
func TestFromEnvFunc(t *testing.T) {
	s := fromEnv(envOf(map[string]string{
		"STEP_METRICS_WORKFLOW_UID": "u", "STEP_METRICS_STEP": "train", "STEP_METRICS_PUSHGATEWAY": " http://pg:9091 ",
		"STEP_METRICS_FILE": "/tmp/m", "STEP_METRICS_TIMEOUT": "2s",
	}), nil)
	if s.Info.WorkflowUID != "u" || s.Info.Step != "train" || s.URL != "http://pg:9091" || s.File != "/tmp/m" || s.Timeout.Seconds() != 2 || s.Client == nil {
		t.Errorf("%+v", s)
	}
	tg, err := s.Target()
	if err != nil || tg.Key().String() != schema.StepKey(schema.DefaultJob, "", "u", "train").String() {
		t.Errorf("target %+v, %v", tg, err)
	}
}

// TestZeroStep: a Step made without New works.
func TestZeroStep(t *testing.T) {
	var s Step
	s.Logger = quietLogger(&bytes.Buffer{})
	if err := s.Set("x", 1); err != nil {
		t.Fatal(err)
	}
	s.Registry().MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "y", Help: "y"}))
	if fams, err := s.Gather(); err != nil || len(fams) != 2 {
		t.Errorf("%v, %v", fams, err)
	}
}

func quietLogger(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
