package main

// The Tekton manifests (templates/tekton, examples/tekton) are checked here
// rather than with Tekton's own validation: the tektoncd/pipeline module
// (~470 packages, knative, cel-go) is not a dependency. Instead each
// document is decoded strictly into small local types that mirror the
// subset of the tekton.dev/v1 schema these files use (field names as in
// Tekton's pipeline-api.md), encoded back and compared with the file, so a
// misspelt or wrongly cased field cannot pass; then the references Tekton
// resolves at run time are checked: every $(params.x) is declared where it
// is used, only the context variables of its scope are used, every
// parameter the Task requires is passed by the finally entry, and the
// CLI accepts the rendered args.

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

type tknMeta struct {
	Name         string            `json:"name,omitempty"`
	GenerateName string            `json:"generateName,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type tknParamSpec struct {
	Name        string  `json:"name"`
	Type        string  `json:"type,omitempty"`
	Description string  `json:"description,omitempty"`
	Default     *string `json:"default,omitempty"`
}

type tknParam struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type tknResult struct {
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
}

type tknStep struct {
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Command []string `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	Script  string   `json:"script,omitempty"`
	Env     []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"env,omitempty"`
	VolumeMounts []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
		ReadOnly  bool   `json:"readOnly,omitempty"`
	} `json:"volumeMounts,omitempty"`
	ComputeResources *struct {
		Requests map[string]string `json:"requests,omitempty"`
		Limits   map[string]string `json:"limits,omitempty"`
	} `json:"computeResources,omitempty"`
	SecurityContext *struct {
		RunAsNonRoot             *bool  `json:"runAsNonRoot,omitempty"`
		RunAsUser                *int64 `json:"runAsUser,omitempty"`
		RunAsGroup               *int64 `json:"runAsGroup,omitempty"`
		ReadOnlyRootFilesystem   *bool  `json:"readOnlyRootFilesystem,omitempty"`
		AllowPrivilegeEscalation *bool  `json:"allowPrivilegeEscalation,omitempty"`
		Capabilities             *struct {
			Drop []string `json:"drop,omitempty"`
		} `json:"capabilities,omitempty"`
		SeccompProfile *struct {
			Type string `json:"type"`
		} `json:"seccompProfile,omitempty"`
	} `json:"securityContext,omitempty"`
}

type tknTaskSpec struct {
	Description string         `json:"description,omitempty"`
	Params      []tknParamSpec `json:"params,omitempty"`
	Results     []tknResult    `json:"results,omitempty"`
	Volumes     []struct {
		Name   string `json:"name"`
		Secret *struct {
			SecretName string `json:"secretName"`
			Optional   *bool  `json:"optional,omitempty"`
		} `json:"secret,omitempty"`
	} `json:"volumes,omitempty"`
	Steps []tknStep `json:"steps"`
}

type tknTask struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   tknMeta     `json:"metadata"`
	Spec       tknTaskSpec `json:"spec"`
}

type tknPipelineTask struct {
	Name     string   `json:"name"`
	RunAfter []string `json:"runAfter,omitempty"`
	Retries  int      `json:"retries,omitempty"`
	TaskRef  *struct {
		Name string `json:"name"`
		Kind string `json:"kind,omitempty"`
	} `json:"taskRef,omitempty"`
	TaskSpec *tknTaskSpec `json:"taskSpec,omitempty"`
	Params   []tknParam   `json:"params,omitempty"`
	When     []struct {
		Input    string   `json:"input"`
		Operator string   `json:"operator"`
		Values   []string `json:"values"`
	} `json:"when,omitempty"`
}

type tknPipeline struct {
	APIVersion string  `json:"apiVersion"`
	Kind       string  `json:"kind"`
	Metadata   tknMeta `json:"metadata"`
	Spec       struct {
		Description string            `json:"description,omitempty"`
		Params      []tknParamSpec    `json:"params,omitempty"`
		Tasks       []tknPipelineTask `json:"tasks"`
		Finally     []tknPipelineTask `json:"finally,omitempty"`
	} `json:"spec"`
}

type tknPipelineRun struct {
	APIVersion string  `json:"apiVersion"`
	Kind       string  `json:"kind"`
	Metadata   tknMeta `json:"metadata"`
	Spec       struct {
		PipelineRef struct {
			Name string `json:"name"`
		} `json:"pipelineRef"`
		Params []tknParam `json:"params,omitempty"`
	} `json:"spec"`
}

type rbacDoc struct {
	APIVersion string  `json:"apiVersion"`
	Kind       string  `json:"kind"`
	Metadata   tknMeta `json:"metadata"`
	Rules      []struct {
		APIGroups []string `json:"apiGroups"`
		Resources []string `json:"resources"`
		Verbs     []string `json:"verbs"`
	} `json:"rules,omitempty"`
	RoleRef *struct {
		APIGroup string `json:"apiGroup"`
		Kind     string `json:"kind"`
		Name     string `json:"name"`
	} `json:"roleRef,omitempty"`
	Subjects []struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"subjects,omitempty"`
}

