package metrics_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/step-metrics/step-metrics/pkg/schema"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/step-metrics/step-metrics/bench/synth"
	"github.com/step-metrics/step-metrics/pkg/custom"
	"github.com/step-metrics/step-metrics/pkg/engine/argo"
	"github.com/step-metrics/step-metrics/pkg/metrics"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"
)

// benchLarge adds the 50,000-node workflow to the benchmarks:
// go test -run '^$' -bench . ./pkg/metrics -args -bench.large
var benchLarge = flag.Bool("bench.large", false, "also benchmark 50,000-node workflows")

func benchSizes() []int {
	if *benchLarge {
		return []int{100, 1000, 10000, 50000}
	}
	return []int{100, 1000, 10000}
}

var (
	inputsMu sync.Mutex
	inputs   = map[int][]byte{}
)

// benchInput returns the synthetic workflow (see bench/synth) of n nodes
// as JSON, built once per process.
func benchInput(b *testing.B, n int) []byte {
	b.Helper()
	inputsMu.Lock()
	defer inputsMu.Unlock()
	if data, ok := inputs[n]; ok {
		return data
	}
	data, err := synth.JSON(synth.Options{Nodes: n, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	inputs[n] = data
	return data
}

func benchRun(b *testing.B, n int) *pipeline.Run {
	b.Helper()
	wf, _, err := argo.Decode(benchInput(b, n))
	if err != nil {
		b.Fatal(err)
	}
	return argo.FromWorkflow(wf, argo.Options{})
}

// perNode reports the time per node of the workflow, which stays flat
// when the cost grows linearly with the node count.
func perNode(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/node")
}

func seriesOf(fams []*dto.MetricFamily) int {
	s := 0
	for _, f := range fams {
		s += len(f.GetMetric())
	}
	return s
}

var benchOpts = metrics.Options{Labels: map[string]string{"team": "ml-platform"}}

func BenchmarkFamilies(b *testing.B) {
	for _, mode := range []schema.StepMode{schema.StepsPerNode, schema.StepsPerTemplate} {
		for _, n := range benchSizes() {
			run := benchRun(b, n)
			opts := benchOpts
			opts.Steps = mode
			b.Run(fmt.Sprintf("mode=%s/nodes=%d", mode, n), func(b *testing.B) {
				b.ReportAllocs()
				var fams []*dto.MetricFamily
				for b.Loop() {
					var err error
					if fams, err = metrics.Families(run, opts); err != nil {
						b.Fatal(err)
					}
				}
				perNode(b, n)
				b.ReportMetric(float64(seriesOf(fams)), "series")
			})
		}
	}
}

func BenchmarkCustomFamilies(b *testing.B) {
	for _, n := range benchSizes() {
		run := benchRun(b, n)
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var fams []*dto.MetricFamily
			for b.Loop() {
				fams, _ = metrics.CustomFamilies(run, benchOpts, custom.DefaultLimits)
			}
			perNode(b, n)
			b.ReportMetric(float64(seriesOf(fams)), "series")
		})
	}
}

func BenchmarkWriteText(b *testing.B) {
	for _, n := range benchSizes() {
		fams, err := metrics.Families(benchRun(b, n), benchOpts)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := metrics.WriteText(&buf, fams); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(buf.Len()))
			perNode(b, n)
		})
	}
}

// BenchmarkPipeline is what `step-metrics push` does after reading the
// bytes: decode, FromWorkflow, Families and CustomFamilies (node mode), then
// either the text exposition (--dry-run) or one push to an HTTP server on
// loopback that reads the body and answers 200, as a Pushgateway does.
func BenchmarkPipeline(b *testing.B) {
	var received sync.Mutex
	body := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Lock()
		body = int(n)
		received.Unlock()
	}))
	defer srv.Close()
	build := func(b *testing.B, data []byte) []*dto.MetricFamily {
		wf, _, err := argo.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		run := argo.FromWorkflow(wf, argo.Options{})
		fams, err := metrics.Families(run, benchOpts)
		if err != nil {
			b.Fatal(err)
		}
		cf, _ := metrics.CustomFamilies(run, benchOpts, custom.DefaultLimits)
		return append(fams, cf...)
	}
	for _, n := range benchSizes() {
		data := benchInput(b, n)
		b.Run(fmt.Sprintf("out=text/nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := metrics.WriteText(&buf, build(b, data)); err != nil {
					b.Fatal(err)
				}
			}
			perNode(b, n)
		})
		// What a push in the text format, written straight from the
		// families, would cost instead of client_golang's Pusher (which
		// gathers, re-sorts and checks the families, then encodes them as
		// protobuf): the headroom left in pkg/sink/pushgateway.
		b.Run(fmt.Sprintf("out=text-put/nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := metrics.WriteText(&buf, build(b, data)); err != nil {
					b.Fatal(err)
				}
				req, err := http.NewRequest(http.MethodPut, srv.URL+"/metrics/job/step-metrics/namespace/bench/workflow_id/uid", &buf)
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", "text/plain; version=0.0.4")
				resp, err := srv.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
			perNode(b, n)
			received.Lock()
			b.ReportMetric(float64(body), "body-bytes")
			received.Unlock()
		})
		b.Run(fmt.Sprintf("out=push/nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			target := pushgateway.Target{URL: srv.URL, Job: "step-metrics", Grouping: []pushgateway.Label{{Name: "namespace", Value: "bench"}, {Name: "workflow_id", Value: "uid"}}}
			for b.Loop() {
				fams := build(b, data)
				g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return fams, nil })
				if err := pushgateway.Push(context.Background(), target, g, srv.Client(), pushgateway.Retry{MaxAttempts: 1}); err != nil {
					b.Fatal(err)
				}
			}
			perNode(b, n)
			received.Lock()
			b.ReportMetric(float64(body), "body-bytes")
			received.Unlock()
		})
	}
}
