package argo

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/pipeline"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// Argo labels that name the pipeline a workflow belongs to, in the order
// they are preferred.
var argoPipelineLabels = []string{
	"workflows.argoproj.io/workflow-template",
	"workflows.argoproj.io/cluster-workflow-template",
	"workflows.argoproj.io/cron-workflow",
}

// Options tune FromWorkflow.
type Options struct {
	// Status, when set, is the pipeline outcome as Argo passes it to an
	// exit handler ({{workflow.status}}: Succeeded, Failed or Error). It
	// wins over the root node's phase.
	Status string
}

// FromWorkflow builds the Run of an Argo Workflow. It never fails: what it
// cannot make sense of becomes a warning in Run.Warnings.
//
// The timing is the exit handler's: while the handler runs, the workflow is
// still Running and has no finishedAt, but the root node (nodes[wf.name]) is
// finished. So the pipeline's outcome is the root node's phase (or
// opts.Status), and its duration is the root node's finishedAt minus
// status.startedAt. Exit handlers and lifecycle hooks (nodeFlag.hooked, and
// their subtrees) are not steps of the pipeline.
func FromWorkflow(wf *wfv1.Workflow, opts Options) *pipeline.Run {
	run := &pipeline.Run{
		Engine:      "argo",
		Namespace:   wf.Namespace,
		Name:        wf.Name,
		UID:         string(wf.UID),
		Pipeline:    argoPipeline(wf),
		Labels:      wf.Labels,
		Annotations: wf.Annotations,
	}
	nodes := wf.Status.Nodes
	root, hasRoot := nodes[wf.Name]
	if !hasRoot {
		for _, n := range nodes {
			if n.Name == wf.Name {
				root, hasRoot = n, true
				break
			}
		}
	}

	if len(nodes) == 0 {
		if wf.Status.OffloadNodeStatusVersion != "" {
			run.StepsUnavailable = true
			run.Warnf("node status is offloaded to Argo's database (offloadNodeStatusVersion %s); read it through Argo Server (--argo-server) to get step metrics; pushing pipeline-level metrics only", wf.Status.OffloadNodeStatusVersion)
		} else if wf.Status.Phase == "" && wf.Status.StartedAt.IsZero() {
			run.Warnf("workflow %s has no status yet (not started?)", wf.Name)
		}
	} else if !hasRoot {
		run.Warnf("root node %s is missing from status.nodes; pipeline outcome and end come from the workflow status", wf.Name)
	}

	// Pipeline start, end and outcome.
	run.Start = wf.Status.StartedAt.Time
	if run.Start.IsZero() && hasRoot {
		run.Start = root.StartedAt.Time
	}
	switch {
	case hasRoot && root.Fulfilled() && !root.FinishedAt.IsZero():
		run.End = root.FinishedAt.Time
		run.Phase = string(root.Phase)
	case wf.Status.Fulfilled() && !wf.Status.FinishedAt.IsZero():
		run.End = wf.Status.FinishedAt.Time
		run.Phase = string(wf.Status.Phase)
	case hasRoot:
		run.Phase = string(root.Phase)
	default:
		run.Phase = string(wf.Status.Phase)
	}
	msg := wf.Status.Message
	if hasRoot && root.Message != "" {
		msg = root.Message
	}
	if opts.Status != "" {
		run.Phase = opts.Status
	}
	run.Result = Result(run.Phase, msg)
	if !run.End.IsZero() && !run.Start.IsZero() {
		var skewed bool
		run.Duration, skewed = pipeline.Span(run.Start, run.End)
		run.Finished = true
		if skewed {
			run.Warnf("pipeline ends (%s) before it starts (%s): clock skew; duration set to 0", run.End.Format(time.RFC3339), run.Start.Format(time.RFC3339))
		}
	} else if run.Result != pipeline.ResultNone && run.Result != pipeline.ResultSkip {
		run.Warnf("pipeline outcome is %s but its start or end time is unknown; no pipeline duration", run.Phase)
	}
	if run.Result == pipeline.ResultNone && opts.Status == "" && len(nodes) > 0 {
		run.Warnf("pipeline is still %s: outcome and duration unknown", engine.OrUnknown(run.Phase))
	}

	run.Steps, run.Retries = argoSteps(run, nodes, wf.Name)
	return run
}