// yamlDocs splits a file into its documents.
func yamlDocs(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// strictDecode decodes doc into v with unknown fields refused, and checks
// that v, encoded again, is the document: no field lost or misspelt.
func strictDecode(doc []byte, v any) error {
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		return err
	}
	var orig, back any
	if err := yaml.Unmarshal(doc, &orig); err != nil {
		return err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(j, &back); err != nil {
		return err
	}
	if !reflect.DeepEqual(orig, back) {
		o, _ := json.Marshal(orig)
		return &roundTripError{string(o), string(j)}
	}
	return nil
}

type roundTripError struct{ file, decoded string }

func (e *roundTripError) Error() string {
	return "the local types do not hold the document unchanged (a field misspelt, wrongly cased or unknown):\nfile:    " + e.file + "\ndecoded: " + e.decoded
}

var varRef = regexp.MustCompile(`\$\(([^)]*)\)`)

// refs returns the $(...) references in the JSON encoding of v.
func refs(v any) []string {
	j, _ := json.Marshal(v)
	var out []string
	for _, m := range varRef.FindAllStringSubmatch(string(j), -1) {
		out = append(out, m[1])
	}
	return out
}

func declared(ps []tknParamSpec) map[string]*tknParamSpec {
	m := map[string]*tknParamSpec{}
	for i := range ps {
		m[ps[i].Name] = &ps[i]
	}
	return m
}

// checkTaskSpec returns the problems of a Task's spec: references to
// undeclared params or results, or to variables a Task does not have.
func checkTaskSpec(where string, spec *tknTaskSpec) []string {
	var problems []string
	params := declared(spec.Params)
	results := map[string]bool{}
	for _, r := range spec.Results {
		results[r.Name] = true
	}
	used := map[string]bool{}
	// Tekton substitutes in steps and volumes (not in descriptions).
	for _, r := range refs([]any{spec.Steps, spec.Volumes}) {
		switch {
		case strings.HasPrefix(r, "params."):
			name := strings.TrimPrefix(r, "params.")
			used[name] = true
			if params[name] == nil {
				problems = append(problems, where+": $("+r+") is not a declared param")
			}
		case strings.HasPrefix(r, "results.") && strings.HasSuffix(r, ".path"):
			if !results[strings.TrimSuffix(strings.TrimPrefix(r, "results."), ".path")] {
				problems = append(problems, where+": $("+r+") is not a declared result")
			}
		case r == "context.taskRun.name", r == "context.taskRun.namespace", r == "context.taskRun.uid", r == "context.task.name":
		default:
			problems = append(problems, where+": $("+r+") is not a variable a Task has (context.pipelineRun.* and tasks.* exist only in a Pipeline)")
		}
	}
	for _, p := range spec.Params {
		if !used[p.Name] {
			problems = append(problems, where+": param "+p.Name+" is declared but not used")
		}
	}
	return problems
}

// checkPipeline returns the problems of a Pipeline, given the Tasks it
// references by name.
func checkPipeline(p *tknPipeline, tasks map[string]*tknTask) []string {
	var problems []string
	params := declared(p.Spec.Params)
	names := map[string]*tknPipelineTask{}
	for i := range p.Spec.Tasks {
		names[p.Spec.Tasks[i].Name] = &p.Spec.Tasks[i]
	}
	all := append(append([]tknPipelineTask(nil), p.Spec.Tasks...), p.Spec.Finally...)
	for i, pt := range all {
		finally := i >= len(p.Spec.Tasks)
		where := "pipeline task " + pt.Name
		for _, a := range pt.RunAfter {
			if names[a] == nil {
				problems = append(problems, where+": runAfter "+a+" is not a task")
			}
		}
		// Pipeline-level references: params and when.
		for _, r := range refs([]any{pt.Params, pt.When}) {
			switch {
			case strings.HasPrefix(r, "params."):
				if params[strings.TrimPrefix(r, "params.")] == nil {
					problems = append(problems, where+": $("+r+") is not a pipeline param")
				}
			case r == "context.pipelineRun.name", r == "context.pipelineRun.namespace", r == "context.pipelineRun.uid", r == "context.pipeline.name":
			case r == "tasks.status" || (strings.HasPrefix(r, "tasks.") && strings.HasSuffix(r, ".status")):
				if !finally {
					problems = append(problems, where+": $("+r+") exists only in finally tasks")
				}
			case strings.HasPrefix(r, "tasks.") && strings.Contains(r, ".results."):
				parts := strings.SplitN(strings.TrimPrefix(r, "tasks."), ".results.", 2)
				src := names[parts[0]]
				ok := src != nil && src.TaskSpec != nil
				if ok {
					ok = false
					for _, res := range src.TaskSpec.Results {
						ok = ok || res.Name == parts[1]
					}
				}
				if !ok {
					problems = append(problems, where+": $("+r+") is not a result of a task")
				}
			default:
				problems = append(problems, where+": $("+r+") is not a Pipeline variable")
			}
		}
		// What the task declares, and what it is passed.
		var spec *tknTaskSpec
		switch {
		case pt.TaskSpec != nil:
			spec = pt.TaskSpec
			problems = append(problems, checkTaskSpec(where, spec)...)
		case pt.TaskRef != nil && tasks[pt.TaskRef.Name] != nil:
			spec = &tasks[pt.TaskRef.Name].Spec
		default:
			problems = append(problems, where+": neither an embedded taskSpec nor a Task of this repository")
			continue
		}
		want := declared(spec.Params)
		passed := map[string]bool{}
		for _, prm := range pt.Params {
			passed[prm.Name] = true
			if want[prm.Name] == nil {
				problems = append(problems, where+": passes param "+prm.Name+", which its task does not declare")
			}
		}
		for _, ps := range spec.Params {
			if ps.Default == nil && !passed[ps.Name] {
				problems = append(problems, where+": does not pass param "+ps.Name+", which has no default")
			}
		}
	}
	return problems
}

// checkStepMetricsEntry returns the problems of the finally entry that
// runs the step-metrics Task: it must pass the run's identity and outcome.
func checkStepMetricsEntry(p *tknPipeline) []string {
	want := map[string]string{
		"pipelinerun-name": "$(context.pipelineRun.name)",
		"pipelinerun-uid":  "$(context.pipelineRun.uid)",
		"tasks-status":     "$(tasks.status)",
	}
	for _, pt := range p.Spec.Finally {
		if pt.TaskRef == nil || pt.TaskRef.Name != "step-metrics" {
			continue
		}
		var problems []string
		got := map[string]string{}
		for _, prm := range pt.Params {
			got[prm.Name] = prm.Value
		}
		for name, v := range want {
			if got[name] != v {
				problems = append(problems, "finally "+pt.Name+": param "+name+" = "+got[name]+", want "+v)
			}
		}
		return problems
	}
	return []string{"pipeline " + p.Metadata.Name + ": no finally entry with taskRef step-metrics"}
}

func loadTektonManifests(t *testing.T) (*tknTask, *tknPipeline, *tknPipelineRun) {
	t.Helper()
	var task tknTask
	docs := yamlDocs(t, "../../templates/tekton/task.yaml")
	if len(docs) != 1 {
		t.Fatalf("task.yaml holds %d documents", len(docs))
	}
	if err := strictDecode(docs[0], &task); err != nil {
		t.Fatalf("task.yaml: %v", err)
	}
	var p tknPipeline
	var pr tknPipelineRun
	docs = yamlDocs(t, "../../examples/tekton/ml-pipeline.yaml")
	if len(docs) != 2 {
		t.Fatalf("ml-pipeline.yaml holds %d documents, want a Pipeline and a PipelineRun", len(docs))
	}
	if err := strictDecode(docs[0], &p); err != nil {
		t.Fatalf("ml-pipeline.yaml Pipeline: %v", err)
	}
	if err := strictDecode(docs[1], &pr); err != nil {
		t.Fatalf("ml-pipeline.yaml PipelineRun: %v", err)
	}
	for _, kv := range [][3]string{{task.APIVersion, task.Kind, "Task"}, {p.APIVersion, p.Kind, "Pipeline"}, {pr.APIVersion, pr.Kind, "PipelineRun"}} {
		if kv[0] != "tekton.dev/v1" || kv[1] != kv[2] {
			t.Errorf("apiVersion/kind %s/%s, want tekton.dev/v1/%s", kv[0], kv[1], kv[2])
		}
	}
	return &task, &p, &pr
}

func TestTektonManifests(t *testing.T) {
	task, p, pr := loadTektonManifests(t)
	if task.Metadata.Name != "step-metrics" || len(task.Spec.Steps) != 1 {
		t.Fatalf("task %q with %d steps", task.Metadata.Name, len(task.Spec.Steps))
	}
	for _, problem := range checkTaskSpec("task step-metrics", &task.Spec) {
		t.Error(problem)
	}
	for _, problem := range checkPipeline(p, map[string]*tknTask{"step-metrics": task}) {
		t.Error(problem)
	}
	for _, problem := range checkStepMetricsEntry(p) {
		t.Error(problem)
	}
	if pr.Spec.PipelineRef.Name != p.Metadata.Name || pr.Metadata.GenerateName == "" {
		t.Errorf("the PipelineRun runs %q (generateName %q), want the Pipeline %q", pr.Spec.PipelineRef.Name, pr.Metadata.GenerateName, p.Metadata.Name)
	}
	pp := declared(p.Spec.Params)
	for _, prm := range pr.Spec.Params {
		if pp[prm.Name] == nil {
			t.Errorf("the PipelineRun passes %s, which the Pipeline does not declare", prm.Name)
		}
	}

	// Same container hardening as the Argo template.
	var cwt templateDoc
	readYAML(t, "../../templates/cluster-workflow-template.yaml", &cwt)
	var argo, tekton map[string]any
	readYAML(t, "../../templates/cluster-workflow-template.yaml", &argo)
	readYAML(t, "../../templates/tekton/task.yaml", &tekton)
	container := argo["spec"].(map[string]any)["templates"].([]any)[0].(map[string]any)["container"].(map[string]any)
	step := tekton["spec"].(map[string]any)["steps"].([]any)[0].(map[string]any)
	for _, k := range []string{"image", "command", "securityContext", "volumeMounts"} {
		if !reflect.DeepEqual(container[k], step[k]) {
			t.Errorf("the Task's %s differs from the ClusterWorkflowTemplate's: %v vs %v", k, step[k], container[k])
		}
	}
	if !reflect.DeepEqual(container["resources"], step["computeResources"]) {
		t.Errorf("the Task's computeResources differ from the ClusterWorkflowTemplate's resources")
	}
	// The options have the same defaults as the Argo template's.
	argoDefaults := map[string]string{}
	for _, prm := range cwt.Spec.Templates[0].Inputs.Parameters {
		argoDefaults[prm.Name] = *prm.Value
	}
	for _, prm := range task.Spec.Params {
		if v, ok := argoDefaults[prm.Name]; ok && (prm.Default == nil || *prm.Default != v) {
			t.Errorf("param %s: default differs from the ClusterWorkflowTemplate's %q", prm.Name, v)
		}
	}
}

// TestTektonManifestChecksFail: each check above can fail.
func TestTektonManifestChecksFail(t *testing.T) {
	taskDoc := yamlDocs(t, "../../templates/tekton/task.yaml")[0]
	pipeDoc := yamlDocs(t, "../../examples/tekton/ml-pipeline.yaml")[0]
	task, _, _ := loadTektonManifests(t)
	cases := []struct {
		name, file, old, new, want string
	}{
		{"unknown field", "task", "  steps:\n", "  stepz: []\n  steps:\n", "unknown field"},
		{"wrongly cased field", "task", "computeResources:", "computeresources:", "do not hold the document unchanged"},
		{"undeclared param", "task", "--job=$(params.job)", "--job=$(params.jobs)", "$(params.jobs) is not a declared param"},
		{"pipeline variable in a Task", "task", "--task-run=$(context.taskRun.name)", "--task-run=$(context.pipelineRun.name)", "not a variable a Task has"},
		{"unused param", "task", "        - --log-level=$(params.log-level)\n", "", "param log-level is declared but not used"},
		{"required param not passed", "pipeline", "        - name: pipelinerun-name\n          value: $(context.pipelineRun.name)\n", "", "does not pass param pipelinerun-name"},
		{"param the Task lacks", "pipeline", "        - name: tasks-status\n", "        - name: task-status\n", "passes param task-status"},
		{"tasks.status outside finally", "pipeline", "          value: $(params.dataset)\n", "          value: $(tasks.status)\n", "exists only in finally"},
		{"undeclared pipeline param", "pipeline", "value: $(params.pushgateway-url)", "value: $(params.pushgateway)", "is not a pipeline param"},
		{"unknown result", "pipeline", "$(tasks.train.results.model-uri)", "$(tasks.train.results.model)", "is not a result of a task"},
		{"status not passed", "pipeline", "          value: $(tasks.status)\n", "          value: Succeeded\n", "param tasks-status = Succeeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := pipeDoc
			if c.file == "task" {
				doc = taskDoc
			}
			if !bytes.Contains(doc, []byte(c.old)) {
				t.Fatalf("%s does not contain %q", c.file, c.old)
			}
			broken := bytes.Replace(doc, []byte(c.old), []byte(c.new), 1)
			var problems []string
			if c.file == "task" {
				var tk tknTask
				if err := strictDecode(broken, &tk); err != nil {
					problems = append(problems, err.Error())
				} else {
					problems = checkTaskSpec("task", &tk.Spec)
				}
			} else {
				var p tknPipeline
				if err := strictDecode(broken, &p); err != nil {
					problems = append(problems, err.Error())
				} else {
					problems = append(checkPipeline(&p, map[string]*tknTask{"step-metrics": task}), checkStepMetricsEntry(&p)...)
				}
			}
			if !strings.Contains(strings.Join(problems, "\n"), c.want) {
				t.Errorf("problems %q lack %q", problems, c.want)
			}
		})
	}
}

