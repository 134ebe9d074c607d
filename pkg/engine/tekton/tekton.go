package tekton

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// options tune fromObjects.
type options struct {
	// Status, when set, is the pipeline outcome as Tekton passes it to a
	// finally task ($(tasks.status): Succeeded, Failed, Completed or None).
	// None, like an empty Status, means: take it from the TaskRuns. It is
	// not used once the PipelineRun itself is complete.
	Status string
	// SelfTaskRun is the name of the TaskRun reading the run
	// ($(context.taskRun.name)): step-metrics' own finally task, left out
	// of the steps, the outcome and the duration.
	SelfTaskRun string
}

// Tekton's $(tasks.status) values.
const (
	tektonStatusSucceeded = "Succeeded"
	tektonStatusFailed    = "Failed"
	tektonStatusCompleted = "Completed"
	tektonStatusNone      = "None"
)

// StatusResult maps a $(tasks.status) value (Succeeded, Failed,
// Completed, None) to a Result; ok is false for None, empty or unknown
// values, which give no outcome.
func StatusResult(status string) (r pipeline.Result, ok bool) {
	switch status {
	case tektonStatusSucceeded, tektonStatusCompleted:
		return pipeline.ResultSuccess, true
	case tektonStatusFailed:
		return pipeline.ResultFailure, true
	}
	return pipeline.ResultNone, false
}

// Result maps the Succeeded condition of a PipelineRun or TaskRun
// (its status and reason) to a Result: True is success (reasons Succeeded,
// Completed); False is failure for Failed (and FailureIgnored, a task whose
// failure the pipeline ignores), timeout for PipelineRunTimeout and
// TaskRunTimeout, cancellation for Cancelled, PipelineRunCancelled,
// TaskRunCancelled, CancelledRunningFinally and StoppedRunningFinally, and
// error for any other reason (CouldntGetTask, CreateRunFailed,
// InvalidTaskResultReference, TaskRunImagePullFailed...): the run could not
// do its work. Unknown, or no condition, is ResultNone.
func Result(status, reason string) pipeline.Result {
	switch status {
	case "True":
		return pipeline.ResultSuccess
	case "False":
		switch reason {
		case "", "Failed", "FailureIgnored":
			return pipeline.ResultFailure
		case "PipelineRunTimeout", "TaskRunTimeout":
			return pipeline.ResultTimeout
		case "Cancelled", "PipelineRunCancelled", "TaskRunCancelled", "CancelledRunningFinally", "StoppedRunningFinally":
			return pipeline.ResultCancellation
		}
		return pipeline.ResultError
	}
	return pipeline.ResultNone
}

// succeeded returns the Succeeded condition, or nil.
func succeeded(conds []condition) *condition {
	for i := range conds {
		if conds[i].Type == "Succeeded" {
			return &conds[i]
		}
	}
	return nil
}

// done says whether a condition is final.
func (c *condition) done() bool {
	return c != nil && (c.Status == "True" || c.Status == "False")
}

// phase is the condition's reason, or what its status says without one.
func (c *condition) phase() string {
	switch {
	case c == nil:
		return ""
	case c.Reason != "":
		return c.Reason
	case c.Status == "True":
		return "Succeeded"
	case c.Status == "False":
		return "Failed"
	}
	return "Running"
}

