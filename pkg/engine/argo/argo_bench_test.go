package argo_test

import (
	"flag"
	"fmt"
	"sync"
	"testing"

	"github.com/step-metrics/step-metrics/bench/synth"
	"github.com/step-metrics/step-metrics/pkg/engine/argo"
)

// benchLarge adds the 50,000-node workflow to the benchmarks:
// go test -run '^$' -bench . ./pkg/engine/argo -args -bench.large
var benchLarge = flag.Bool("bench.large", false, "also benchmark 50,000-node workflows")

func benchSizes() []int {
	if *benchLarge {
		return []int{100, 1000, 10000, 50000}
	}
	return []int{100, 1000, 10000}
}

var (
	inputsMu sync.Mutex
	inputs   = map[string][]byte{}
)

// benchInput returns the synthetic workflow (see bench/synth) of n nodes
// as JSON, built once per process.
func benchInput(b *testing.B, n int, compressed bool) []byte {
	b.Helper()
	key := fmt.Sprint(n, compressed)
	inputsMu.Lock()
	defer inputsMu.Unlock()
	if data, ok := inputs[key]; ok {
		return data
	}
	data, err := synth.JSON(synth.Options{Nodes: n, Seed: 1, Compressed: compressed})
	if err != nil {
		b.Fatal(err)
	}
	inputs[key] = data
	return data
}

// perNode reports the time per node of the workflow, which stays flat
// when the cost grows linearly with the node count.
func perNode(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/node")
}

func BenchmarkDecodeArgo(b *testing.B) {
	for _, n := range benchSizes() {
		for _, form := range []struct {
			name       string
			compressed bool
		}{{"plain", false}, {"compressedNodes", true}} {
			data := benchInput(b, n, form.compressed)
			b.Run(fmt.Sprintf("nodes=%d/%s", n, form.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					wf, _, err := argo.Decode(data)
					if err != nil || len(wf.Status.Nodes) != n {
						b.Fatalf("DecodeArgo: %v", err)
					}
				}
				perNode(b, n)
			})
		}
	}
}

func BenchmarkFromArgo(b *testing.B) {
	for _, n := range benchSizes() {
		wf, _, err := argo.Decode(benchInput(b, n, false))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				run := argo.FromWorkflow(wf, argo.Options{})
				if len(run.Steps) == 0 {
					b.Fatal("no steps")
				}
			}
			perNode(b, n)
		})
	}
}
