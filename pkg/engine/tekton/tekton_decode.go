package tekton

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/pipeline"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Tekton labels step-metrics reads.
const (
	tektonLabelPipeline     = "tekton.dev/pipeline"
	tektonLabelPipelineRun  = "tekton.dev/pipelineRun"
	tektonLabelPipelineTask = "tekton.dev/pipelineTask"
	tektonLabelTask         = "tekton.dev/task"
	tektonLabelClusterTask  = "tekton.dev/clusterTask"
)

// objects is a Tekton PipelineRun with the TaskRuns that belong to it, as
// decode reads them. It holds the subset of Tekton's types that
// step-metrics uses (see the package documentation for why these are local
// types rather than tektoncd/pipeline's).
type objects struct {
	// PipelineRun is the run.
	PipelineRun pipelineRun
	// TaskRuns are its TaskRuns: the objects given besides the PipelineRun
	// that belong to it (by status.childReferences or the
	// tekton.dev/pipelineRun label), then v1beta1's embedded
	// status.taskRuns that were not given as objects, sorted by name.
	TaskRuns []taskRun
}

// pipelineRun is the subset of a Tekton PipelineRun (tekton.dev/v1 or
// v1beta1) that step-metrics reads.
type pipelineRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec names the pipeline.
	Spec pipelineRunSpec `json:"spec"`
	// Status is the run's status.
	Status pipelineRunStatus `json:"status"`
}

// pipelineRunSpec is the subset of a PipelineRun's spec step-metrics reads.
type pipelineRunSpec struct {
	// PipelineRef names the Pipeline run, if it is not embedded.
	PipelineRef *ref `json:"pipelineRef,omitempty"`
	// PipelineSpec is an embedded Pipeline.
	PipelineSpec *pipelineSpec `json:"pipelineSpec,omitempty"`
}

// ref is a pipelineRef or taskRef (bundles and resolvers are not
// read: they have no name to use).
type ref struct {
	// Name of the Pipeline or Task.
	Name string `json:"name,omitempty"`
	// Kind is Task, ClusterTask, Pipeline or a custom task's kind.
	Kind string `json:"kind,omitempty"`
}

// pipelineSpec is the subset of a Pipeline's spec step-metrics reads: which
// tasks exist and which of them are finally tasks.
type pipelineSpec struct {
	// Tasks are the pipeline's tasks.
	Tasks []pipelineTask `json:"tasks,omitempty"`
	// Finally are the tasks that run after all others.
	Finally []pipelineTask `json:"finally,omitempty"`
}

// pipelineTask is one task of a Pipeline.
type pipelineTask struct {
	// Name is the pipeline task's name, unique in the pipeline.
	Name string `json:"name"`
	// TaskRef names the Task it runs, unless the task is embedded.
	TaskRef *ref `json:"taskRef,omitempty"`
}

// condition is a knative condition; step-metrics reads the one of
// type Succeeded.
type condition struct {
	// Type is the condition's type ("Succeeded").
	Type string `json:"type"`
	// Status is "True", "False" or "Unknown".
	Status string `json:"status"`
	// Reason is a CamelCase reason (Succeeded, Failed, TaskRunTimeout...).
	Reason string `json:"reason,omitempty"`
	// Message is a human-readable explanation.
	Message string `json:"message,omitempty"`
}

// pipelineRunStatus is the subset of a PipelineRun's status step-metrics reads.
type pipelineRunStatus struct {
	// Conditions hold the Succeeded condition.
	Conditions []condition `json:"conditions,omitempty"`
	// StartTime and CompletionTime of the run; CompletionTime is unset
	// while it runs, finally tasks included.
	StartTime      tkTime `json:"startTime,omitempty"`
	CompletionTime tkTime `json:"completionTime,omitempty"`
	// ChildReferences name the run's TaskRuns and CustomRuns (v1, and
	// v1beta1 with the minimal embedded status).
	ChildReferences []childReference `json:"childReferences,omitempty"`
	// SkippedTasks are the pipeline tasks that did not run, with why.
	SkippedTasks []skippedTask `json:"skippedTasks,omitempty"`
	// PipelineSpec is the resolved Pipeline, as the controller stores it.
	PipelineSpec *pipelineSpec `json:"pipelineSpec,omitempty"`
	// TaskRuns is v1beta1's full embedded status: TaskRun statuses by
	// TaskRun name.
	TaskRuns map[string]embeddedTaskRunStatus `json:"taskRuns,omitempty"`
	// Runs is v1beta1's embedded status of custom task runs (not read;
	// counted in a warning).
	Runs map[string]json.RawMessage `json:"runs,omitempty"`
}

