package argo

import (
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/step-metrics/step-metrics/pkg/pipeline"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// Outcomes. Argo has no timeout or cancellation phases: those are Failed
// (or Error) nodes whose message has one of the shapes below, written by the
// controller (argo-workflows v3.7, paths under workflow/), or runs whose
// spec says they were stopped or had a deadline. The classifier matches these
// shapes as a whole (prefix, suffix or equality), never as words inside a
// message, because messages quote node IDs and names, and names are free text
// ("nightly-timeout-report-x7k2p").
const (
	// controller/operator.go: operate (status.message, set only after the
	// exit handler has finished), processNodeRetries (Retry nodes) and
	// failNodesWithoutCreatedPodsAfterDeadlineOrShutdown (suspend and
	// taskset nodes): "Stopped with strategy '%s'".
	msgStoppedPrefix = "Stopped with strategy '"
	// controller/exec_control.go: applyExecutionControl, on a pod it
	// terminates: "workflow shutdown with strategy:  %s" (two spaces);
	// controller/workflowpod.go: createWorkflowPod, on a pod it will not
	// create: "workflow shutdown with strategy: %s".
	msgShutdownPrefix = "workflow shutdown with strategy:"
	// controller/exec_control.go: applyExecutionControl and
	// controller/operator.go: failNodesWithoutCreatedPodsAfterDeadlineOrShutdown
	// (activeDeadlineSeconds of the workflow); executor/executor.go:
	// monitorDeadline writes it as the container's termination message.
	msgStepDeadline = "Step exceeded its deadline"
	// controller/operator.go: processNodeRetries, past the workflow deadline:
	// "retry exceeded workflow deadline %s".
	msgRetryDeadlinePrefix = "retry exceeded workflow deadline "
	// controller/operator.go: processNodeRetries, retryStrategy.backoff.maxDuration.
	msgMaxDuration        = "Max duration limit exceeded"
	msgBackoffMaxDuration = "Backoff would exceed max duration limit"
	// The kubelet's message for a pod past its activeDeadlineSeconds (set from
	// the template's timeout and the workflow deadline), copied by
	// controller/operator.go: inferFailedReason from pod.status.message.
	msgPodDeadline = "Pod was active on the node longer than the specified deadline"
	// controller/operator.go: executeTemplate marks a Pending node past its
	// template timeout with ErrTimeout's text.
	msgTemplateTimeout = "timeout"
	// controller/workflowpod.go: createWorkflowPod: "%s exceeded its deadline"
	// (the node name first).
	msgExceededDeadlineSuffix = " exceeded its deadline"
	// controller/operator.go: processNodeRetries gives up; the cause is the
	// last attempt's.
	msgNoMoreRetries       = "No more retries left"
	msgRetryExprFalse      = "retryStrategy.expression evaluated to false"
	msgTerminatedBySigterm = "terminated" // the emissary's SIGTERM text (controller/dag_test.go keeps a real status with it)
)

var (
	// controller/steps.go: executeStepGroup: "child '%s' failed" (a node
	// ID), copied into the Steps node by executeSteps and so into the root's
	// message.
	childFailedRe = regexp.MustCompile(`^child '([^']+)' failed$`)
	// controller/operator.go: inferFailedReason: "<container>: <reason>
	// (exit code <n>)", then ": <termination message>" if there is one.
	containerExitRe = regexp.MustCompile(`^[A-Za-z0-9._-]+: [^()]* \(exit code (\d+)\)(?:: ((?s).*))?$`)
)

// maxFollow bounds how deep the classifier follows a failure to the node
// that caused it ("child '<id>' failed", a Retry's last attempt, a DAG's
// failed tasks).
const maxFollow = 64

// Result maps an Argo node or workflow phase, and its message, to a Result.
// Timeout and cancellation come from the message's shape (see the msg*
// constants); words inside quotes never count. Result sees one message only:
// FromWorkflow also follows a failure to the step that caused it and reads
// spec.shutdown and activeDeadlineSeconds.
func Result(phase, message string) pipeline.Result {
	r := resultOfPhase(phase)
	if r != pipeline.ResultFailure && r != pipeline.ResultError {
		return r
	}
	if m := messageResult(message); m != pipeline.ResultNone {
		return m
	}
	return r
}

// resultOfPhase is the result of a phase alone.
func resultOfPhase(phase string) pipeline.Result {
	switch wfv1.NodePhase(phase) {
	case wfv1.NodeSucceeded:
		return pipeline.ResultSuccess
	case wfv1.NodeSkipped, wfv1.NodeOmitted:
		return pipeline.ResultSkip
	case wfv1.NodeFailed:
		return pipeline.ResultFailure
	case wfv1.NodeError:
		return pipeline.ResultError
	}
	return pipeline.ResultNone
}

// messageResult is ResultTimeout or ResultCancellation if the message says
// so, else ResultNone.
func messageResult(message string) pipeline.Result {
	m := strings.TrimSpace(message)
	// The cheap tests first: this runs for every failed node.
	if strings.Contains(m, " (exit code ") {
		if sm := containerExitRe.FindStringSubmatch(m); sm != nil {
			// Only the container's own termination message can say more.
			m = strings.TrimSpace(sm[2])
		}
	}
	if m == "" || (strings.HasPrefix(m, "child '") && childFailedRe.MatchString(m)) {
		return pipeline.ResultNone
	}
	switch {
	case strings.HasPrefix(m, msgStoppedPrefix), strings.HasPrefix(m, msgShutdownPrefix):
		return pipeline.ResultCancellation
	case m == msgStepDeadline, m == msgMaxDuration, m == msgBackoffMaxDuration, m == msgPodDeadline,
		m == msgTemplateTimeout, strings.HasPrefix(m, msgRetryDeadlinePrefix), strings.HasSuffix(m, msgExceededDeadlineSuffix):
		return pipeline.ResultTimeout
	}
	return wordResult(m)
}

// wordResult classifies free text the controller does not shape (an HTTP
// template's client error, a plugin's message) by whole words outside
// quotes. A word keeps '-', '_', '.' and '/', so a name such as
// "nightly-timeout-report" is one word, not "timeout".
func wordResult(m string) pipeline.Result {
	words := strings.FieldsFunc(strings.ToLower(stripQuoted(m)), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_./", r)
	})
	for i := range words {
		words[i] = strings.Trim(words[i], "-_./")
	}
	has := func(seq ...string) bool {
		for i := 0; i+len(seq) <= len(words); i++ {
			if slices.Equal(words[i:i+len(seq)], seq) {
				return true
			}
		}
		return false
	}
	switch {
	case has("stopped", "with", "strategy"), has("workflow", "shutdown"):
		return pipeline.ResultCancellation
	case has("timeout"), has("timed", "out"), has("deadline", "exceeded"), has("exceeded", "its", "deadline"):
		return pipeline.ResultTimeout
	}
	return pipeline.ResultNone
}

