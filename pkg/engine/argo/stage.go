package argo

import (
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// itemSuffix matches the display name Argo's controller gives each item of
// a withItems/withParam/withSequence fan-out: the task or step name, then
// "(index:value)" (workflow/controller/operator.go generateNodeName:
// fmt.Sprintf("%s(%d:%v)", name, index, value), with "(" and ")" removed
// from the value, so the last ")" closes the suffix).

// splitItem returns the stage and item index of a display name:
// "train(3:lr-0.01)" is stage "train", item "3"; a name that is not a
// fan-out item is its own stage, with no item.
//
// It matches `^([^()]+)\((\d+):[^()]*\)$` (FuzzSplitItem holds it to that
// expression), by hand: it runs once a step, and a regular expression was
// a tenth of the time of a 10,000-node run.
func splitItem(name string) (stage, item string) {
	open := strings.IndexByte(name, '(')
	if open <= 0 || !strings.HasSuffix(name, ")") {
		return name, ""
	}
	stage, inner := name[:open], name[open+1:len(name)-1]
	colon := strings.IndexByte(inner, ':')
	if colon <= 0 || strings.ContainsRune(stage, ')') || strings.ContainsAny(inner, "()") {
		return name, ""
	}
	for i := 0; i < colon; i++ {
		if inner[i] < '0' || inner[i] > '9' {
			return name, ""
		}
	}
	return stage, inner[:colon]
}

// assignStages sets the stage and item of every step and retried step. A
// container of a container set is a part of its pod (its boundaryID is the
// pod node: container_set_template.go executeContainerSet) and sits in the
// pod's stage.
func assignStages(run *pipeline.Run, nodes nodeMap) {
	for i := range run.Steps {
		s := &run.Steps[i]
		s.Stage, s.Item = splitItem(s.Name)
		if s.Type == string(wfv1.NodeTypeContainer) {
			if n, ok := nodes[s.ID]; ok && n.BoundaryID != "" && isPod(nodes[n.BoundaryID]) {
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

// isPod reports whether n (nil when missing) is a Pod node.
func isPod(n *node) bool { return n != nil && n.Type == wfv1.NodeTypePod }
