package argo

import (
	"encoding/json"
	"regexp"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// Kubeflow Pipelines v2 compiles a pipeline into a Workflow of fixed system
// templates (kubeflow/pipelines backend/src/v2/compiler/argocompiler):
//
//   - every component task <task> is a driver task "<task>-driver" (template
//     system-container-driver: a Pod, or an executor Plugin in newer KFP;
//     containerDriverTask in container.go), then a DAG task "<task>"
//     (template system-container-executor) whose one task "executor" runs
//     the component (template system-container-impl: the pod doing the
//     work; addContainerExecutorTemplate). A task with a retry policy gets
//     retry-system-container-executor/-impl, with the retryStrategy on the
//     impl; pod metadata gets a "metadata-<a>-<l>-" prefix;
//   - the root DAG and every sub-DAG and loop get a DAG driver (template
//     system-dag-driver: "root-driver", "<task>-driver", "iteration-driver",
//     "iteration-item-driver"; dagDriverTask in dag.go);
//   - a dsl.ParallelFor is an iterator DAG whose "iteration-iterations"
//     task fans out withSequence over the iteration count
//     (iterationItemTask in dag.go), so each iteration is a DAG node
//     "iteration-iterations(<i>:<i>)" above the loop body's tasks.
//
// applyKFP turns that back into the pipeline the user wrote: the work pod
// of a component is a step named, staged and templated after its task
// (the display name of its system-container-executor node, its boundary),
// with the iteration index as item inside a loop; drivers are overhead,
// a container driver in its component's stage, a DAG driver in no stage
// (run-level overhead).

// The fixed template names of the KFP v2 compiler.
const (
	kfpContainerDriver   = "system-container-driver"
	kfpDAGDriver         = "system-dag-driver"
	kfpContainerExecutor = "system-container-executor"
	kfpContainerImpl     = "system-container-impl"
	// kfpV2Component is the pod annotation and label the compiler puts on
	// every pod of the run (spec.podMetadata; Compile in argo.go).
	kfpV2Component = "pipelines.kubeflow.org/v2_component"
)

type kfpRole uint8

const (
	kfpNone kfpRole = iota
	kfpDriverContainer
	kfpDriverDAG
	kfpExecutor
	kfpImpl
)

// kfpPrefix is what the compiler may put before system-container-executor
// and -impl: "retry-" and "metadata-<annotations>-<labels>-".
var kfpPrefix = regexp.MustCompile(`^(retry-|metadata-\d+-\d+-)*$`)

// kfpTemplateRole says which KFP system template a template name is.
func kfpTemplateRole(name string) kfpRole {
	switch name {
	case kfpContainerDriver:
		return kfpDriverContainer
	case kfpDAGDriver:
		return kfpDriverDAG
	}
	for _, t := range []struct {
		suffix string
		role   kfpRole
	}{{kfpContainerExecutor, kfpExecutor}, {kfpContainerImpl, kfpImpl}} {
		if p, ok := strings.CutSuffix(name, t.suffix); ok && kfpPrefix.MatchString(p) {
			return t.role
		}
	}
	return kfpNone
}

// isKFP says whether wf was compiled by KFP v2: its pods carry the
// v2_component annotation or label, or it has the driver templates (in its
// spec, or as the templates of its nodes when the spec is not there).
func isKFP(wf *wfv1.Workflow, nodes nodeMap) bool {
	if pm := wf.Spec.PodMetadata; pm != nil && (pm.Annotations[kfpV2Component] == "true" || pm.Labels[kfpV2Component] == "true") {
		return true
	}
	for i := range wf.Spec.Templates {
		if n := wf.Spec.Templates[i].Name; n == kfpContainerDriver || n == kfpDAGDriver {
			return true
		}
	}
	for _, n := range nodes {
		if n.TemplateName == kfpContainerDriver || n.TemplateName == kfpDAGDriver {
			return true
		}
	}
	return false
}

// kfpPipelineName is the pipeline name KFP passes its drivers
// (--pipeline_name, or "pipeline_name" in a driver plugin's args), without
// the "namespace/<ns>/pipeline/" prefix the API server adds
// (OverrideV2PipelineName): the part after the last "/", as the compiler's
// generateName (retrieveLastValidString). Empty when not found.
func kfpPipelineName(wf *wfv1.Workflow) string {
	for i := range wf.Spec.Templates {
		t := &wf.Spec.Templates[i]
		if t.Name != kfpContainerDriver && t.Name != kfpDAGDriver {
			continue
		}
		var name string
		if t.Container != nil {
			for j, a := range t.Container.Args {
				if a == "--pipeline_name" && j+1 < len(t.Container.Args) {
					name = t.Container.Args[j+1]
					break
				}
			}
		} else if t.Plugin != nil {
			var p map[string]struct {
				Args struct {
					PipelineName string `json:"pipeline_name"`
				} `json:"args"`
			}
			if json.Unmarshal(t.Plugin.Value, &p) == nil {
				name = p["driver-plugin"].Args.PipelineName
			}
		}
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		if name != "" && !strings.Contains(name, "{{") {
			return name
		}
	}
	return ""
}

// applyKFP rewrites the steps and retried steps of a KFP-compiled workflow
// (see the comment at the top of this file); other workflows are left as
// they are. It runs after assignStages.
func applyKFP(run *pipeline.Run, wf *wfv1.Workflow, nodes nodeMap) {
	if !isKFP(wf, nodes) {
		return
	}
	if p := kfpPipelineName(wf); p != "" {
		run.Pipeline = p
	}
	for i := range run.Steps {
		s := &run.Steps[i]
		n, ok := nodes[s.ID]
		if !ok || s.Parent != "" {
			continue
		}
		switch kfpTemplateRole(n.TemplateName) {
		case kfpImpl:
			// The work pod, an attempt of it, or its Skipped node when the
			// driver found it cached.
			if task := kfpTask(nodes, n); task != "" {
				s.Name, s.Stage, s.Template = task, task, task
				s.Item = kfpItem(nodes, n)
			}
		case kfpExecutor:
			// The executor DAG itself is a step only when it was skipped
			// (a false dsl.If condition): a skipped component.
			s.Stage, s.Template = n.DisplayName, n.DisplayName
			s.Item = kfpItem(nodes, n)
		case kfpDriverContainer:
			s.Kind = pipeline.KindOverhead
			s.Stage = strings.TrimSuffix(s.Name, "-driver")
			s.Item = kfpItem(nodes, n)
		case kfpDriverDAG:
			s.Kind = pipeline.KindOverhead
			s.Stage = ""
			s.Item = kfpItem(nodes, n)
		}
	}
	for i := range run.Retries {
		r := &run.Retries[i]
		n, ok := nodes[r.ID]
		if !ok {
			continue
		}
		switch kfpTemplateRole(n.TemplateName) {
		case kfpImpl:
			if task := kfpTask(nodes, n); task != "" {
				r.Name, r.Stage, r.Template = task, task, task
			}
		case kfpDriverContainer:
			r.Stage = strings.TrimSuffix(r.Name, "-driver")
		}
	}
	run.InheritParentStages()
}

// kfpTask is the task name of a component's work node: the display name
// of the system-container-executor DAG node that is its boundary (the impl
// pod, its Retry node and the attempts are all nodes of that DAG
// template), or empty when the shape is not that.
func kfpTask(nodes nodeMap, n *node) string {
	b, ok := nodes[n.BoundaryID]
	if !ok || n.BoundaryID == "" || kfpTemplateRole(b.TemplateName) != kfpExecutor {
		return ""
	}
	return b.DisplayName
}

// kfpItem is the parallel-for iteration a node runs in: the index of the
// "iteration-iterations(<i>:<i>)" DAG node on its boundaryID chain, outer
// loops first and joined with "." for nested loops ("1.0"); empty outside
// any loop.
func kfpItem(nodes nodeMap, n *node) string {
	var idx []string
	seen := map[string]bool{}
	for id := n.BoundaryID; id != "" && !seen[id]; {
		seen[id] = true
		b, ok := nodes[id]
		if !ok {
			break
		}
		if b.Type == wfv1.NodeTypeDAG {
			if _, item := splitItem(b.DisplayName); item != "" {
				idx = append(idx, item)
			}
		}
		id = b.BoundaryID
	}
	for i, j := 0, len(idx)-1; i < j; i, j = i+1, j-1 {
		idx[i], idx[j] = idx[j], idx[i]
	}
	return strings.Join(idx, ".")
}