// fromObjects builds the Run of a Tekton PipelineRun and its TaskRuns. It
// never fails: what it cannot make sense of becomes a warning in
// Run.Warnings.
//
// The timing is a finally task's: while it runs, the PipelineRun is still
// running (condition Unknown) and has no completionTime, but its other
// tasks are done. So, unless the PipelineRun is complete (then its own
// condition and completionTime decide), the pipeline's outcome is
// opts.Status ($(tasks.status)), or else what the finished non-finally
// TaskRuns say, and it ends when the last non-finally TaskRun completed.
// Every TaskRun is a step, and so is each of its step containers; the
// TaskRun opts.SelfTaskRun names is not.
func fromObjects(tr *objects, opts options) *pipeline.Run {
	pr := &tr.PipelineRun
	run := &pipeline.Run{
		Engine:      "tekton",
		Namespace:   pr.Namespace,
		Name:        pr.Name,
		UID:         string(pr.UID),
		Pipeline:    tektonPipeline(pr),
		Labels:      pr.Labels,
		Annotations: pr.Annotations,
	}
	b := newTektonBuilder(run, tr, opts)
	b.steps()
	b.outcome()
	pipeline.SortSteps(run.Steps)
	assignStages(run)
	sort.Slice(run.Retries, func(i, j int) bool { return run.Retries[i].ID < run.Retries[j].ID })
	for i, w := range run.Warnings {
		// Names come from the input: keep every warning one line.
		run.Warnings[i] = strings.NewReplacer("\n", " ", "\r", " ").Replace(w)
	}
	return run
}

// tektonBuilder holds what fromObjects works out about a run.
type tektonBuilder struct {
	run  *pipeline.Run
	pr   *pipelineRun
	opts options
	spec *pipelineSpec // nil when neither status nor spec has it

	finally map[string]bool   // finally pipeline task names
	taskRef map[string]string // pipeline task -> Task name
	childOf map[string]string // TaskRun name -> pipeline task

	// Over the non-finally TaskRuns (current attempts), for the outcome.
	unfinished []string         // pipeline tasks still running
	failed     []*tektonOutcome // finished, not successfully
	ran        map[string]bool  // pipeline tasks with a TaskRun
	lastEnd    time.Time        // latest completionTime

	missing    []string            // TaskRuns in childReferences not given
	customRuns int                 // children that are not TaskRuns
	skewed     int                 // steps ending before they start
	noTimes    int                 // finished steps without both times
	self       *taskRun            // our own TaskRun, if given
	skipped    map[string]string   // pipeline task -> skip reason
	given      map[string]*taskRun // TaskRuns by name
}

// tektonOutcome is the outcome of a task, or the one derived for the
// pipeline.
type tektonOutcome struct {
	task, reason string
	result       pipeline.Result
	end          time.Time
}

func newTektonBuilder(run *pipeline.Run, tr *objects, opts options) *tektonBuilder {
	pr := &tr.PipelineRun
	b := &tektonBuilder{
		run: run, pr: pr, opts: opts,
		finally: map[string]bool{}, taskRef: map[string]string{}, childOf: map[string]string{},
		ran: map[string]bool{}, skipped: map[string]string{}, given: map[string]*taskRun{},
	}
	b.spec = pr.Status.PipelineSpec
	if b.spec == nil {
		b.spec = pr.Spec.PipelineSpec
	}
	if b.spec != nil {
		for _, t := range b.spec.Tasks {
			if t.TaskRef != nil && t.TaskRef.Name != "" {
				b.taskRef[t.Name] = t.TaskRef.Name
			}
		}
		for _, t := range b.spec.Finally {
			b.finally[t.Name] = true
			if t.TaskRef != nil && t.TaskRef.Name != "" {
				b.taskRef[t.Name] = t.TaskRef.Name
			}
		}
	}
	for name, e := range pr.Status.TaskRuns {
		if e.PipelineTaskName != "" {
			b.childOf[name] = e.PipelineTaskName
		}
	}
	for _, c := range pr.Status.ChildReferences {
		switch c.Kind {
		case "", kindTaskRun:
			if c.PipelineTaskName != "" {
				b.childOf[c.Name] = c.PipelineTaskName
			}
		default:
			b.customRuns++
		}
	}
	b.customRuns += len(pr.Status.Runs)
	for i := range tr.TaskRuns {
		t := &tr.TaskRuns[i]
		if _, dup := b.given[t.Name]; !dup {
			b.given[t.Name] = t
		}
	}
	for _, c := range pr.Status.ChildReferences {
		if (c.Kind == "" || c.Kind == kindTaskRun) && b.given[c.Name] == nil && c.Name != opts.SelfTaskRun {
			b.missing = append(b.missing, c.Name)
		}
	}
	for _, s := range pr.Status.SkippedTasks {
		b.skipped[s.Name] = s.Reason
	}
	return b
}

