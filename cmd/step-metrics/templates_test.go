package main

import (
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

type templateDoc struct {
	Kind string `json:"kind"`
	Spec struct {
		Templates []struct {
			Name   string `json:"name"`
			Inputs struct {
				Parameters []struct {
					Name  string  `json:"name"`
					Value *string `json:"value"`
				} `json:"parameters"`
			} `json:"inputs"`
			Container struct {
				Command []string `json:"command"`
				Args    []string `json:"args"`
				Env     []struct {
					Name, Value string
				} `json:"env"`
			} `json:"container"`
		} `json:"templates"`
	} `json:"spec"`
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestTemplateTwinsAgree: the namespaced WorkflowTemplate repeats the
// ClusterWorkflowTemplate's spec exactly.
func TestTemplateTwinsAgree(t *testing.T) {
	var cluster, namespaced map[string]any
	readYAML(t, "../../templates/cluster-workflow-template.yaml", &cluster)
	readYAML(t, "../../templates/namespaced/workflow-template.yaml", &namespaced)
	if cluster["kind"] != "ClusterWorkflowTemplate" || namespaced["kind"] != "WorkflowTemplate" {
		t.Fatalf("kinds %v, %v", cluster["kind"], namespaced["kind"])
	}
	if !reflect.DeepEqual(cluster["spec"], namespaced["spec"]) {
		t.Error("templates/namespaced/workflow-template.yaml's spec differs from templates/cluster-workflow-template.yaml's")
	}
	if !reflect.DeepEqual(cluster["metadata"], namespaced["metadata"]) {
		t.Error("the twins' metadata differ")
	}
}

// renderExitHandler renders the exit-handler template's args and env as
// Argo would, with its default parameters but for params, and the
// variables of an exit handler (workflow.status Failed).
func renderExitHandler(t *testing.T, params map[string]string) (args []string, env map[string]string) {
	t.Helper()
	var doc templateDoc
	readYAML(t, "../../templates/cluster-workflow-template.yaml", &doc)
	if len(doc.Spec.Templates) != 1 || doc.Spec.Templates[0].Name != "push" {
		t.Fatalf("want one template named push, got %+v", doc.Spec.Templates)
	}
	tmpl := doc.Spec.Templates[0]
	if !reflect.DeepEqual(tmpl.Container.Command, []string{"/step-metrics"}) {
		t.Errorf("command %q: the image's binary is /step-metrics (see Dockerfile)", tmpl.Container.Command)
	}
	vars := map[string]string{
		"workflow.name":      "train-x7k2p",
		"workflow.namespace": "ml",
		"workflow.uid":       "5f0c6b8e-2d41-4a7b-9c1e-8a3f2b6d9e10",
		"workflow.status":    "Failed",
	}
	for _, p := range tmpl.Inputs.Parameters {
		if p.Value == nil {
			t.Errorf("parameter %s has no default: every parameter must be optional", p.Name)
			continue
		}
		vars["inputs.parameters."+p.Name] = *p.Value
	}
	for name, v := range params {
		if _, ok := vars["inputs.parameters."+name]; !ok {
			t.Fatalf("the template has no parameter %s", name)
		}
		vars["inputs.parameters."+name] = v
	}
	placeholder := regexp.MustCompile(`{{\s*([^}]+?)\s*}}`)
	render := func(s string) string {
		return placeholder.ReplaceAllStringFunc(s, func(m string) string {
			name := placeholder.FindStringSubmatch(m)[1]
			v, ok := vars[name]
			if !ok {
				t.Errorf("template uses {{%s}}, which is neither a parameter nor an exit-handler variable", name)
			}
			return v
		})
	}
	for _, a := range tmpl.Container.Args {
		args = append(args, render(a))
	}
	if len(args) == 0 || args[0] != "push" {
		t.Fatalf("args %q do not start with push", args)
	}
	env = map[string]string{}
	for _, e := range tmpl.Container.Env {
		env[e.Name] = render(e.Value)
	}
	return args, env
}

// TestTemplateArgsParse renders the exit-handler template as Argo would,
// with its default parameters and the variables of an exit handler, and
// checks that the CLI accepts the result: every flag exists, every value
// parses, every environment variable belongs to a flag.
func TestTemplateArgsParse(t *testing.T) {
	args, env := renderExitHandler(t, nil)
	vars := map[string]string{"workflow.name": "train-x7k2p", "workflow.uid": "5f0c6b8e-2d41-4a7b-9c1e-8a3f2b6d9e10"}

	var o pushOptions
	fs := pflag.NewFlagSet("push", pflag.ContinueOnError)
	o.addFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		t.Fatalf("the CLI refuses the template's args: %v\n%q", err, args)
	}
	for name, v := range env {
		flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, "STEP_METRICS_"), "_", "-"))
		if !strings.HasPrefix(name, "STEP_METRICS_") || fs.Lookup(flag) == nil {
			t.Errorf("env %s is not a step-metrics flag variable", name)
		}
		t.Setenv(name, v)
	}
	if err := applyEnv(fs, pushEnv); err != nil {
		t.Fatal(err)
	}
	if err := o.validate(); err != nil {
		t.Fatalf("the template's defaults do not validate: %v", err)
	}
	if o.workflowName != vars["workflow.name"] || o.namespace != "ml" || o.workflowUID != vars["workflow.uid"] || o.status != "Failed" {
		t.Errorf("exit-handler variables not passed: %+v", o)
	}
	if o.strict || o.dryRun || o.client.caFile != "" || len(o.labelsFromWorkflow) != 0 || len(o.labels) != 0 {
		t.Errorf("defaults are not the CLI's: strict=%v ca=%q labels-from-workflow=%q labels=%q", o.strict, o.client.caFile, o.labelsFromWorkflow, o.labels)
	}
	// Every flag that matters in a cluster is reachable from a parameter.
	if !o.hook || o.maxSeries != defaultMaxSeries {
		t.Errorf("the template runs push as an exit handler (--hook) with the default series budget: hook=%v max-series=%d", o.hook, o.maxSeries)
	}
	for _, name := range []string{"pushgateway", "steps", "label-from-workflow", "job", "strict", "timeout", "max-series", "hook", "ca-file", "cert-file", "key-file", "bearer-token-file", "username", "password-file"} {
		if !fs.Lookup(name).Changed {
			t.Errorf("--%s is not set by the template", name)
		}
	}
}

