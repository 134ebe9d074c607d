package main

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
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

// TestTemplateArgsParse renders the exit-handler template as Argo would,
// with its default parameters and the variables of an exit handler, and
// checks that the CLI accepts the result: every flag exists, every value
// parses, every environment variable belongs to a flag.
func TestTemplateArgsParse(t *testing.T) {
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
	var args []string
	for _, a := range tmpl.Container.Args {
		args = append(args, render(a))
	}
	if len(args) == 0 || args[0] != "push" {
		t.Fatalf("args %q do not start with push", args)
	}

	var o pushOptions
	fs := pflag.NewFlagSet("push", pflag.ContinueOnError)
	o.addFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		t.Fatalf("the CLI refuses the template's args: %v\n%q", err, args)
	}
	for _, e := range tmpl.Container.Env {
		flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(e.Name, "STEP_METRICS_"), "_", "-"))
		if !strings.HasPrefix(e.Name, "STEP_METRICS_") || fs.Lookup(flag) == nil {
			t.Errorf("env %s is not a step-metrics flag variable", e.Name)
		}
		t.Setenv(e.Name, render(e.Value))
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
	for _, name := range []string{"pushgateway", "steps", "label-from-workflow", "job", "strict", "timeout", "ca-file", "cert-file", "key-file", "bearer-token-file", "username", "password-file"} {
		if !fs.Lookup(name).Changed {
			t.Errorf("--%s is not set by the template", name)
		}
	}
}