// pipelineTask returns the pipeline task a TaskRun runs.
func (b *tektonBuilder) pipelineTask(t *taskRun) string {
	if p := b.childOf[t.Name]; p != "" {
		return p
	}
	if p := t.Labels[tektonLabelPipelineTask]; p != "" {
		return p
	}
	return t.Name
}

// template returns the Task a TaskRun runs: its tekton.dev/task label,
// taskRef, the pipeline task's taskRef, or the pipeline task's name (an
// embedded taskSpec). A label equal to the TaskRun's own name is what
// Tekton sets for an embedded taskSpec, so it is not a Task name.
func (b *tektonBuilder) template(t *taskRun, task string) string {
	for _, l := range []string{tektonLabelTask, tektonLabelClusterTask} {
		if v := t.Labels[l]; v != "" && v != t.Name {
			return v
		}
	}
	if t.Spec.TaskRef != nil && t.Spec.TaskRef.Name != "" {
		return t.Spec.TaskRef.Name
	}
	if v := b.taskRef[task]; v != "" {
		return v
	}
	return task
}

// steps turns every TaskRun (each attempt, and each step container) and
// every skipped task into steps.
func (b *tektonBuilder) steps() {
	run := b.run
	names := make([]string, 0, len(b.given))
	for name := range b.given {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := b.given[name]
		if b.opts.SelfTaskRun != "" && name == b.opts.SelfTaskRun {
			b.self = t
			continue
		}
		task := b.pipelineTask(t)
		b.taskRun(t, task, b.template(t, task))
		if b.finally[task] {
			continue
		}
		b.ran[task] = true
		c := succeeded(t.Status.Conditions)
		switch {
		case !c.done():
			b.unfinished = append(b.unfinished, task)
		case c.Status == "False" && c.Reason != "FailureIgnored":
			b.failed = append(b.failed, &tektonOutcome{task: task, reason: c.phase(), result: t.result(), end: t.Status.CompletionTime.Time})
		}
		if c.done() && t.Status.CompletionTime.After(b.lastEnd) {
			b.lastEnd = t.Status.CompletionTime.Time
		}
	}
	skipped := make([]string, 0, len(b.skipped))
	for name := range b.skipped {
		skipped = append(skipped, name)
	}
	sort.Strings(skipped)
	for _, name := range skipped {
		tmpl := b.taskRef[name]
		if tmpl == "" {
			tmpl = name
		}
		run.Steps = append(run.Steps, pipeline.Step{
			ID: b.pr.Name + "/" + name, Name: name, Template: tmpl, Type: kindTaskRun,
			Kind: pipeline.KindSkip, Phase: b.skipped[name], Result: pipeline.ResultSkip, Attempt: -1,
		})
	}
	if b.opts.SelfTaskRun != "" && b.self == nil {
		run.Warnf("TaskRun %s (our own, to leave out) is not among the TaskRuns of PipelineRun %s; nothing left out", b.opts.SelfTaskRun, b.pr.Name)
	}
	if b.customRuns > 0 {
		run.Warnf("ignored %d custom task run(s) (CustomRun/Run children): step-metrics reads TaskRuns only", b.customRuns)
	}
	if len(b.missing) > 0 {
		if len(b.given) == 0 || (len(b.given) == 1 && b.self != nil) {
			run.StepsUnavailable = true
			run.Warnf("no TaskRun of PipelineRun %s in the input (status.childReferences names %d); pushing pipeline-level metrics only (read it with --pipeline-run, or pass the TaskRuns too: kubectl get taskrun -l tekton.dev/pipelineRun=%s)", b.pr.Name, len(b.missing), b.pr.Name)
		} else {
			run.Warnf("%d TaskRun(s) named in status.childReferences are missing from the input (%s); no step metrics for them", len(b.missing), engine.Truncate(strings.Join(b.missing, ", "), 200))
		}
	}
	if b.skewed > 0 {
		run.Warnf("%d step(s) end before they start (clock skew); their duration is set to 0", b.skewed)
	}
	if b.noTimes > 0 {
		run.Warnf("%d finished step(s) lack a start or end time; no duration for them", b.noTimes)
	}
}

