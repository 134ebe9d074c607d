package synth

import (
	"bytes"
	"encoding/json"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// Every size gives exactly the nodes asked for, in both forms, the same
// bytes for the same seed, and the exit handler's view: workflow Running,
// root finished, the exit hook running.
func TestGenerate(t *testing.T) {
	for _, n := range []int{MinNodes, MinNodes + 1, 30, 100, 1001, 5000} {
		a, err := JSON(Options{Nodes: n, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := JSON(Options{Nodes: n, Seed: 7})
		if !bytes.Equal(a, b) {
			t.Fatalf("%d nodes: not deterministic", n)
		}
		var wf wfv1.Workflow
		if err := json.Unmarshal(a, &wf); err != nil {
			t.Fatal(err)
		}
		if len(wf.Status.Nodes) != n {
			t.Fatalf("%d nodes wanted, %d made", n, len(wf.Status.Nodes))
		}
		root := wf.Status.Nodes[wf.Name]
		if wf.Status.Phase != wfv1.WorkflowRunning || !wf.Status.FinishedAt.IsZero() || root.FinishedAt.IsZero() || !root.Phase.Fulfilled(nil) {
			t.Errorf("%d nodes: not the exit handler's view: workflow %s, root %s", n, wf.Status.Phase, root.Phase)
		}
		types := map[wfv1.NodeType]int{}
		hooks := 0
		for _, nd := range wf.Status.Nodes {
			types[nd.Type]++
			if nd.NodeFlag != nil && nd.NodeFlag.Hooked && nd.Phase == wfv1.NodeRunning {
				hooks++
			}
		}
		if hooks != 1 || types[wfv1.NodeTypeRetry] == 0 || types[wfv1.NodeTypeSkipped] == 0 || types[wfv1.NodeTypeSuspend] != 1 || types[wfv1.NodeTypeTaskGroup] != 2 {
			t.Errorf("%d nodes: node types %v, %d running exit hooks", n, types, hooks)
		}
		c, err := JSON(Options{Nodes: n, Seed: 7, Compressed: true})
		if err != nil {
			t.Fatal(err)
		}
		var cw wfv1.Workflow
		if err := json.Unmarshal(c, &cw); err != nil {
			t.Fatal(err)
		}
		if len(cw.Status.Nodes) != 0 || cw.Status.CompressedNodes == "" || len(c) >= len(a) {
			t.Errorf("%d nodes: compressed form has %d plain nodes, %d bytes of compressedNodes", n, len(cw.Status.Nodes), len(cw.Status.CompressedNodes))
		}
	}
}
