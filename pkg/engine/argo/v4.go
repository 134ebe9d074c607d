package argo

import (
	"strings"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// v4Node holds the node fields Argo v4 writes that v3.7's types (which
// this package decodes into) have no place for
// (pkg/apis/workflow/v1alpha1/workflow_types.go in argo-workflows v4).
type v4Node struct {
	// FailedPodRestarts counts the times the controller deleted and
	// re-created the node's pod because it failed before its main
	// container started (an infrastructure failure: eviction, a node
	// lost; workflow/controller/operator.go shouldAutoRestartPod). The
	// step's code never ran in those pods, so they are not retries.
	FailedPodRestarts int32
	// TaskResultSynced is false while the controller has not yet received
	// the node's outputs (its WorkflowTaskResult).
	TaskResultSynced *bool
}

// v4Nodes are the v4 fields by node ID, for the nodes that have any.
type v4Nodes map[string]v4Node

// applyV4 puts the v4 fields on the run's steps: pod restarts, and a
// warning for finished steps whose outputs (where custom metrics come
// from) had not reached the controller.
func applyV4(run *pipeline.Run, v4 v4Nodes) {
	if len(v4) == 0 {
		return
	}
	var unsynced []string
	for i := range run.Steps {
		s := &run.Steps[i]
		n, ok := v4[s.ID]
		if !ok {
			continue
		}
		s.PodRestarts = int(n.FailedPodRestarts)
		if n.TaskResultSynced != nil && !*n.TaskResultSynced && s.Finished {
			unsynced = append(unsynced, s.Name)
		}
	}
	if len(unsynced) > 0 {
		if len(unsynced) > 5 {
			unsynced = append(unsynced[:5], "...")
		}
		run.Warnf("outputs of %d finished step(s) had not reached the controller yet (taskResultSynced: false), so their custom metrics may be missing: %s",
			len(unsynced), strings.Join(unsynced, ", "))
	}
}