// childReference names one child of a PipelineRun.
type childReference struct {
	// APIVersion and Kind of the child: TaskRun, CustomRun or Run.
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	// Name of the child object.
	Name string `json:"name"`
	// PipelineTaskName is the pipeline task it runs.
	PipelineTaskName string `json:"pipelineTaskName,omitempty"`
}

// skippedTask is a pipeline task that was not run.
type skippedTask struct {
	// Name is the pipeline task's name.
	Name string `json:"name"`
	// Reason says why (When Expressions evaluated to false, Parent Tasks
	// were skipped, ...).
	Reason string `json:"reason,omitempty"`
}

// embeddedTaskRunStatus is one entry of v1beta1's status.taskRuns.
type embeddedTaskRunStatus struct {
	// PipelineTaskName is the pipeline task the TaskRun runs.
	PipelineTaskName string `json:"pipelineTaskName,omitempty"`
	// Status is the TaskRun's status.
	Status *taskRunStatus `json:"status,omitempty"`
}

// taskRun is the subset of a Tekton taskRun (tekton.dev/v1 or v1beta1)
// that step-metrics reads.
type taskRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec names the Task.
	Spec taskRunSpec `json:"spec"`
	// Status is the TaskRun's status (its current attempt).
	Status taskRunStatus `json:"status"`
}

// taskRunSpec is the subset of a TaskRun's spec step-metrics reads.
type taskRunSpec struct {
	// TaskRef names the Task run, unless it is embedded.
	TaskRef *ref `json:"taskRef,omitempty"`
	// StatusMessage says why the TaskRun was cancelled, when its
	// PipelineRun cancelled it (Tekton's TaskRunCancelledByPipelineMsg,
	// TaskRunCancelledByPipelineTimeoutMsg).
	StatusMessage string `json:"statusMessage,omitempty"`
}

// The spec.statusMessage the PipelineRun controller sets on the TaskRuns it
// cancels because the pipeline's timeout ran out
// (v1.TaskRunCancelledByPipelineTimeoutMsg; timeoutPipelineTasksForTaskNames
// in pkg/reconciler/pipelinerun/timeout.go).
const taskRunCancelledByPipelineTimeoutMsg = "TaskRun cancelled as the PipelineRun it belongs to has timed out."

// taskRunStatus is the status of one attempt of a TaskRun.
type taskRunStatus struct {
	// Conditions hold the Succeeded condition.
	Conditions []condition `json:"conditions,omitempty"`
	// PodName is the attempt's pod.
	PodName string `json:"podName,omitempty"`
	// StartTime and CompletionTime of the attempt.
	StartTime      tkTime `json:"startTime,omitempty"`
	CompletionTime tkTime `json:"completionTime,omitempty"`
	// Steps are the states of the Task's step containers.
	Steps []stepState `json:"steps,omitempty"`
	// Results are the task's results (v1).
	Results []taskRunResult `json:"results,omitempty"`
	// TaskResults are the task's results (v1beta1's name for Results).
	TaskResults []taskRunResult `json:"taskResults,omitempty"`
	// RetriesStatus are the statuses of the earlier attempts, oldest first.
	RetriesStatus []taskRunStatus `json:"retriesStatus,omitempty"`
}

// stepState is the state of one step container of a TaskRun.
type stepState struct {
	// Name is the step's name; Container is its container's ("step-" + Name).
	Name      string `json:"name,omitempty"`
	Container string `json:"container,omitempty"`
	// TerminationReason is Tekton's own reason: Completed, Continued,
	// Skipped, TimeoutExceeded, Cancelled.
	TerminationReason string `json:"terminationReason,omitempty"`
	// Waiting, Running and Terminated are the container's state; at most
	// one is set.
	Waiting    *stepWaiting    `json:"waiting,omitempty"`
	Running    *stepRunning    `json:"running,omitempty"`
	Terminated *stepTerminated `json:"terminated,omitempty"`
}

