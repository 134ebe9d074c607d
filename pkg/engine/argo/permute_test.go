package argo

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// TestPermute: permute gives what building a new slice in that order gives.
func TestPermute(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 40 {
		steps := make([]pipeline.Step, n)
		for i := range steps {
			steps[i].ID = string(rune('A' + i))
		}
		order := make([]int32, n)
		for i := range order {
			order[i] = int32(i)
		}
		r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		want := make([]pipeline.Step, n)
		for k, i := range order {
			want[k] = steps[i]
		}
		permute(steps, slices.Clone(order))
		if !slices.EqualFunc(steps, want, func(a, b pipeline.Step) bool { return a.ID == b.ID }) {
			t.Fatalf("n=%d order %v: got %v", n, order, steps)
		}
	}
}