// TestTektonTaskArgsParse renders the Task's step as Tekton would for the
// example's finally entry and checks that the CLI accepts it.
func TestTektonTaskArgsParse(t *testing.T) {
	task, p, _ := loadTektonManifests(t)
	step := task.Spec.Steps[0]
	if !reflect.DeepEqual(step.Command, []string{"/step-metrics"}) {
		t.Errorf("command %q: the image's binary is /step-metrics", step.Command)
	}
	vars := map[string]string{
		"context.taskRun.name":      "ml-pipeline-run-x7k2p-step-metrics",
		"context.taskRun.namespace": "ml",
	}
	pipelineVars := map[string]string{
		"context.pipelineRun.name": "ml-pipeline-run-x7k2p",
		"context.pipelineRun.uid":  "7c9e6679-7425-40de-944b-e07fc1f90ae7",
		"tasks.status":             "Completed",
	}
	for _, prm := range p.Spec.Params {
		pipelineVars["params."+prm.Name] = *prm.Default
	}
	for _, prm := range task.Spec.Params {
		if prm.Default != nil {
			vars["params."+prm.Name] = *prm.Default
		}
	}
	render := func(s string, vars map[string]string) string {
		return varRef.ReplaceAllStringFunc(s, func(m string) string {
			name := varRef.FindStringSubmatch(m)[1]
			v, ok := vars[name]
			if !ok {
				t.Errorf("$(%s) has no value", name)
			}
			return v
		})
	}
	for _, pt := range p.Spec.Finally {
		if pt.TaskRef != nil && pt.TaskRef.Name == "step-metrics" {
			for _, prm := range pt.Params {
				vars["params."+prm.Name] = render(prm.Value, pipelineVars)
			}
		}
	}
	var args []string
	for _, a := range step.Args {
		args = append(args, render(a, vars))
	}
	if len(args) == 0 || args[0] != "push" {
		t.Fatalf("args %q do not start with push", args)
	}
	var o pushOptions
	fs := pflag.NewFlagSet("push", pflag.ContinueOnError)
	o.addFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		t.Fatalf("the CLI refuses the Task's args: %v\n%q", err, args)
	}
	for _, e := range step.Env {
		flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(e.Name, "STEP_METRICS_"), "_", "-"))
		if fs.Lookup(flag) == nil {
			t.Errorf("env %s is not a step-metrics flag variable", e.Name)
		}
		t.Setenv(e.Name, render(e.Value, vars))
	}
	if err := applyEnv(fs, pushEnv); err != nil {
		t.Fatal(err)
	}
	if err := o.validate(); err != nil {
		t.Fatalf("the Task's defaults do not validate: %v", err)
	}
	if o.pipelineRun != "ml-pipeline-run-x7k2p" || o.namespace != "ml" || o.taskRun != "ml-pipeline-run-x7k2p-step-metrics" ||
		o.workflowUID != pipelineVars["context.pipelineRun.uid"] || o.status != "Completed" || o.pushgateway.String() != "http://pushgateway.monitoring.svc:9091" {
		t.Errorf("run identity not passed: %+v", o)
	}
	if o.strict || o.dryRun || o.client.caFile != "" || len(o.labels) != 0 {
		t.Errorf("defaults are not the CLI's: %+v", o)
	}
	var unset []string
	if !o.hook || o.maxSeries != defaultMaxSeries {
		t.Errorf("the Task runs push as a finally task (--hook) with the default series budget: hook=%v max-series=%d", o.hook, o.maxSeries)
	}
	for _, name := range []string{"pushgateway", "steps", "label-from-workflow", "job", "strict", "timeout", "max-series", "hook", "ca-file", "cert-file", "key-file", "bearer-token-file", "username", "password-file", "log-level"} {
		if !fs.Lookup(name).Changed {
			unset = append(unset, name)
		}
	}
	sort.Strings(unset)
	if len(unset) > 0 {
		t.Errorf("not set by the Task: %v", unset)
	}
	// $(tasks.status) None means: from the TaskRuns.
	o.status = "None"
	if err := o.validate(); err != nil || o.status != "" {
		t.Errorf("None: %v, status %q", err, o.status)
	}
}