// stepWaiting is a step container that has not started.
type stepWaiting struct {
	// Reason is the kubelet's (PodInitializing, ImagePullBackOff...).
	Reason string `json:"reason,omitempty"`
}

// stepRunning is a running step container.
type stepRunning struct {
	// StartedAt is when it started.
	StartedAt tkTime `json:"startedAt,omitempty"`
}

// stepTerminated is a finished step container.
type stepTerminated struct {
	// ExitCode is the step's exit code (Tekton records the real one even
	// for onError: continue).
	ExitCode int32 `json:"exitCode"`
	// ContainerID tells one container run from another (a retry's pod
	// has new containers).
	ContainerID string `json:"containerID,omitempty"`
	// Reason is the kubelet's (Completed, Error, OOMKilled) or Tekton's
	// (TaskRunTimeout, TaskRunCancelled) reason.
	Reason string `json:"reason,omitempty"`
	// StartedAt and FinishedAt bound the step's run.
	StartedAt  tkTime `json:"startedAt,omitempty"`
	FinishedAt tkTime `json:"finishedAt,omitempty"`
}

// taskRunResult is one result of a task: a string, an array or an object.
type taskRunResult struct {
	// Name of the result.
	Name string `json:"name"`
	// Type is string, array or object.
	Type string `json:"type,omitempty"`
	// Value is the raw JSON value.
	Value json.RawMessage `json:"value,omitempty"`
}

// tektonDoc is what decode looks at first in every document.
type tektonDoc struct {
	APIVersion string                     `json:"apiVersion"`
	Kind       string                     `json:"kind"`
	Metadata   json.RawMessage            `json:"metadata"`
	Items      []json.RawMessage          `json:"items"`
	Spec       map[string]json.RawMessage `json:"spec"`
	Status     map[string]json.RawMessage `json:"status"`
}

const (
	kindPipelineRun = "PipelineRun"
	kindTaskRun     = "TaskRun"
)

// tektonKind classifies a document: PipelineRun, TaskRun, a list kind, or
// another kind. A document without kind (some tools print only metadata,
// spec and status) is recognised by fields only a PipelineRun or a TaskRun
// has; inside a PipelineRunList or TaskRunList, it is the list's item kind.
func (d *tektonDoc) tektonKind(itemKind string) string {
	if d.Kind != "" {
		return d.Kind
	}
	if itemKind != "" {
		return itemKind
	}
	has := func(m map[string]json.RawMessage, keys ...string) bool {
		for _, k := range keys {
			if _, ok := m[k]; ok {
				return true
			}
		}
		return false
	}
	switch {
	case has(d.Spec, "pipelineRef", "pipelineSpec") || has(d.Status, "childReferences", "pipelineSpec", "taskRuns", "skippedTasks", "runs", "pipelineResults"):
		return kindPipelineRun
	case has(d.Spec, "taskRef", "taskSpec") || has(d.Status, "podName", "steps", "taskSpec", "retriesStatus", "taskResults"):
		return kindTaskRun
	}
	return ""
}

// decode decodes a Tekton PipelineRun and its TaskRuns from YAML or
// JSON: a PipelineRun alone, a multi-document YAML stream (a PipelineRun and
// TaskRuns, as `kubectl get pipelinerun NAME -o yaml; echo ---; kubectl get
// taskrun -l tekton.dev/pipelineRun=NAME -o yaml` prints them), or a List
// (`kubectl get pipelinerun,taskrun -o yaml`, or what source.Kubernetes'
// GetPipelineRun returns). TaskRuns are kept when status.childReferences
// names them or their tekton.dev/pipelineRun label is the PipelineRun's
// name; v1beta1's embedded status.taskRuns become TaskRuns too.
//
// Decoding is lenient, as DecodeArgo's: unknown fields are ignored and a
// field whose type does not match is skipped with a warning. Input that
// holds no PipelineRun is read as a run of one task if exactly one of its
// TaskRuns belongs to no PipelineRun (see standalone); otherwise it is an
// error, as is more than one PipelineRun, whose message names what is
// wrong, on one line.
func decode(data []byte) (*objects, []string, error) {
	run, warnings, err := decodeTekton(data)
	if err != nil {
		// Names and kinds come from the input: keep the message one line.
		return nil, nil, errors.New(engine.OneLine(err.Error()))
	}
	for i, w := range warnings {
		warnings[i] = strings.NewReplacer("\n", " ", "\r", " ").Replace(w)
	}
	return run, warnings, nil
}