// result is the outcome of a TaskRun's current attempt: its condition's,
// except that a TaskRun its PipelineRun cancelled because the pipeline's
// timeout ran out timed out (Tekton counts it so: isCancelledForTimeOut in
// pkg/reconciler/pipelinerun/resources/pipelinerunresolution.go).
func (t *taskRun) result() pipeline.Result {
	c := succeeded(t.Status.Conditions)
	r := c.result()
	if r == pipeline.ResultCancellation && c.Reason == "TaskRunCancelled" && t.Spec.StatusMessage == taskRunCancelledByPipelineTimeoutMsg {
		return pipeline.ResultTimeout
	}
	return r
}

// currentSteps are the step containers of a TaskRun's current attempt.
// Tekton's retryTaskRun (pkg/reconciler/taskrun/taskrun.go) archives the
// status in retriesStatus and clears startTime, completionTime, podName and
// results, but keeps status.steps; the next attempt's pod replaces them only
// once it reports container statuses (setTaskRunStatusBasedOnStepStatus,
// pkg/pod/status.go). So, for a retried TaskRun, steps are the previous
// attempt's, not the current one's, while the current attempt has no pod
// (podName empty) or they equal the last retriesStatus entry's.
func (t *taskRun) currentSteps() []stepState {
	st := &t.Status
	if n := len(st.RetriesStatus); n > 0 && len(st.Steps) > 0 {
		if st.PodName == "" || reflect.DeepEqual(st.Steps, st.RetriesStatus[n-1].Steps) {
			return nil
		}
	}
	return st.Steps
}

// taskRun adds the steps of one TaskRun: one per attempt (earlier ones from
// retriesStatus), each followed by its step containers, and a Retry if it
// was retried.
func (b *tektonBuilder) taskRun(t *taskRun, task, tmpl string) {
	attempts := make([]*taskRunStatus, 0, len(t.Status.RetriesStatus)+1)
	for i := range t.Status.RetriesStatus {
		attempts = append(attempts, &t.Status.RetriesStatus[i])
	}
	attempts = append(attempts, &t.Status)
	retried := len(attempts) > 1
	for i, st := range attempts {
		s := pipeline.Step{ID: t.Name, Name: task, Template: tmpl, Type: kindTaskRun, Kind: pipeline.KindWork, Attempt: -1}
		if retried {
			// Each attempt is its own step with its own ID (dashboards
			// reduce series per node_id), under the TaskRun as Retry.
			s.ID = fmt.Sprintf("%s/attempt-%d", t.Name, i)
			s.Attempt = i
			s.RetryID = t.Name
		}
		c := succeeded(st.Conditions)
		s.Phase = c.phase()
		s.Result = c.result()
		containers := st.Steps
		if st == &t.Status {
			s.Result = t.result()
			containers = t.currentSteps()
		}
		s.Start = st.StartTime.Time
		if c.done() {
			s.End = st.CompletionTime.Time
		}
		b.finish(&s)
		s.Outputs = tektonOutputs(st)
		b.run.Steps = append(b.run.Steps, s)
		for _, ss := range containers {
			cs := b.container(s, ss, c.done())
			if s.Result == pipeline.ResultTimeout && cs.Result == pipeline.ResultCancellation {
				// Killed by the timeout that cancelled the TaskRun.
				cs.Result = pipeline.ResultTimeout
			}
			b.run.Steps = append(b.run.Steps, cs)
		}
	}
	if retried {
		c := succeeded(t.Status.Conditions)
		b.run.Retries = append(b.run.Retries, pipeline.Retry{
			ID: t.Name, Name: task, Template: tmpl, Attempts: len(attempts),
			Phase: c.phase(), Result: t.result(),
		})
	}
}

