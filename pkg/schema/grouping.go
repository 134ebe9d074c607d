package schema

import (
	"fmt"
	"strings"
)

// Label is one label name and value.
type Label struct{ Name, Value string }

// GroupingKey identifies one group of series that is written, replaced and
// deleted as a whole: a Pushgateway group (its URL path), or in remote
// write the series that share these labels. A run's group is keyed by job,
// namespace and workflow_id; a step's own group (a direct push from inside
// the step) adds step, so it sits beside the run's group, never over it.
type GroupingKey struct {
	// Job is the job label; DefaultJob unless the user chose another.
	Job string
	// Labels are the rest of the key, in the order RunKey and StepKey give
	// them. Their order does not matter to the Pushgateway.
	Labels []Label
}

// RunKey is the grouping key of a run's group.
func RunKey(job, namespace, workflowID string) GroupingKey {
	return GroupingKey{Job: job, Labels: []Label{{LabelNamespace, namespace}, {LabelWorkflowID, workflowID}}}
}

// StepKey is the grouping key of a step's own group.
func StepKey(job, namespace, workflowID, step string) GroupingKey {
	k := RunKey(job, namespace, workflowID)
	k.Labels = append(k.Labels, Label{LabelStep, step})
	return k
}

// RunGroupingLabels are the label names of a run's grouping key, job first.
var RunGroupingLabels = []string{LabelJob, LabelNamespace, LabelWorkflowID}

// String renders the key for logs and messages, as Prometheus writes a
// label set: job="step-metrics",namespace="ml",workflow_id="5f0c...".
func (k GroupingKey) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s=%q", LabelJob, k.Job)
	for _, l := range k.Labels {
		fmt.Fprintf(&b, ",%s=%q", l.Name, l.Value)
	}
	return b.String()
}

// Get returns the value of label name in the key (job included), and
// whether it is there.
func (k GroupingKey) Get(name string) (string, bool) {
	if name == LabelJob {
		return k.Job, true
	}
	for _, l := range k.Labels {
		if l.Name == name {
			return l.Value, true
		}
	}
	return "", false
}