// stripQuoted replaces every quoted span ('…', "…", `…`) with a space. An
// apostrophe inside a word ("can't") opens no span; an unclosed quote runs to
// the end.
func stripQuoted(s string) string {
	if !strings.ContainsAny(s, "'\"`") {
		return s
	}
	var b strings.Builder
	var open rune
	prev := ' '
	for _, r := range s {
		switch {
		case open != 0:
			if r == open {
				open = 0
				b.WriteByte(' ')
			}
		case r == '"' || r == '`' || (r == '\'' && !unicode.IsLetter(prev) && !unicode.IsDigit(prev)):
			open = r
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

// outcome classifies nodes and the run with what else the status tells while
// the exit handler runs: the nodes that caused a failure, spec.shutdown and
// the workflow deadline.
type outcome struct {
	nodes    nodeMap
	shutdown wfv1.ShutdownStrategy
	// stopped: activeDeadlineSeconds is 0, the old way to terminate
	// (workflow/util/util.go: FormulateResubmitWorkflow: "if it was
	// terminated, unset the deadline").
	stopped  bool
	deadline time.Time // zero if none

	byName   map[string]string   // node name -> ID, built on first use
	boundary map[string][]string // boundary ID -> IDs, built on first use
	memo     map[string]pipeline.Result
}

func newOutcome(wf *wfv1.Workflow, nodes nodeMap) *outcome {
	o := &outcome{nodes: nodes, shutdown: wf.Spec.Shutdown}
	stored := wf.Status.StoredWorkflowSpec
	if o.shutdown == "" && stored != nil {
		o.shutdown = stored.Shutdown
	}
	ads := wf.Spec.ActiveDeadlineSeconds
	if ads == nil && stored != nil {
		ads = stored.ActiveDeadlineSeconds
	}
	if ads != nil {
		if *ads <= 0 {
			o.stopped = true
		} else if !wf.Status.StartedAt.IsZero() {
			// controller/operator.go: getWorkflowDeadline.
			o.deadline = wf.Status.StartedAt.Truncate(time.Second).Add(time.Duration(*ads) * time.Second)
		}
	}
	return o
}

// run is the run's result, from the outcome phase (the root node's, or
// {{workflow.status}}), its message and the root node (nil if none) that
// ended at end.
func (o *outcome) run(phase, message string, root *node, end time.Time) pipeline.Result {
	r := resultOfPhase(phase)
	if r != pipeline.ResultFailure && r != pipeline.ResultError {
		return r
	}
	// controller/operator.go: operate writes "Stopped with strategy" into
	// status.message for exactly this case (a failed or errored root with
	// spec.shutdown set), but only after the exit handler has run.
	if o.shutdown.Enabled() || o.stopped {
		return pipeline.ResultCancellation
	}
	if m := messageResult(message); m != pipeline.ResultNone {
		return m
	}
	if root != nil {
		n := *root
		n.Phase, n.Message = wfv1.NodePhase(phase), message
		if f := o.follow(&n, 0); f == pipeline.ResultTimeout || f == pipeline.ResultCancellation {
			return f
		}
	}
	// Failed at or past activeDeadlineSeconds: the controller killed it.
	if !o.deadline.IsZero() && !end.IsZero() && !end.Before(o.deadline) {
		return pipeline.ResultTimeout
	}
	return r
}

// node is a step's or Retry's result.
func (o *outcome) node(n *node) pipeline.Result { return o.nodeAt(n, 0) }

func (o *outcome) nodeAt(n *node, depth int) pipeline.Result {
	r := resultOfPhase(string(n.Phase))
	if r != pipeline.ResultFailure && r != pipeline.ResultError {
		return r
	}
	if m := messageResult(n.Message); m != pipeline.ResultNone {
		return m
	}
	if n.ID != "" {
		if m, ok := o.memo[n.ID]; ok {
			return m
		}
		if o.memo == nil {
			o.memo = map[string]pipeline.Result{}
		}
		o.memo[n.ID] = r // in progress: a cycle ends here
	}
	res := r
	if f := o.follow(n, depth); f == pipeline.ResultTimeout || f == pipeline.ResultCancellation {
		res = f
	} else if killed(n.Message) {
		// A pod killed by a signal whose message the pod's status rewrote
		// (exec_control.go marks it first, assessNodeStatus then copies the
		// pod's own failure): the stop or the deadline killed it.
		switch {
		case o.shutdown.Enabled() || o.stopped:
			res = pipeline.ResultCancellation
		case !o.deadline.IsZero() && !n.FinishedAt.IsZero() && !n.FinishedAt.Time.Before(o.deadline):
			res = pipeline.ResultTimeout
		}
	}
	if n.ID != "" {
		o.memo[n.ID] = res
	}
	return res
}

// follow classifies the node that made n fail: ResultTimeout or
// ResultCancellation if that node timed out or was stopped, else ResultNone.
func (o *outcome) follow(n *node, depth int) pipeline.Result {
	if depth >= maxFollow {
		return pipeline.ResultNone
	}
	if sm := childFailedRe.FindStringSubmatch(strings.TrimSpace(n.Message)); sm != nil {
		if c, ok := o.lookup(sm[1]); ok && c.ID != n.ID {
			return fine(o.nodeAt(c, depth+1))
		}
		return pipeline.ResultNone
	}
	switch {
	case n.Type == wfv1.NodeTypeRetry && (n.Message == "" || n.Message == msgNoMoreRetries || n.Message == msgRetryExprFalse):
		// processNodeRetries: the last attempt failed the Retry.
		for i := len(n.Children) - 1; i >= 0; i-- {
			if c, ok := o.nodes[n.Children[i]]; ok && c.ID != n.ID && !isHookedNode(c) {
				return fine(o.nodeAt(c, depth+1))
			}
		}
	case n.Message == "" && (n.Type == wfv1.NodeTypeDAG || n.Type == wfv1.NodeTypeTaskGroup || n.Type == wfv1.NodeTypeSteps || n.Type == wfv1.NodeTypeStepGroup):
		// dag.go: executeDAG marks a failed DAG (and a TaskGroup) without a
		// message: the failed tasks of its boundary (or its failed children)
		// decide if they all agree.
		ids := n.Children
		if n.Type == wfv1.NodeTypeDAG && n.ID != "" {
			ids = o.boundaryOf(n.ID)
		}
		agreed := pipeline.ResultNone
		for _, id := range ids {
			c, ok := o.nodes[id]
			if !ok || c.ID == n.ID || isHookedNode(c) || (c.Phase != wfv1.NodeFailed && c.Phase != wfv1.NodeError) {
				continue
			}
			r := fine(o.nodeAt(c, depth+1))
			if r == pipeline.ResultNone || (agreed != pipeline.ResultNone && r != agreed) {
				return pipeline.ResultNone
			}
			agreed = r
		}
		return agreed
	}
	return pipeline.ResultNone
}

// lookup finds a node by ID, else by name.
func (o *outcome) lookup(ref string) (*node, bool) {
	if n, ok := o.nodes[ref]; ok {
		return n, true
	}
	if o.byName == nil {
		o.byName = make(map[string]string, len(o.nodes))
		for id, n := range o.nodes {
			if prev, dup := o.byName[n.Name]; !dup || id < prev {
				o.byName[n.Name] = id
			}
		}
	}
	id, ok := o.byName[ref]
	if !ok {
		return nil, false
	}
	return o.nodes[id], true
}

func (o *outcome) boundaryOf(id string) []string {
	if o.boundary == nil {
		o.boundary = map[string][]string{}
		for cid, n := range o.nodes {
			if n.BoundaryID != "" {
				o.boundary[n.BoundaryID] = append(o.boundary[n.BoundaryID], cid)
			}
		}
		for _, ids := range o.boundary {
			slices.Sort(ids)
		}
	}
	return o.boundary[id]
}

// fine keeps only the finer results.
func fine(r pipeline.Result) pipeline.Result {
	if r == pipeline.ResultTimeout || r == pipeline.ResultCancellation {
		return r
	}
	return pipeline.ResultNone
}

// killed says if a message is that of a container killed by a signal:
// the emissary's "terminated", or inferFailedReason's text for exit code 137
// (SIGKILL) or 143 (SIGTERM) with no termination message.
func killed(message string) bool {
	m := strings.TrimSpace(message)
	if m == msgTerminatedBySigterm {
		return true
	}
	sm := containerExitRe.FindStringSubmatch(m)
	return sm != nil && (sm[1] == "137" || sm[1] == "143") && strings.TrimSpace(sm[2]) == ""
}

func isHookedNode(n *node) bool { return n.NodeFlag != nil && n.NodeFlag.Hooked }

// refineStepResults reclassifies the failed steps and Retry nodes with what
// the whole status tells (see outcome.node).
func refineStepResults(run *pipeline.Run, o *outcome) {
	for i, s := range run.Steps {
		if s.Result == pipeline.ResultFailure || s.Result == pipeline.ResultError {
			if n, ok := o.nodes[s.ID]; ok {
				run.Steps[i].Result = o.node(n)
			}
		}
	}
	for i, r := range run.Retries {
		if r.Result == pipeline.ResultFailure || r.Result == pipeline.ResultError {
			if n, ok := o.nodes[r.ID]; ok {
				run.Retries[i].Result = o.node(n)
			}
		}
	}
}