// result maps the condition to a Result; no condition is ResultNone.
func (c *condition) result() pipeline.Result {
	if c == nil {
		return pipeline.ResultNone
	}
	return Result(c.Status, c.Reason)
}

// container is the step of one step container of a TaskRun attempt.
func (b *tektonBuilder) container(attempt pipeline.Step, ss stepState, taskDone bool) pipeline.Step {
	name := ss.Name
	if name == "" {
		name = strings.TrimPrefix(ss.Container, "step-")
	}
	cname := ss.Container
	if cname == "" {
		cname = "step-" + name
	}
	s := pipeline.Step{
		ID: attempt.ID + "/" + cname, Name: attempt.Name + "/" + name, Template: attempt.Template,
		Type: "Step", Kind: pipeline.KindWork, Attempt: attempt.Attempt, RetryID: attempt.RetryID, Parent: attempt.ID,
	}
	switch {
	case ss.Terminated != nil:
		s.Start, s.End = ss.Terminated.StartedAt.Time, ss.Terminated.FinishedAt.Time
		s.Phase, s.Result = stepOutcome(ss)
		if s.Result == pipeline.ResultSkip {
			s.Kind = pipeline.KindSkip
		}
	case ss.Running != nil:
		s.Start = ss.Running.StartedAt.Time
		s.Phase = "Running"
	case taskDone:
		// The TaskRun ended and this container never ran.
		s.Kind, s.Result, s.Phase = pipeline.KindSkip, pipeline.ResultSkip, "NotRun"
		if ss.Waiting != nil && ss.Waiting.Reason != "" {
			s.Phase = ss.Waiting.Reason
		}
	default:
		s.Phase = "Waiting"
		if ss.Waiting != nil && ss.Waiting.Reason != "" {
			s.Phase = ss.Waiting.Reason
		}
	}
	b.finish(&s)
	return s
}

// stepOutcome maps a terminated step container to its phase and result:
// Tekton's terminationReason first (Skipped, TimeoutExceeded, Cancelled),
// then the kubelet's reason and the exit code.
func stepOutcome(ss stepState) (string, pipeline.Result) {
	reason := ss.TerminationReason
	if reason == "" {
		reason = ss.Terminated.Reason
	}
	switch reason {
	case "Skipped":
		return reason, pipeline.ResultSkip
	case "TimeoutExceeded", "TaskRunTimeout", "PipelineRunTimeout":
		return reason, pipeline.ResultTimeout
	case "Cancelled", "TaskRunCancelled", "PipelineRunCancelled":
		return reason, pipeline.ResultCancellation
	}
	if ss.Terminated.ExitCode != 0 {
		if reason == "" {
			reason = "Error"
		}
		return reason, pipeline.ResultFailure
	}
	if reason == "" {
		reason = "Completed"
	}
	return reason, pipeline.ResultSuccess
}

// finish sets a finished step's duration, as FromArgo does: skips have
// none, and a step needs both times.
func (b *tektonBuilder) finish(s *pipeline.Step) {
	if s.Kind == pipeline.KindSkip || s.Result == pipeline.ResultSkip {
		s.Kind = pipeline.KindSkip
		return
	}
	if s.Result == pipeline.ResultNone {
		s.End = time.Time{}
		return
	}
	if s.Start.IsZero() || s.End.IsZero() {
		b.noTimes++
		return
	}
	var sk bool
	s.Duration, sk = pipeline.Span(s.Start, s.End)
	s.Finished = true
	if sk {
		b.skewed++
	}
}