// argoSteps walks the node map and returns the steps and retried steps.
func argoSteps(run *pipeline.Run, nodes wfv1.Nodes, wfName string) ([]pipeline.Step, []pipeline.Retry) {
	if len(nodes) == 0 {
		return nil, nil
	}
	parent := make(map[string]string, len(nodes))
	for id, n := range nodes {
		for _, c := range n.Children {
			if _, ok := parent[c]; !ok && c != id {
				parent[c] = id
			}
		}
	}
	hooked := argoHookedNodes(nodes, wfName)

	steps := make([]pipeline.Step, 0, len(nodes))
	var retries []pipeline.Retry
	unknownTypes := map[string]bool{}
	skewed, noStart := 0, 0
	for id, n := range nodes {
		if hooked[id] {
			continue
		}
		var kind pipeline.Kind
		switch n.Type {
		case wfv1.NodeTypePod, wfv1.NodeTypeContainer, wfv1.NodeTypeHTTP, wfv1.NodeTypePlugin:
			kind = pipeline.KindWork
		case wfv1.NodeTypeSuspend:
			kind = pipeline.KindWait
		case wfv1.NodeTypeSkipped:
			kind = pipeline.KindSkip
		case wfv1.NodeTypeRetry:
			retries = append(retries, pipeline.Retry{
				ID:       id,
				Name:     n.DisplayName,
				Template: argoTemplate(n),
				Attempts: len(n.Children),
				Phase:    string(n.Phase),
				Result:   Result(string(n.Phase), n.Message),
			})
			continue
		case wfv1.NodeTypeSteps, wfv1.NodeTypeStepGroup, wfv1.NodeTypeDAG, wfv1.NodeTypeTaskGroup:
			continue
		default:
			unknownTypes[string(n.Type)] = true
			continue
		}
		s := pipeline.Step{
			ID:       id,
			Name:     n.DisplayName,
			Template: argoTemplate(n),
			Type:     string(n.Type),
			Kind:     kind,
			HostNode: n.HostNodeName,
			Phase:    string(n.Phase),
			Result:   Result(string(n.Phase), n.Message),
			Start:    n.StartedAt.Time,
			End:      n.FinishedAt.Time,
			Attempt:  -1,
		}
		if s.Name == "" {
			s.Name = n.Name
		}
		if p, ok := nodes[parent[id]]; ok && p.Type == wfv1.NodeTypeRetry {
			s.RetryID = p.ID
			if s.RetryID == "" {
				s.RetryID = parent[id]
			}
			if p.DisplayName != "" {
				s.Name = p.DisplayName
			}
			if s.Template == "" {
				s.Template = argoTemplate(p)
			}
			for i, c := range p.Children {
				if c == id {
					s.Attempt = i
					break
				}
			}
		}
		if s.Kind == pipeline.KindSkip || s.Result == pipeline.ResultSkip {
			s.Kind = pipeline.KindSkip
		} else if s.Result != pipeline.ResultNone {
			// A finished step has a duration only if both ends are known.
			if s.Start.IsZero() || s.End.IsZero() {
				noStart++
			} else {
				var sk bool
				s.Duration, sk = pipeline.Span(s.Start, s.End)
				s.Finished = true
				if sk {
					skewed++
				}
			}
		}
		if len(n.ResourcesDuration) > 0 {
			s.Resources = make(map[string]float64, len(n.ResourcesDuration))
			for r, d := range n.ResourcesDuration {
				if d < 0 {
					continue
				}
				s.Resources[string(r)] = float64(d)
			}
		}
		if n.Outputs != nil && len(n.Outputs.Parameters) > 0 {
			s.Outputs = make(map[string]string, len(n.Outputs.Parameters))
			for _, p := range n.Outputs.Parameters {
				if p.Value != nil {
					s.Outputs[p.Name] = p.Value.String()
				}
			}
		}
		steps = append(steps, s)
	}
	if len(unknownTypes) > 0 {
		run.Warnf("ignored nodes of types unknown to this step-metrics (newer Argo?): %s", strings.Join(sortedKeys(unknownTypes), ", "))
	}
	if skewed > 0 {
		run.Warnf("%d step(s) end before they start (clock skew); their duration is set to 0", skewed)
	}
	if noStart > 0 {
		run.Warnf("%d finished step(s) lack startedAt or finishedAt; no duration for them", noStart)
	}
	slices.SortFunc(steps, func(a, b pipeline.Step) int {
		if !a.Start.Equal(b.Start) {
			switch {
			case a.Start.IsZero():
				return 1
			case b.Start.IsZero():
				return -1
			}
			return a.Start.Compare(b.Start)
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	slices.SortFunc(retries, func(a, b pipeline.Retry) int { return strings.Compare(a.ID, b.ID) })
	return steps, retries
}

// argoHookedNodes returns the IDs of exit handlers and lifecycle hooks and
// of every node below them (by children and by boundaryID).
func argoHookedNodes(nodes wfv1.Nodes, wfName string) map[string]bool {
	hooked := map[string]bool{}
	var queue []string
	for id, n := range nodes {
		if isArgoHook(n, wfName) {
			hooked[id] = true
			queue = append(queue, id)
		}
	}
	if len(queue) == 0 {
		return hooked
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, c := range nodes[id].Children {
			if !hooked[c] {
				hooked[c] = true
				queue = append(queue, c)
			}
		}
	}
	// Nodes inside a hook's template boundary, even if not linked as children.
	for changed := true; changed; {
		changed = false
		for id, n := range nodes {
			if !hooked[id] && n.BoundaryID != "" && hooked[n.BoundaryID] {
				hooked[id] = true
				changed = true
			}
		}
	}
	return hooked
}

func isArgoHook(n wfv1.NodeStatus, wfName string) bool {
	if n.NodeFlag != nil && n.NodeFlag.Hooked {
		return true
	}
	// Older Argo versions set no flag on exit handler nodes.
	return n.Name == wfName+".onExit" || strings.HasSuffix(n.Name, ".onExit")
}

func argoTemplate(n wfv1.NodeStatus) string {
	if n.TemplateRef != nil && n.TemplateRef.Name != "" {
		return n.TemplateRef.Name + "/" + n.TemplateRef.Template
	}
	return n.TemplateName
}

func argoPipeline(wf *wfv1.Workflow) string {
	for _, l := range argoPipelineLabels {
		if v := wf.Labels[l]; v != "" {
			return v
		}
	}
	if wf.Spec.WorkflowTemplateRef != nil && wf.Spec.WorkflowTemplateRef.Name != "" {
		return wf.Spec.WorkflowTemplateRef.Name
	}
	return engine.PipelineFromGenerateName(wf.GenerateName, wf.Name)
}

// Result maps an Argo node or workflow phase, and its message, to a Result.
// Argo has no timeout or cancellation phases: those are Failed (or Error)
// with a message saying a deadline was exceeded or the workflow was stopped.
func Result(phase, message string) pipeline.Result {
	switch wfv1.NodePhase(phase) {
	case wfv1.NodeSucceeded:
		return pipeline.ResultSuccess
	case wfv1.NodeSkipped, wfv1.NodeOmitted:
		return pipeline.ResultSkip
	case wfv1.NodeFailed, wfv1.NodeError:
		m := strings.ToLower(message)
		switch {
		case strings.Contains(m, "stopped with strategy"), strings.Contains(m, "workflow shutdown"):
			return pipeline.ResultCancellation
		case strings.Contains(m, "deadline"), strings.Contains(m, "max duration limit exceeded"), strings.Contains(m, "timed out"), strings.Contains(m, "timeout"):
			return pipeline.ResultTimeout
		}
		if wfv1.NodePhase(phase) == wfv1.NodeError {
			return pipeline.ResultError
		}
		return pipeline.ResultFailure
	}
	return pipeline.ResultNone
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// RunFromArguments is the run as far as an exit handler's arguments tell
// it ({{workflow.name}}, namespace, uid, status), for when the Workflow
// itself cannot be read (no permission, API down): pipeline-level outcome
// only, no times, no steps. The pipeline name is the workflow name without
// its generated suffix, a guess the warning states.
func RunFromArguments(name, namespace, uid, status string) *pipeline.Run {
	run := &pipeline.Run{
		Engine:           "argo",
		Namespace:        namespace,
		Name:             name,
		UID:              uid,
		Pipeline:         engine.PipelineFromName(name),
		Phase:            status,
		Result:           Result(status, ""),
		StepsUnavailable: true,
	}
	if run.Pipeline == "" {
		run.Pipeline = name
	}
	run.Warnf("the workflow could not be read: pushing its outcome from the arguments only (pipeline %q guessed from the name; no durations, no steps)", run.Pipeline)
	return run
}