func decodeTekton(data []byte) (*objects, []string, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil, errors.New("decode tekton: input is empty")
	}
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, nil, err
	}
	d := &tektonDecoder{other: map[string]int{}}
	for i, doc := range docs {
		if err := d.add(doc, fmt.Sprintf("document %d", i+1), len(docs) == 1, false, ""); err != nil {
			return nil, nil, err
		}
	}
	return d.result()
}

// splitDocuments returns the JSON of each non-empty document.
func splitDocuments(data []byte) ([][]byte, error) {
	if data[0] == '{' {
		return [][]byte{data}, nil
	}
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("decode tekton: document %d: %s", n, engine.OneLine(err.Error()))
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("decode tekton: not YAML or JSON: %s", engine.OneLine(err.Error()))
		}
		if string(bytes.TrimSpace(j)) == "null" {
			continue // only comments
		}
		docs = append(docs, j)
	}
	if len(docs) == 0 {
		return nil, errors.New("decode tekton: input holds no document")
	}
	return docs, nil
}

type tektonDecoder struct {
	prs      []pipelineRun
	trs      []taskRun
	other    map[string]int // documents of other kinds, by kind
	warnings []string
}

// add decodes one document, or one item of a list (inList; itemKind is
// the list's item kind, if it says). single says the input is this one
// document, so that another kind is an error rather than ignored.
func (d *tektonDecoder) add(doc []byte, where string, single, inList bool, itemKind string) error {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 || doc[0] != '{' {
		if single {
			return fmt.Errorf("decode tekton: expected an object, got %q", engine.Truncate(string(doc), 40))
		}
		return fmt.Errorf("decode tekton: %s: expected an object, got %q", where, engine.Truncate(string(doc), 40))
	}
	var probe tektonDoc
	if err := d.unmarshal(doc, &probe, where); err != nil {
		return err
	}
	kind := probe.tektonKind(itemKind)
	switch kind {
	case kindPipelineRun, kindTaskRun:
		if probe.APIVersion != "" && !strings.HasPrefix(probe.APIVersion, "tekton.dev/") {
			return fmt.Errorf("decode tekton: %s: not a Tekton %s: apiVersion is %q", where, kind, engine.Truncate(probe.APIVersion, 60))
		}
	case "List", "PipelineRunList", "TaskRunList":
		if inList {
			d.other[kind]++ // a list inside a list: not something kubectl prints
			return nil
		}
		inner := strings.TrimSuffix(kind, "List")
		for i, item := range probe.Items {
			if err := d.add(item, fmt.Sprintf("%s, item %d", where, i+1), false, true, inner); err != nil {
				return err
			}
		}
		return nil
	case "":
		if single {
			return errors.New("decode tekton: not a Tekton PipelineRun: no kind, and no field of a PipelineRun or TaskRun")
		}
		d.other["(no kind)"]++
		return nil
	default:
		if single {
			return fmt.Errorf("decode tekton: not a Tekton PipelineRun: kind is %q", engine.Truncate(kind, 60))
		}
		d.other[kind]++
		return nil
	}
	if kind == kindPipelineRun {
		var pr pipelineRun
		if err := d.unmarshal(doc, &pr, where); err != nil {
			return err
		}
		d.warnBadTimes(where, pr.Status.StartTime.bad, pr.Status.CompletionTime.bad)
		d.prs = append(d.prs, pr)
		return nil
	}
	var tr taskRun
	if err := d.unmarshal(doc, &tr, where); err != nil {
		return err
	}
	d.warnBadTimes(where, tr.Status.badTimes()...)
	d.trs = append(d.trs, tr)
	return nil
}

