package argo

import (
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// node is what FromWorkflow reads of an entry of status.nodes: the fields
// of Argo's NodeStatus it uses, under the same names, so that the walk
// reads as Argo's code does. It is a third of NodeStatus's size, and the
// node map holds pointers, so that the walk neither stores nor copies
// NodeStatus's 368 bytes a node (at 50,000 nodes the map of NodeStatus
// values was most of the heap).
type node struct {
	ID, Name, DisplayName, TemplateName, BoundaryID, Message, HostNodeName string

	Type  wfv1.NodeType
	Phase wfv1.NodePhase

	TemplateRef *wfv1.TemplateRef
	NodeFlag    *wfv1.NodeFlag
	Daemoned    bool
	Outputs     *wfv1.Outputs

	StartedAt, FinishedAt metav1.Time

	Children []string
	// Resources is resourcesDuration: whole seconds by resource, kept
	// for Pod nodes only (the others' are sums of their pods').
	Resources []resource

	// walk is the walk's mark: inside a hook or not (argoHookedNodes).
	walk uint8
}

// The marks of node.walk.
const (
	walkUnknown uint8 = iota
	walkVisiting
	walkInHook
	walkOutside
)

// resource is one entry of a node's resourcesDuration.
type resource struct {
	Name    string
	Seconds int64
}

// nodeMap is status.nodes by node ID.
type nodeMap map[string]*node

// Fulfilled is NodeStatus.Fulfilled for a node whose task result is
// synced (v3.7's decoder of this package leaves taskResultSynced out of
// NodeStatus; v4's flag is applied to the steps, applyV4).
func (n *node) Fulfilled() bool {
	return n.Phase.Fulfilled(nil) || n.Daemoned && n.Phase != wfv1.NodePending
}

// IsDaemoned is NodeStatus.IsDaemoned.
func (n *node) IsDaemoned() bool { return n.Daemoned }

// nodesOf converts Argo's node map to the walk's.
func nodesOf(in wfv1.Nodes) nodeMap {
	if in == nil {
		return nil
	}
	out := make(nodeMap, len(in))
	for id, s := range in {
		n := &node{
			ID: s.ID, Name: s.Name, DisplayName: s.DisplayName, TemplateName: s.TemplateName,
			BoundaryID: s.BoundaryID, Message: s.Message, HostNodeName: s.HostNodeName,
			Type: s.Type, Phase: s.Phase, TemplateRef: s.TemplateRef, NodeFlag: s.NodeFlag,
			Daemoned: s.IsDaemoned(), Outputs: s.Outputs, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt,
			Children: s.Children,
		}
		if s.Type == wfv1.NodeTypePod {
			for r, d := range s.ResourcesDuration {
				n.Resources = append(n.Resources, resource{Name: string(r), Seconds: int64(d)})
			}
		}
		out[id] = n
	}
	return out
}

// status converts the walk's node map back to Argo's (for Decode).
func (m nodeMap) status() wfv1.Nodes {
	if m == nil {
		return nil
	}
	out := make(wfv1.Nodes, len(m))
	for id, n := range m {
		if n == nil {
			out[id] = wfv1.NodeStatus{}
			continue
		}
		s := wfv1.NodeStatus{
			ID: n.ID, Name: n.Name, DisplayName: n.DisplayName, TemplateName: n.TemplateName,
			BoundaryID: n.BoundaryID, Message: n.Message, HostNodeName: n.HostNodeName,
			Type: n.Type, Phase: n.Phase, TemplateRef: n.TemplateRef, NodeFlag: n.NodeFlag,
			Outputs: n.Outputs, StartedAt: n.StartedAt, FinishedAt: n.FinishedAt, Children: n.Children,
		}
		if n.Daemoned {
			t := true
			s.Daemoned = &t
		}
		if len(n.Resources) > 0 {
			s.ResourcesDuration = make(wfv1.ResourcesDuration, len(n.Resources))
			for _, r := range n.Resources {
				s.ResourcesDuration[corev1.ResourceName(r.Name)] = wfv1.ResourceDuration(r.Seconds)
			}
		}
		out[id] = s
	}
	return out
}
