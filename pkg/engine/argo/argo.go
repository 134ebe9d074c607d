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
	return fromWorkflow(wf, nodesOf(wf.Status.Nodes), opts)
}

// fromWorkflow is FromWorkflow with the node map in the walk's type (the
// decoder's), wf.Status.Nodes unread.
func fromWorkflow(wf *wfv1.Workflow, nodes nodeMap, opts Options) *pipeline.Run {
	run := &pipeline.Run{
		Engine:      "argo",
		Namespace:   wf.Namespace,
		Name:        wf.Name,
		UID:         string(wf.UID),
		Pipeline:    argoPipeline(wf),
		Labels:      wf.Labels,
		Annotations: wf.Annotations,
	}
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
	// The outcome: outcome.go (timeouts and stops, from the message's shape,
	// the step that failed the run, spec.shutdown and the deadline).
	outcomes := newOutcome(wf, nodes)
	var rootNode *node
	if hasRoot {
		rootNode = root
	}
	run.Result = outcomes.run(run.Phase, msg, rootNode, run.End)
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
	refineStepResults(run, outcomes)
	assignStages(run, nodes)
	applyKFP(run, wf, nodes)
	return run
}

// argoSteps walks the node map and returns the steps and retried steps.
func argoSteps(run *pipeline.Run, nodes nodeMap, wfName string) ([]pipeline.Step, []pipeline.Retry) {
	if len(nodes) == 0 {
		return nil, nil
	}
	argoHookedNodes(nodes, wfName) // marks node.walk
	// A Retry node's children are its attempts and, when the retried step
	// has hooks, the hook nodes: runOnExitNode and executeTmplLifeCycleHook
	// add "<step>.onExit" and "<step>.hooks.<event>" as children of the
	// Retry node. The controller counts as attempts only the children
	// flagged retried (getChildNodeIdsRetried); older versions set no
	// flags, so an attempt here is any child that is not a hook.
	type attempt struct {
		retry string
		n     int
	}
	attemptOf := map[string]attempt{}
	attempts := map[string]int{}
	work := 0 // the nodes that become steps, for the slice's capacity
	for id, n := range nodes {
		switch n.Type {
		case wfv1.NodeTypePod, wfv1.NodeTypeContainer, wfv1.NodeTypeHTTP, wfv1.NodeTypePlugin, wfv1.NodeTypeSuspend, wfv1.NodeTypeSkipped:
			work++
		}
		if n.Type != wfv1.NodeTypeRetry || n.walk == walkInHook {
			continue
		}
		i := 0
		for _, c := range n.Children {
			if cn, ok := nodes[c]; ok && (cn.walk == walkInHook || isArgoHook(cn, wfName)) {
				continue
			}
			if _, dup := attemptOf[c]; !dup && c != id {
				attemptOf[c] = attempt{id, i}
			}
			i++
		}
		attempts[id] = i
	}

	steps := make([]pipeline.Step, 0, work)
	var retries []pipeline.Retry
	unknownTypes := map[string]bool{}
	skewed, noStart := 0, 0
	for id, n := range nodes {
		if n.walk == walkInHook {
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
				Attempts: attempts[id],
				Phase:    string(n.Phase),
				Result:   Result(string(n.Phase), n.Message),
			})
			if argoDaemonDone(run, nodes, n) {
				// As for its daemon attempt, below.
				retries[len(retries)-1].Result = pipeline.ResultSuccess
			}
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
		if a, ok := attemptOf[id]; ok {
			p := nodes[a.retry]
			s.RetryID = a.retry
			s.Attempt = a.n
			if p.DisplayName != "" {
				s.Name = p.DisplayName
			}
			if s.Template == "" {
				s.Template = argoTemplate(p)
			}
		}
		if argoDaemonDone(run, nodes, n) {
			// A daemon step (template daemon: true) is Running and
			// daemoned once its pod runs and is ready; Fulfilled() is then
			// true to the controller, which sets finishedAt
			// (assessNodeStatus). When the step's scope (its boundary
			// node) ends, the controller kills it: killDaemonedChildren
			// sets Succeeded in v3.7.12, keeping that finishedAt; older
			// controllers leave it Running. A daemon that got there
			// never failed (a failed pod clears daemoned), so once its
			// scope or the run is over it is a success, finished at
			// finishedAt; its raw Phase stays Running.
			s.Result = pipeline.ResultSuccess
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
		// Only pods carry their own usage. The controller gives every
		// other finished node, Container and Suspend included, the sum of
		// the pods below it by children (UpdateResourceDurations in
		// util/resource/updater.go: "pods ... are the only node that
		// should contribute"), and those children can be the next tasks.
		// A container set's usage is on its pod node, none on its
		// Container nodes.
		if n.Type == wfv1.NodeTypePod && len(n.Resources) > 0 {
			s.Resources = make(map[string]float64, len(n.Resources))
			for _, r := range n.Resources {
				if r.Seconds < 0 {
					continue
				}
				s.Resources[r.Name] = float64(r.Seconds)
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
	// Sorted by index, then moved once: a Step is 288 bytes, too big to
	// swap and copy into every comparison.
	order := make([]int32, len(steps))
	for i := range order {
		order[i] = int32(i) //nolint:gosec // G115: fewer steps than nodes, and a node costs hundreds of bytes
	}
	slices.SortFunc(order, func(i, j int32) int {
		a, b := &steps[i], &steps[j]
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
	permute(steps, order)
	slices.SortFunc(retries, func(a, b pipeline.Retry) int { return strings.Compare(a.ID, b.ID) })
	return steps, retries
}

// argoHookedNodes marks (node.walk) the exit handlers and lifecycle hooks
// and the nodes inside them, and returns how many there are. A node is inside a hook when its boundaryID
// chain reaches a hook node, as the controller itself decides what is part
// of an exit handler (NodeStatus.IsPartOfExitHandler): a hook template's
// nodes have the hook node (or a node inside it) as boundaryID.
//
// Children are not followed: the controller links the step after a
// retried step under the Retry node's last child (getOutboundNodes in
// operator.go), which is the step's ".onExit" hook when it has one, so the
// rest of the pipeline can be "below" a hook by children while its
// boundaryID is the pipeline's template. The one child taken is a hook's
// own attempt: a hook template with a retryStrategy makes the hook node a
// Retry node whose attempts ("<hook>(N)") get the hook's boundaryID, not
// the hook node; v3.7.12 flags them hooked, older versions by name only.
//
// Each node's answer is memoized along its boundaryID chain, so the walk
// is linear in the number of nodes.
func argoHookedNodes(nodes nodeMap, wfName string) int {
	for _, n := range nodes {
		n.walk = walkUnknown
	}
	for _, n := range nodes {
		if !isArgoHook(n, wfName) {
			continue
		}
		n.walk = walkInHook
		if n.Type == wfv1.NodeTypeRetry {
			for _, c := range n.Children {
				if cn, ok := nodes[c]; ok && strings.HasPrefix(cn.Name, n.Name+"(") {
					cn.walk = walkInHook
				}
			}
		}
	}
	var path []*node
	for _, start := range nodes {
		path = path[:0]
		cur, result := start, walkOutside
		for {
			if st := cur.walk; st == walkInHook || st == walkOutside {
				result = st
				break
			} else if st == walkVisiting {
				break // a boundaryID cycle: outside any hook
			}
			cur.walk = walkVisiting
			path = append(path, cur)
			next, ok := nodes[cur.BoundaryID]
			if cur.BoundaryID == "" || !ok {
				break
			}
			cur = next
		}
		for _, p := range path {
			p.walk = result
		}
	}
	hooked := 0
	for _, n := range nodes {
		if n.walk == walkInHook {
			hooked++
		}
	}
	return hooked
}

// argoDaemonDone says whether n is a daemon step whose scope is over: a
// daemoned node still Running, with a finishedAt, whose boundary node (its
// steps or DAG template) has completed, or in a run that has finished. See
// the comment at its use in argoSteps.
func argoDaemonDone(run *pipeline.Run, nodes nodeMap, n *node) bool {
	if !n.IsDaemoned() || n.Phase != wfv1.NodeRunning || n.FinishedAt.IsZero() {
		return false
	}
	if run.Result != pipeline.ResultNone {
		return true
	}
	b, ok := nodes[n.BoundaryID]
	return ok && n.BoundaryID != "" && b.Phase.Completed()
}

func isArgoHook(n *node, wfName string) bool {
	if n.NodeFlag != nil && n.NodeFlag.Hooked {
		return true
	}
	// Older Argo versions set no flag on exit handler nodes.
	return n.Name == wfName+".onExit" || strings.HasSuffix(n.Name, ".onExit")
}

func argoTemplate(n *node) string {
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

// permute puts steps in the given order in place: order[k] is the index
// of the step that goes k-th. It follows each cycle once (order is used up).
func permute(steps []pipeline.Step, order []int32) {
	for i := range order {
		if order[i] < 0 {
			continue
		}
		tmp := steps[i]
		for j := i; ; {
			k := int(order[j])
			order[j] = -1
			if k == i {
				steps[j] = tmp
				break
			}
			steps[j] = steps[k]
			j = k
		}
	}
}
