package pushgateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/schema"
	"github.com/step-metrics/step-metrics/pkg/sink"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"
)

// A run's metrics go to the Pushgateway in one PUT, grouped by the run.
func ExamplePush() {
	// A stand-in Pushgateway that prints what it receives.
	pgw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := expfmt.ResponseFormat(r.Header)
		fmt.Println(r.Method, "as", format.FormatType() == expfmt.TypeProtoDelim)
		dec := expfmt.NewDecoder(r.Body, format)
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				break
			}
			_, _ = expfmt.MetricFamilyToText(os.Stdout, &mf)
		}
	}))
	defer pgw.Close()

	reg := prometheus.NewRegistry()
	duration := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pipeline_duration_seconds", Help: "Wall time of the run.",
	})
	duration.Set(512.5)
	reg.MustRegister(duration)

	target := pushgateway.Target{URL: pgw.URL, Job: "step-metrics", Grouping: []pushgateway.Label{
		{Name: "namespace", Value: "ml"},
		{Name: "workflow_id", Value: "5f0c2d1e"},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pushgateway.Push(ctx, target, reg, nil, pushgateway.DefaultRetry); err != nil {
		fmt.Println("not pushed:", err)
		return
	}
	fmt.Println("pushed", pushgateway.Group(target))
	// Output:
	// PUT as true
	// # HELP pipeline_duration_seconds Wall time of the run.
	// # TYPE pipeline_duration_seconds gauge
	// pipeline_duration_seconds 512.5
	// pushed job="step-metrics",namespace="ml",workflow_id="5f0c2d1e"
}

// A 4xx answer is final and its message is part of the error.
func ExamplePush_rejected() {
	pgw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "pushed metrics are invalid or inconsistent", http.StatusBadRequest)
	}))
	defer pgw.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "up_seconds", Help: "h"}))
	err := pushgateway.Push(context.Background(), pushgateway.Target{URL: pgw.URL, Job: "step-metrics"}, reg, nil, pushgateway.DefaultRetry)
	fmt.Println(strings.ReplaceAll(err.Error(), pgw.URL, "http://pushgateway:9091"))
	// Output:
	// push failed: unexpected status code 400 while pushing to http://pushgateway:9091/metrics/job/step-metrics: pushed metrics are invalid or inconsistent
}

// A redirect (an ingress sending http:// to https://, say) is a failed
// push, never followed: the client httpclient.New builds does not send
// the credentials to wherever it points, and the error says where that
// is.
func ExamplePush_redirect() {
	pgw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://pushgateway.example"+r.URL.Path, http.StatusPermanentRedirect)
	}))
	defer pgw.Close()

	client, err := httpclient.New(httpclient.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "up_seconds", Help: "h"}))
	err = pushgateway.Push(context.Background(), pushgateway.Target{URL: pgw.URL, Job: "step-metrics"}, reg, client, pushgateway.DefaultRetry)
	fmt.Println(strings.ReplaceAll(err.Error(), pgw.URL, "http://pushgateway.example"))
	// Output:
	// push failed: http://pushgateway.example/metrics/job/step-metrics answered HTTP 308 Permanent Redirect, a redirect to https://pushgateway.example/metrics/job/step-metrics: redirects are not followed, so that credentials go nowhere else; use the URL it points to
}

// Delete removes a run's group.
func ExampleDelete() {
	pgw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.Method, r.URL.Path)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer pgw.Close()

	target := pushgateway.Target{URL: pgw.URL, Job: "step-metrics", Grouping: []pushgateway.Label{{Name: "workflow_id", Value: "5f0c2d1e"}}}
	if err := pushgateway.Delete(context.Background(), target, nil, pushgateway.DefaultRetry); err != nil {
		fmt.Println("not deleted:", err)
	}
	// Output:
	// DELETE /metrics/job/step-metrics/workflow_id/5f0c2d1e
}

func ExampleGroup() {
	fmt.Println(pushgateway.Group(pushgateway.Target{Job: "step-metrics", Grouping: []pushgateway.Label{
		{Name: "namespace", Value: "ml"},
		{Name: "workflow_id", Value: "5f0c2d1e"},
	}}))
	// Output:
	// job="step-metrics",namespace="ml",workflow_id="5f0c2d1e"
}

// A Sink writes a group under its schema.GroupingKey; its errors are
// *pushgateway.Error, with the cause kept.
func ExampleSink() {
	pgw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// client_golang does not keep the grouping labels' order.
		fmt.Println(r.Method, strings.Contains(r.URL.Path, "/namespace/ml"), strings.Contains(r.URL.Path, "/workflow_id/5f0c2d1e"))
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		http.Error(w, "no space left", http.StatusInsufficientStorage)
	}))
	defer pgw.Close()

	name, help := "pipeline_duration_seconds", "Wall time of the run."
	v := 512.5
	fams := []*dto.MetricFamily{{Name: &name, Help: &help, Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}}}}
	var s sink.Deleter = pushgateway.New(pgw.URL, nil, pushgateway.Retry{MaxAttempts: 2, InitialBackoff: time.Millisecond})
	key := schema.RunKey(schema.DefaultJob, "ml", "5f0c2d1e")
	err := s.Write(context.Background(), key, fams)
	var pe *pushgateway.Error
	if errors.As(err, &pe) {
		fmt.Println(pe.Op, "attempts:", pe.Attempts)
	}
	if err := s.Delete(context.Background(), key); err != nil {
		fmt.Println("not deleted:", err)
	}
	// Output:
	// PUT true true
	// PUT true true
	// push attempts: 2
	// DELETE true true
}