// tektonOutputs are an attempt's task results: strings as they are, arrays
// and objects as compact JSON.
func tektonOutputs(st *taskRunStatus) map[string]string {
	n := len(st.Results) + len(st.TaskResults)
	if n == 0 {
		return nil
	}
	out := make(map[string]string, n)
	for _, list := range [][]taskRunResult{st.TaskResults, st.Results} {
		for _, r := range list {
			v := bytes.TrimSpace(r.Value)
			if r.Name == "" || len(v) == 0 || string(v) == "null" {
				continue
			}
			if v[0] == '"' {
				var s string
				if json.Unmarshal(v, &s) == nil {
					out[r.Name] = s
				}
				continue
			}
			var buf bytes.Buffer
			if json.Compact(&buf, v) == nil {
				out[r.Name] = buf.String()
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// outcome sets the pipeline's start, end, phase and result.
func (b *tektonBuilder) outcome() {
	run, pr := b.run, b.pr
	cond := succeeded(pr.Status.Conditions)
	run.Start = pr.Status.StartTime.Time
	if run.Start.IsZero() {
		for _, s := range run.Steps {
			if s.Type == kindTaskRun && !s.Start.IsZero() && (run.Start.IsZero() || s.Start.Before(run.Start)) {
				run.Start = s.Start
			}
		}
	}
	if cond == nil && run.Start.IsZero() && len(b.given) == 0 {
		run.Warnf("pipeline run %s has no status yet (not started?)", pr.Name)
	}
	statusResult, statusGiven := StatusResult(b.opts.Status)
	if b.opts.Status != "" && b.opts.Status != tektonStatusNone && !statusGiven {
		run.Warnf("status %q is not a $(tasks.status) value (Succeeded, Failed, Completed, None); ignored", b.opts.Status)
	}
	derived, why := b.derive(cond)
	switch {
	case cond.done():
		// Complete: the PipelineRun's own word.
		run.Phase = cond.phase()
		run.Result = cond.result()
		run.End = pr.Status.CompletionTime.Time
	case statusGiven:
		run.Phase = b.opts.Status
		run.Result = statusResult
		// Failed says every DAG task is done and one failed (Tekton's
		// GetPipelineTaskStatus); the earliest failed TaskRun says whether
		// it timed out, was cancelled or could not run (as Argo's messages
		// do). $(tasks.status) itself says all are done, so neither a
		// pipelineSpec nor --task-run is needed; the TaskRuns still running
		// are finally tasks.
		if run.Result == pipeline.ResultFailure && !b.run.StepsUnavailable && len(b.missing) == 0 {
			if f := b.earliestFailure(); f != nil && f.result != pipeline.ResultSuccess && f.result != pipeline.ResultNone {
				run.Result = f.result
			}
		}
		run.End = b.lastEnd
	case cond != nil && (cond.Reason == "CancelledRunningFinally" || cond.Reason == "StoppedRunningFinally"):
		run.Phase = cond.Reason
		run.Result = pipeline.ResultCancellation
		run.End = b.lastEnd
	case derived != nil:
		run.Phase = derived.reason
		run.Result = derived.result
		run.End = b.lastEnd
	default:
		run.Phase = cond.phase()
		if cond != nil || len(b.given) > 0 {
			run.Warnf("pipeline is still %s: %s; outcome and duration unknown", engine.OrUnknown(run.Phase), why)
		}
	}
	if run.Result == pipeline.ResultNone {
		run.End = time.Time{}
		return
	}
	if !run.End.IsZero() && !run.Start.IsZero() {
		var skewed bool
		run.Duration, skewed = pipeline.Span(run.Start, run.End)
		run.Finished = true
		if skewed {
			run.Warnf("pipeline ends (%s) before it starts (%s): clock skew; duration set to 0", run.End.Format(time.RFC3339), run.Start.Format(time.RFC3339))
		}
	} else if run.Result != pipeline.ResultSkip {
		run.End = time.Time{}
		run.Warnf("pipeline outcome is %s but its start or end time is unknown; no pipeline duration", run.Phase)
	}
}

// derive works out the outcome of an unfinished PipelineRun from its
// non-finally TaskRuns, if they are all done: the earliest failure decides
// (by its reason), else success (Completed when tasks were skipped). It
// returns nil, and why, when they are not all known to be done.
func (b *tektonBuilder) derive(cond *condition) (*tektonOutcome, string) {
	if cond.done() {
		return nil, ""
	}
	switch {
	case b.run.StepsUnavailable || len(b.missing) > 0:
		return nil, "some of its TaskRuns are missing from the input"
	case len(b.unfinished) > 0:
		sort.Strings(b.unfinished)
		return nil, fmt.Sprintf("task(s) %s not finished", engine.Truncate(strings.Join(b.unfinished, ", "), 200))
	}
	if b.spec != nil {
		var pending []string
		for _, t := range b.spec.Tasks {
			if _, skip := b.skipped[t.Name]; !skip && !b.ran[t.Name] {
				pending = append(pending, t.Name)
			}
		}
		if len(pending) > 0 {
			return nil, fmt.Sprintf("task(s) %s not started", engine.Truncate(strings.Join(pending, ", "), 200))
		}
	} else if b.opts.SelfTaskRun == "" {
		// Without the pipeline's spec, only a finally task (us) knows that
		// no task is still to come.
		return nil, "its status has no pipelineSpec to tell whether every task has run (pass $(tasks.status) with --status, or our own TaskRun with --task-run)"
	}
	if f := b.earliestFailure(); f != nil {
		return f, ""
	}
	reason := tektonStatusSucceeded
	for name := range b.skipped {
		if !b.finally[name] {
			reason = tektonStatusCompleted
		}
	}
	return &tektonOutcome{reason: reason, result: pipeline.ResultSuccess}, ""
}

// earliestFailure is the failed non-finally TaskRun that ended first (by
// task name on a tie; unknown ends last), or nil.
func (b *tektonBuilder) earliestFailure() *tektonOutcome {
	if len(b.failed) == 0 {
		return nil
	}
	sort.SliceStable(b.failed, func(i, j int) bool {
		a, c := b.failed[i], b.failed[j]
		if !a.end.Equal(c.end) {
			if a.end.IsZero() || c.end.IsZero() {
				return c.end.IsZero()
			}
			return a.end.Before(c.end)
		}
		return a.task < c.task
	})
	return b.failed[0]
}

// tektonPipeline is the pipeline's stable name: the tekton.dev/pipeline
// label (unless it is the run's own name, which Tekton sets for an
// embedded pipelineSpec), spec.pipelineRef.name, the generateName stem, or
// the name.
func tektonPipeline(pr *pipelineRun) string {
	if v := pr.Labels[tektonLabelPipeline]; v != "" && v != pr.Name {
		return v
	}
	if pr.Spec.PipelineRef != nil && pr.Spec.PipelineRef.Name != "" {
		return pr.Spec.PipelineRef.Name
	}
	return engine.PipelineFromGenerateName(pr.GenerateName, pr.Name)
}

// RunFromArguments is the run as far as a finally task's arguments
// tell it ($(context.pipelineRun.name), namespace, uid, $(tasks.status)),
// for when the PipelineRun itself cannot be read (no permission, API down):
// pipeline-level outcome only, no times, no steps. The pipeline name is the
// run's name without its generated suffix, a guess the warning states.
func RunFromArguments(name, namespace, uid, status string) *pipeline.Run {
	r, _ := StatusResult(status)
	run := &pipeline.Run{
		Engine:           "tekton",
		Namespace:        namespace,
		Name:             name,
		UID:              uid,
		Pipeline:         engine.PipelineFromName(name),
		Phase:            status,
		Result:           r,
		StepsUnavailable: true,
	}
	if status == tektonStatusNone {
		run.Phase = ""
	}
	if run.Pipeline == "" {
		run.Pipeline = name
	}
	run.Warnf("the pipeline run could not be read: pushing its outcome from the arguments only (pipeline %q guessed from the name; no durations, no steps)", run.Pipeline)
	return run
}