// TestTemplateTyposDoNotFailTheWorkflow: template parameters that do not
// parse (timeout "30", strict "yes", steps "nodes", max-series "lots") and
// a flag this binary does not know (a newer template) do not fail the exit
// handler. The real binary runs with the rendered template's args and env
// against a fake apiserver and a real Pushgateway: it warns about each,
// uses the defaults and pushes exactly what the defaults push, exit 0.
// With strict "true" the same typos exit 2 and push nothing; outside the
// hook (the args without --hook) they exit 2, as before.
func TestTemplateTyposDoNotFailTheWorkflow(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	wf := runCLIExampleJSON(t)
	_, kubeconfig := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/argoproj.io/v1alpha1/namespaces/ml/workflows/train-x7k2p" {
			apiStatus(w, 404, "NotFound", "unexpected path "+r.URL.Path)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(wf)
	})
	exitHandler := func(params map[string]string, extra ...string) result {
		t.Helper()
		p := map[string]string{"pushgateway-url": pg.URL}
		for k, v := range params {
			p[k] = v
		}
		args, env := renderExitHandler(t, p)
		envList := []string{"KUBECONFIG=" + kubeconfig}
		for k, v := range env {
			envList = append(envList, k+"="+v)
		}
		return runCLI(t, nil, envList, append(args, extra...)...)
	}

	r := exitHandler(nil)
	r.want(t, 0)
	want := groupSeries(pg.Scrape(t), exampleNS, exampleUID)
	if len(want) < 20 || strings.Contains(r.stderr, "level=WARN") {
		t.Fatalf("the defaults: %d series\n%s", len(want), r.stderr)
	}

	typos := map[string]string{"timeout": "30", "strict": "yes", "steps": "nodes", "max-series": "lots"}
	pg.Wipe(t)
	r = exitHandler(typos, "--from-a-newer-template=x")
	r.want(t, 0)
	for _, s := range []string{
		`--timeout \"30\": time: missing unit in duration \"30\"; using the default \"30s\"`,
		`--strict \"yes\": strconv.ParseBool: parsing \"yes\": invalid syntax; using the default \"false\"`,
		`--steps: steps mode \"nodes\": want node, template or none; using the default \"node\"`,
		`--max-series \"lots\"`,
		"unknown flag: --from-a-newer-template; ignored",
		"msg=pushed",
	} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr does not say %s:\n%s", s, r.stderr)
		}
	}
	if n := strings.Count(r.stderr, `msg="bad flag in the exit handler, ignored`); n != 5 {
		t.Errorf("%d warnings about bad flags, want 5:\n%s", n, r.stderr)
	}
	got := groupSeries(pg.Scrape(t), exampleNS, exampleUID)
	if len(got) != len(want) {
		t.Errorf("with the typos the group holds %d series, with the defaults %d", len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v with the typos, %v with the defaults", k, g, v)
		}
	}

	// strict "true": the typos are the user's to fix, loudly.
	pg.Wipe(t)
	strict := map[string]string{"strict": "true"}
	for k, v := range typos {
		if k != "strict" {
			strict[k] = v
		}
	}
	r = exitHandler(strict)
	r.want(t, exitUsage)
	if !strings.Contains(r.stderr, `step-metrics push: --timeout "30": time: missing unit in duration "30"`) {
		t.Errorf("strict: the bad flag is not named:\n%s", r.stderr)
	}
	if n := len(pg.Groups(t)); n != 0 {
		t.Errorf("strict: %d groups pushed despite the usage error", n)
	}

	// Outside the hook a usage error stays exit 2.
	args, env := renderExitHandler(t, map[string]string{"pushgateway-url": pg.URL, "timeout": "30"})
	var noHook []string
	for _, a := range args {
		if a != "--hook" {
			noHook = append(noHook, a)
		}
	}
	envList := []string{"KUBECONFIG=" + kubeconfig}
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	if len(noHook) != len(args)-1 {
		t.Fatalf("the template does not pass --hook: %q", args)
	}
	r = runCLI(t, nil, envList, noHook...)
	r.want(t, exitUsage)
}
