package argo

import (
	"regexp"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// itemSuffix matches the display name Argo's controller gives each item of
// a withItems/withParam/withSequence fan-out: the task or step name, then
// "(index:value)" (workflow/controller/operator.go generateNodeName:
// fmt.Sprintf("%s(%d:%v)", name, index, value), with "(" and ")" removed
// from the value, so the last ")" closes the suffix).
var itemSuffix = regexp.MustCompile(`^([^()]+)\((\d+):[^()]*\)$`)

// splitItem returns the stage and item index of a display name:
// "train(3:lr-0.01)" is stage "train", item "3"; a name that is not a
// fan-out item is its own stage, with no item.
func splitItem(name string) (stage, item string) {
	if m := itemSuffix.FindStringSubmatch(name); m != nil {
		return m[1], m[2]
	}
	return name, ""
}

// assignStages sets the stage and item of every step and retried step. A
// container of a container set is a part of its pod (its boundaryID is the
// pod node: container_set_template.go executeContainerSet) and sits in the
// pod's stage.
func assignStages(run *pipeline.Run, nodes wfv1.Nodes) {
	for i := range run.Steps {
		s := &run.Steps[i]
		s.Stage, s.Item = splitItem(s.Name)
		if s.Type == string(wfv1.NodeTypeContainer) {
			if n, ok := nodes[s.ID]; ok && n.BoundaryID != "" && nodes[n.BoundaryID].Type == wfv1.NodeTypePod {
				s.Parent = n.BoundaryID
			}
		}
	}
	run.InheritParentStages()
	for i := range run.Retries {
		r := &run.Retries[i]
		r.Stage, _ = splitItem(r.Name)
	}
}