// unmarshal decodes leniently: a field of the wrong type is skipped with a
// warning (encoding/json decodes the rest); other errors are fatal.
func (d *tektonDecoder) unmarshal(doc []byte, into any, where string) error {
	err := json.Unmarshal(doc, into)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		return fmt.Errorf("decode tekton: %s: %s", where, engine.OneLine(err.Error()))
	}
	if _, probe := into.(*tektonDoc); !probe {
		d.warnings = append(d.warnings, fmt.Sprintf("%s: ignored field %q: %s value where Tekton's types expect %s (object from a newer Tekton?)",
			where, engine.OneLine(engine.Truncate(typeErr.Field, 100)), typeErr.Value, typeErr.Type))
	}
	return nil
}

func (d *tektonDecoder) result() (*objects, []string, error) {
	switch len(d.prs) {
	case 0:
		if run, w, ok, err := d.standalone(); ok {
			return run, w, err
		}
		var found []string
		if len(d.trs) > 0 {
			found = append(found, fmt.Sprintf("%d TaskRun(s)", len(d.trs)))
		}
		for _, k := range sortedCountKeys(d.other) {
			found = append(found, fmt.Sprintf("%d %s", d.other[k], engine.Truncate(k, 40)))
		}
		if len(found) == 0 {
			return nil, nil, errors.New("decode tekton: no PipelineRun in the input")
		}
		return nil, nil, fmt.Errorf("decode tekton: no PipelineRun in the input (found %s); pass the PipelineRun with its TaskRuns", engine.Truncate(strings.Join(found, ", "), 200))
	case 1:
	default:
		names := make([]string, 0, len(d.prs))
		for _, pr := range d.prs {
			names = append(names, pr.Name)
		}
		return nil, nil, fmt.Errorf("decode tekton: %d PipelineRuns in the input (%s); pass one, with its TaskRuns", len(d.prs), engine.Truncate(strings.Join(names, ", "), 200))
	}
	pr := d.prs[0]
	if pr.Name == "" {
		return nil, nil, errors.New("decode tekton: PipelineRun metadata.name is missing")
	}
	children := map[string]bool{}
	for _, c := range pr.Status.ChildReferences {
		children[c.Name] = true
	}
	run := &objects{PipelineRun: pr}
	seen := map[string]bool{}
	unnamed, foreign, dup := 0, 0, 0
	for _, tr := range d.trs {
		switch {
		case tr.Name == "":
			unnamed++
		case seen[tr.Name]:
			dup++
		case children[tr.Name] || tr.Labels[tektonLabelPipelineRun] == pr.Name || pr.Status.TaskRuns[tr.Name].Status != nil:
			seen[tr.Name] = true
			run.TaskRuns = append(run.TaskRuns, tr)
		default:
			foreign++
		}
	}
	// v1beta1: TaskRun statuses embedded in the PipelineRun.
	embedded := make([]string, 0, len(pr.Status.TaskRuns))
	for name, e := range pr.Status.TaskRuns {
		if e.Status != nil && !seen[name] && name != "" {
			embedded = append(embedded, name)
		}
	}
	sort.Strings(embedded)
	for _, name := range embedded {
		run.TaskRuns = append(run.TaskRuns, taskRun{
			TypeMeta:   metav1.TypeMeta{APIVersion: pr.APIVersion, Kind: kindTaskRun},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: pr.Namespace},
			Status:     *pr.Status.TaskRuns[name].Status,
		})
	}
	w := d.warnings
	if unnamed > 0 {
		w = append(w, fmt.Sprintf("ignored %d TaskRun(s) without metadata.name: they cannot be matched to PipelineRun %s", unnamed, pr.Name))
	}
	if foreign > 0 {
		w = append(w, fmt.Sprintf("ignored %d TaskRun(s) that belong to another PipelineRun than %s", foreign, pr.Name))
	}
	if dup > 0 {
		w = append(w, fmt.Sprintf("ignored %d TaskRun(s) given twice", dup))
	}
	for _, k := range sortedCountKeys(d.other) {
		w = append(w, fmt.Sprintf("ignored %d document(s) of kind %s (neither PipelineRun nor TaskRun)", d.other[k], engine.Truncate(k, 60)))
	}
	return run, w, nil
}

