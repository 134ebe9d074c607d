package step_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/step-metrics/step-metrics/pkg/step"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// A Go step reports its training time and accuracy. In a pod,
// step.FromEnv() takes the identity and the Pushgateway from the
// environment; here they are spelled out.
func ExampleStep() {
	// A stand-in Pushgateway that prints what it receives.
	pgw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The grouping key, whose order in the path is the client's choice.
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/metrics/"), "/")
		var key []string
		for i := 0; i+1 < len(parts); i += 2 {
			key = append(key, parts[i]+"="+parts[i+1])
		}
		sort.Strings(key)
		fmt.Println(r.Method, strings.Join(key, " "))
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				break
			}
			_, _ = expfmt.MetricFamilyToText(os.Stdout, &mf)
		}
	}))
	defer pgw.Close()

	step := step.New(step.Info{
		Workflow: "train-x7k2p", WorkflowUID: "5f0c2d1e", Namespace: "ml",
		Step: "train", NodeID: "train-x7k2p-3542", Pod: "train-x7k2p-train-3542",
	})
	step.URL = pgw.URL

	_ = step.Set("training_seconds", 812.5)
	step.Describe("accuracy", "Accuracy on the test set.")
	_ = step.Set("accuracy", 0.93)

	// Fail-safe: a failure is logged; the error is there if you want it.
	if err := step.Push(context.Background()); err != nil {
		fmt.Println("not pushed:", err)
	}
	// Output:
	// PUT job=step-metrics namespace=ml step=train workflow_id=5f0c2d1e
	// # HELP pipeline_custom_accuracy Accuracy on the test set.
	// # TYPE pipeline_custom_accuracy gauge
	// pipeline_custom_accuracy{node_id="train-x7k2p-3542",pod="train-x7k2p-train-3542",workflow="train-x7k2p"} 0.93
	// # HELP pipeline_custom_training_seconds Custom metric published by a pipeline step (step-metrics output convention).
	// # TYPE pipeline_custom_training_seconds gauge
	// pipeline_custom_training_seconds{node_id="train-x7k2p-3542",pod="train-x7k2p-train-3542",workflow="train-x7k2p"} 812.5
}

// Time measures with the monotonic clock, so a wall clock set back by NTP
// never makes a duration negative.
func ExampleStep_Time() {
	step := step.New(step.Info{})
	train := func() {
		defer step.Time("training_seconds")() // set when train returns
		time.Sleep(20 * time.Millisecond)     // ... train ...
	}
	train()
	s := step.Samples()[0]
	fmt.Println(s.Name, s.Value >= 0.02)
	// Output:
	// training_seconds true
}

// With no network from the step: the metrics go to a file the step
// declares as its output parameter "step-metrics"; the exit handler adds
// the prefix and the run's and step's labels.
func ExampleStep_WriteFile() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "step-metrics.prom")

	// Something already wrote a line there (say, a shell step before).
	_ = os.WriteFile(path, []byte("rows_read 1000000\n"), 0o644)

	step := step.New(step.Info{})
	_ = step.Set("training_seconds", 812.5)
	_ = step.SetWithLabels("accuracy", map[string]string{"split": "test"}, 0.93)
	if err := step.WriteFile(path); err != nil {
		fmt.Println(err)
	}
	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	// Output:
	// # TYPE accuracy gauge
	// accuracy{split="test"} 0.93
	// # TYPE rows_read gauge
	// rows_read 1e+06
	// # TYPE training_seconds gauge
	// training_seconds 812.5
}

// Names the exit handler would drop are refused at once, with a warning
// and an error; the step goes on.
func ExampleStep_Set() {
	step := step.New(step.Info{})
	step.Logger = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	err := step.Set("training-seconds", 812.5)
	fmt.Println(err != nil)
	err = step.SetWithLabels("accuracy", map[string]string{"step": "other"}, 0.93)
	fmt.Println(strings.Contains(err.Error(), "reserved"))
	// Output:
	// level=WARN msg="metric not recorded" metric=training-seconds err="metric name \"training-seconds\" is not a valid Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*)"
	// true
	// level=WARN msg="metric not recorded" metric=accuracy err="metric \"accuracy\": label \"step\" is reserved (set by step-metrics); dropped"
	// true
}

// A step's own client_golang metrics: registered in the Step's registry,
// they are pushed with its convenience gauges, named pipeline_custom_*,
// with the step's labels workflow, node_id and pod added.
func ExampleStep_Registry() {
	pgw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				break
			}
			_, _ = expfmt.MetricFamilyToText(os.Stdout, &mf)
		}
	}))
	defer pgw.Close()

	s := step.New(step.Info{WorkflowUID: "5f0c2d1e", Namespace: "ml", Step: "train", NodeID: "train-x7k2p-3542"})
	s.URL = pgw.URL

	rows := prometheus.NewCounter(prometheus.CounterOpts{Name: "rows_read_total", Help: "Rows read."})
	batch := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "batch_seconds", Help: "Time per batch.", Buckets: []float64{0.1, 1}})
	s.Registry().MustRegister(rows, batch)

	rows.Add(1500)
	batch.Observe(0.05)
	batch.Observe(0.5)
	_ = s.Push(context.Background())
	// Output:
	// # HELP pipeline_custom_batch_seconds Time per batch.
	// # TYPE pipeline_custom_batch_seconds histogram
	// pipeline_custom_batch_seconds_bucket{node_id="train-x7k2p-3542",le="0.1"} 1
	// pipeline_custom_batch_seconds_bucket{node_id="train-x7k2p-3542",le="1"} 2
	// pipeline_custom_batch_seconds_bucket{node_id="train-x7k2p-3542",le="+Inf"} 2
	// pipeline_custom_batch_seconds_sum{node_id="train-x7k2p-3542"} 0.55
	// pipeline_custom_batch_seconds_count{node_id="train-x7k2p-3542"} 2
	// # HELP pipeline_custom_rows_read_total Rows read.
	// # TYPE pipeline_custom_rows_read_total counter
	// pipeline_custom_rows_read_total{node_id="train-x7k2p-3542"} 1500
}

// In the file for the exit handler, a registered histogram is its _sum and
// _count (the exit handler reads plain values); HELP texts and label values
// are escaped as the text format says.
func ExampleStep_WriteFile_registry() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "step-metrics.prom")

	s := step.New(step.Info{})
	batch := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "batch_seconds", Help: "Time per batch."})
	s.Registry().MustRegister(batch)
	batch.Observe(0.5)
	s.Describe("accuracy", `Accuracy on C:\data`)
	_ = s.Set("accuracy", 0.93)

	_ = s.WriteFile(path)
	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	// Output:
	// # HELP accuracy Accuracy on C:\\data
	// # TYPE accuracy gauge
	// accuracy 0.93
	// # HELP batch_seconds_count Time per batch.
	// # TYPE batch_seconds_count gauge
	// batch_seconds_count 1
	// # HELP batch_seconds_sum Time per batch.
	// # TYPE batch_seconds_sum gauge
	// batch_seconds_sum 0.5
}

// In a pod, FromEnv reads the step's identity, the Pushgateway and its TLS
// and auth settings from the environment (see FromEnv and InfoFromEnv).
func ExampleFromEnv() {
	s := step.FromEnv()
	defer func() { _ = s.Push(context.Background()) }() // or, under `step-metrics run`, the wrapper's file
	defer s.Time("training_seconds")()
	_ = s.Set("accuracy", 0.93)
}
