package argo

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/step-metrics/step-metrics/bench/synth"
)

// The path `step-metrics push` takes (Engine.ReadStream), in its two
// halves: the decoder, and the walk over the nodes as the decoder gives
// them. (BenchmarkDecodeArgo and BenchmarkFromArgo measure the public
// functions, which convert to and from Argo's node type on top.)

func streamInput(b *testing.B, n int) []byte {
	b.Helper()
	data, err := synth.JSON(synth.Options{Nodes: n, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkReadWorkflow(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		data := streamInput(b, n)
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				_, nodes, _, _, err := readWorkflow(bytes.NewReader(data))
				if err != nil || len(nodes) != n {
					b.Fatalf("readWorkflow: %d nodes, %v", len(nodes), err)
				}
			}
		})
	}
}

func BenchmarkWalk(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		wf, nodes, _, _, err := readWorkflow(bytes.NewReader(streamInput(b, n)))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if run := fromWorkflow(wf, nodes, Options{}); len(run.Steps) == 0 {
					b.Fatal("no steps")
				}
			}
		})
	}
}