// inPipelineRun says whether a TaskRun was created by a PipelineRun: the
// PipelineRun controller labels its TaskRuns with tekton.dev/pipelineRun
// and tekton.dev/pipelineTask and makes the PipelineRun their controller
// owner (createChildResourceLabels, createTaskRun in
// pkg/reconciler/pipelinerun/pipelinerun.go).
func (t *taskRun) inPipelineRun() bool {
	if t.Labels[tektonLabelPipelineRun] != "" || t.Labels[tektonLabelPipelineTask] != "" {
		return true
	}
	for _, o := range t.OwnerReferences {
		if o.Kind == kindPipelineRun {
			return true
		}
	}
	return false
}

// standalone reads input without a PipelineRun whose only named TaskRun
// that belongs to no PipelineRun (a TaskRun created on its own) as a run of
// one task: a PipelineRun is made from it (its name, namespace, UID,
// labels, annotations, condition and times; the first attempt's start),
// with one pipeline task named after its Task (see standalonePipeline),
// the TaskRun its child. TaskRuns of PipelineRuns that are not given are
// ignored with a warning. ok is false when there is no such TaskRun;
// several are an error.
func (d *tektonDecoder) standalone() (*objects, []string, bool, error) {
	var alone []taskRun
	seen := map[string]bool{}
	unnamed, foreign, dup := 0, 0, 0
	for _, tr := range d.trs {
		switch {
		case tr.Name == "":
			unnamed++
		case seen[tr.Name]:
			dup++
		case tr.inPipelineRun():
			seen[tr.Name] = true
			foreign++
		default:
			seen[tr.Name] = true
			alone = append(alone, tr)
		}
	}
	switch len(alone) {
	case 0:
		return nil, nil, false, nil
	case 1:
	default:
		names := make([]string, 0, len(alone))
		for _, tr := range alone {
			names = append(names, tr.Name)
		}
		return nil, nil, true, fmt.Errorf("decode tekton: no PipelineRun in the input, and %d TaskRuns that belong to no PipelineRun (%s); pass one TaskRun, or a PipelineRun with its TaskRuns", len(alone), engine.Truncate(strings.Join(names, ", "), 200))
	}
	tr := alone[0]
	pipe := standalonePipeline(&tr)
	start := tr.Status.StartTime
	if len(tr.Status.RetriesStatus) > 0 && !tr.Status.RetriesStatus[0].StartTime.IsZero() {
		start = tr.Status.RetriesStatus[0].StartTime
	}
	pr := pipelineRun{
		TypeMeta: tr.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: tr.Name, GenerateName: tr.GenerateName, Namespace: tr.Namespace, UID: tr.UID,
			Labels: tr.Labels, Annotations: tr.Annotations,
		},
		Spec: pipelineRunSpec{PipelineRef: &ref{Name: pipe}},
		Status: pipelineRunStatus{
			Conditions:      tr.Status.Conditions,
			StartTime:       start,
			CompletionTime:  tr.Status.CompletionTime,
			ChildReferences: []childReference{{APIVersion: tr.APIVersion, Kind: kindTaskRun, Name: tr.Name, PipelineTaskName: pipe}},
			PipelineSpec:    &pipelineSpec{Tasks: []pipelineTask{{Name: pipe, TaskRef: &ref{Name: pipe}}}},
		},
	}
	w := d.warnings
	if unnamed > 0 {
		w = append(w, fmt.Sprintf("ignored %d TaskRun(s) without metadata.name", unnamed))
	}
	if foreign > 0 {
		w = append(w, fmt.Sprintf("ignored %d TaskRun(s) that belong to a PipelineRun not in the input; read TaskRun %s, which belongs to none, as a run of its own", foreign, tr.Name))
	}
	if dup > 0 {
		w = append(w, fmt.Sprintf("ignored %d TaskRun(s) given twice", dup))
	}
	for _, k := range sortedCountKeys(d.other) {
		w = append(w, fmt.Sprintf("ignored %d document(s) of kind %s (neither PipelineRun nor TaskRun)", d.other[k], engine.Truncate(k, 60)))
	}
	return &objects{PipelineRun: pr, TaskRuns: []taskRun{tr}}, w, true, nil
}