// TestTektonRBAC: the Role grants exactly what GetPipelineRun does, and
// the kustomization installs both files.
func TestTektonRBAC(t *testing.T) {
	docs := yamlDocs(t, "../../templates/tekton/rbac.yaml")
	if len(docs) != 2 {
		t.Fatalf("rbac.yaml holds %d documents, want a Role and a RoleBinding", len(docs))
	}
	var role, binding rbacDoc
	if err := strictDecode(docs[0], &role); err != nil {
		t.Fatal(err)
	}
	if err := strictDecode(docs[1], &binding); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					got[g+"/"+res+":"+v] = true
				}
			}
		}
	}
	want := map[string]bool{"tekton.dev/pipelineruns:get": true, "tekton.dev/taskruns:get": true, "tekton.dev/taskruns:list": true}
	if role.Kind != "Role" || !reflect.DeepEqual(got, want) {
		t.Errorf("%s grants %v, want %v", role.Kind, got, want)
	}
	if binding.Kind != "RoleBinding" || binding.RoleRef == nil || binding.RoleRef.Kind != "Role" || binding.RoleRef.Name != role.Metadata.Name ||
		len(binding.Subjects) != 1 || binding.Subjects[0].Kind != "ServiceAccount" {
		t.Errorf("binding = %+v", binding)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	readYAML(t, "../../templates/tekton/kustomization.yaml", &k)
	if !reflect.DeepEqual(k.Resources, []string{"task.yaml", "rbac.yaml"}) {
		t.Errorf("kustomization resources %q", k.Resources)
	}
}