// standalonePipeline is the pipeline name of a TaskRun read on its own:
// its Task's (the tekton.dev/task or tekton.dev/clusterTask label, which
// Tekton sets from the resolved Task, unless it is the TaskRun's own name;
// else taskRef.name), else its generateName stem, else its name.
func standalonePipeline(tr *taskRun) string {
	for _, l := range []string{tektonLabelTask, tektonLabelClusterTask} {
		if v := tr.Labels[l]; v != "" && v != tr.Name {
			return v
		}
	}
	if tr.Spec.TaskRef != nil && tr.Spec.TaskRef.Name != "" {
		return tr.Spec.TaskRef.Name
	}
	return engine.PipelineFromGenerateName(tr.GenerateName, tr.Name)
}

// detect reports whether data looks like Tekton input for decode
// rather than an Argo Workflow: a PipelineRun or TaskRun (by kind, or by
// fields only they have), or a list holding one. It reads only as much as
// it needs and never fails; undecodable input is not Tekton.
func detect(data []byte) bool {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return false
	}
	docs, err := splitDocuments(data)
	if err != nil {
		return false
	}
	for _, doc := range docs {
		var probe tektonDoc
		if json.Unmarshal(doc, &probe) != nil && probe.Kind == "" {
			continue
		}
		if strings.HasPrefix(probe.APIVersion, "argoproj.io/") {
			return false
		}
		switch k := probe.tektonKind(""); k {
		case kindPipelineRun, kindTaskRun, "PipelineRunList", "TaskRunList":
			return true
		case "List":
			for _, item := range probe.Items {
				var p tektonDoc
				_ = json.Unmarshal(item, &p)
				if k := p.tektonKind(""); k == kindPipelineRun || k == kindTaskRun {
					return true
				}
			}
		}
		if strings.HasPrefix(probe.APIVersion, "tekton.dev/") {
			return true
		}
	}
	return false
}

func sortedCountKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tkTime is a time as Tekton writes it (RFC 3339). Unlike metav1.Time, a
// value that is not one, or that no timestamp can hold (before 1678, after
// 2262: UnixNano overflows), does not fail the decode: it is left zero and
// marked bad, and the decoder warns (warnBadTimes).
type tkTime struct {
	time.Time
	bad bool
}

// UnmarshalJSON reads an RFC 3339 string, in local time as metav1.Time
// does; null and "" are zero; it never fails.
func (t *tkTime) UnmarshalJSON(b []byte) error {
	*t = tkTime{}
	if string(b) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		t.bad = true
		return nil
	}
	if s == "" {
		return nil
	}
	pt, err := time.Parse(time.RFC3339, s)
	if err != nil || !pipeline.ValidTime(pt) {
		t.bad = true
		return nil
	}
	t.Time = pt.Local()
	return nil
}

// badTimes lists, for each time of the status (its earlier attempts and
// steps included), whether it was bad.
func (s *taskRunStatus) badTimes() []bool {
	out := []bool{s.StartTime.bad, s.CompletionTime.bad}
	for _, st := range s.Steps {
		if st.Running != nil {
			out = append(out, st.Running.StartedAt.bad)
		}
		if st.Terminated != nil {
			out = append(out, st.Terminated.StartedAt.bad, st.Terminated.FinishedAt.bad)
		}
	}
	for i := range s.RetriesStatus {
		out = append(out, s.RetriesStatus[i].badTimes()...)
	}
	return out
}

// warnBadTimes warns once for an object's bad times.
func (d *tektonDecoder) warnBadTimes(where string, bad ...bool) {
	n := 0
	for _, b := range bad {
		if b {
			n++
		}
	}
	if n > 0 {
		d.warnings = append(d.warnings, fmt.Sprintf("%s: ignored %d time(s) that are not RFC 3339 times between the years 1678 and 2262", where, n))
	}
}
