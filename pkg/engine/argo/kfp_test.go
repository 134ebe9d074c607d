package argo

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// kfpRun reads a KFP-shaped fixture of testdata/argo/kfp (see its INDEX.md).
func kfpRun(t *testing.T, name string, edit func(*wfv1.Workflow)) *pipeline.Run {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir, "kfp", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wf, warnings, err := Decode(data)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("decode %s: %v %v", name, err, warnings)
	}
	if edit != nil {
		edit(wf)
	}
	run := FromWorkflow(wf, Options{})
	if len(run.Warnings) > 0 {
		t.Errorf("%s: warnings %v", name, run.Warnings)
	}
	return run
}

// kfpSteps lists the steps as "name stage item template kind result attempt".
func kfpSteps(run *pipeline.Run) []string {
	var out []string
	for _, s := range run.Steps {
		out = append(out, fmt.Sprintf("%s|%s|%s|%s|%s|%s|%d", s.Name, s.StageName(), s.Item, s.Template, s.Kind, s.Result, s.Attempt))
	}
	return out
}

func TestKFPFixtures(t *testing.T) {
	for _, tc := range []struct {
		name, pipeline string
		steps          []string
		retries        []string
	}{
		{"01-two-components", "preprocess-train", []string{
			"root-driver|||system-dag-driver|overhead|success|-1",
			"preprocess-driver|preprocess||system-container-driver|overhead|success|-1",
			"preprocess|preprocess||preprocess|work|success|-1",
			"train-model-driver|train-model||system-container-driver|overhead|success|-1",
			"train-model|train-model||train-model|work|success|-1",
		}, nil},
		{"02-retried-and-cached", "retry-training", []string{
			"root-driver|||system-dag-driver|overhead|success|-1",
			"load-data-driver|load-data||system-container-driver|overhead|success|-1",
			"load-data|load-data||load-data|work|success|-1",
			"train-driver|train||system-container-driver|overhead|success|-1",
			"train|train||train|work|failure|0",
			"train|train||train|work|success|1",
			"evaluate-driver|evaluate||system-container-driver|overhead|success|-1",
			"evaluate|evaluate||evaluate|skip|skip|-1",
		}, []string{"train|train|train|2"}},
		{"03-parallel-for", "lr-sweep", []string{
			"root-driver|||system-dag-driver|overhead|success|-1",
			"prepare-driver|prepare||system-container-driver|overhead|success|-1",
			"prepare|prepare||prepare|work|success|-1",
			"iteration-driver|||system-dag-driver|overhead|success|-1",
			"iteration-item-driver||0|system-dag-driver|overhead|success|-1",
			"iteration-item-driver||1|system-dag-driver|overhead|success|-1",
			"iteration-item-driver||2|system-dag-driver|overhead|success|-1",
			"train-driver|train|0|system-container-driver|overhead|success|-1",
			"train-driver|train|1|system-container-driver|overhead|success|-1",
			"train-driver|train|2|system-container-driver|overhead|success|-1",
			"train|train|0|train|work|success|-1",
			"train|train|1|train|work|success|-1",
			"train|train|2|train|work|success|-1",
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := kfpRun(t, tc.name, nil)
			if run.Pipeline != tc.pipeline {
				t.Errorf("pipeline %q, want %q", run.Pipeline, tc.pipeline)
			}
			if got := kfpSteps(run); strings.Join(got, "\n") != strings.Join(tc.steps, "\n") {
				t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.steps, "\n"))
			}
			var retries []string
			for _, r := range run.Retries {
				retries = append(retries, fmt.Sprintf("%s|%s|%s|%d", r.Name, r.StageName(), r.Template, r.Attempts))
			}
			if strings.Join(retries, "\n") != strings.Join(tc.retries, "\n") {
				t.Errorf("retries %v, want %v", retries, tc.retries)
			}
		})
	}
}

// Newer KFP runs drivers as an Argo executor plugin: Plugin nodes, the
// pipeline name in the plugin's args.
func TestKFPPluginDrivers(t *testing.T) {
	run := kfpRun(t, "01-two-components", func(wf *wfv1.Workflow) {
		for i := range wf.Spec.Templates {
			tm := &wf.Spec.Templates[i]
			if tm.Name == kfpContainerDriver || tm.Name == kfpDAGDriver {
				v, _ := json.Marshal(map[string]any{"driver-plugin": map[string]any{"args": map[string]any{"type": "CONTAINER", "pipeline_name": "namespace/ml/pipeline/from-plugin"}}})
				tm.Container, tm.Plugin = nil, &wfv1.Plugin{Object: wfv1.Object{Value: v}}
			}
		}
		wf.Spec.PodMetadata = nil
		for id, n := range wf.Status.Nodes {
			if n.TemplateName == kfpContainerDriver || n.TemplateName == kfpDAGDriver {
				n.Type, n.ResourcesDuration, n.HostNodeName = wfv1.NodeTypePlugin, nil, ""
				wf.Status.Nodes[id] = n
			}
		}
	})
	if run.Pipeline != "from-plugin" {
		t.Errorf("pipeline %q, want from-plugin", run.Pipeline)
	}
	got := kfpSteps(run)
	if len(got) != 5 || got[1] != "preprocess-driver|preprocess||system-container-driver|overhead|success|-1" || got[4] != "train-model|train-model||train-model|work|success|-1" {
		t.Errorf("steps %v", got)
	}
}

// Without the driver templates' pipeline name, the pipeline is what it is
// for any workflow (the generateName stem).
func TestKFPPipelineFallback(t *testing.T) {
	run := kfpRun(t, "01-two-components", func(wf *wfv1.Workflow) {
		for i := range wf.Spec.Templates {
			if c := wf.Spec.Templates[i].Container; c != nil {
				for j, a := range c.Args {
					if a == "--pipeline_name" {
						c.Args[j+1] = "{{workflow.parameters.pipeline-name}}"
					}
				}
			}
		}
		wf.GenerateName = "from-generate-name-"
	})
	if run.Pipeline != "from-generate-name" {
		t.Errorf("pipeline %q, want from-generate-name", run.Pipeline)
	}
}

// Nested parallel-fors give the iteration indices outer first.
func TestKFPNestedItem(t *testing.T) {
	nodes := wfv1.Nodes{
		"outer": {ID: "outer", DisplayName: "iteration-iterations(1:1)", Type: wfv1.NodeTypeDAG, TemplateName: "comp-for-loop-2-iteration"},
		"item":  {ID: "item", DisplayName: "iteration-item", Type: wfv1.NodeTypeDAG, BoundaryID: "outer"},
		"inner": {ID: "inner", DisplayName: "iteration-iterations(0:0)", Type: wfv1.NodeTypeDAG, BoundaryID: "item"},
		"exec":  {ID: "exec", DisplayName: "train", Type: wfv1.NodeTypeDAG, TemplateName: kfpContainerExecutor, BoundaryID: "inner"},
		"pod":   {ID: "pod", DisplayName: "executor", Type: wfv1.NodeTypePod, TemplateName: "metadata-1-1-retry-system-container-impl", BoundaryID: "exec"},
	}
	m := nodesOf(nodes)
	if got := kfpItem(m, m["pod"]); got != "1.0" {
		t.Errorf("item %q, want 1.0", got)
	}
	if got := kfpTask(m, m["pod"]); got != "train" {
		t.Errorf("task %q, want train", got)
	}
}

// No workflow of the other fixtures is taken for a KFP one, and a template
// merely ending like KFP's is not a KFP template.
func TestKFPDetection(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(fixtureDir, "controller", "*.yaml"))
	for _, f := range append(files, more...) {
		data, _ := os.ReadFile(f)
		wf, _, err := Decode(data)
		if err != nil {
			continue
		}
		if isKFP(wf, nodesOf(wf.Status.Nodes)) {
			t.Errorf("%s taken for a KFP workflow", filepath.Base(f))
		}
	}
	for name, want := range map[string]kfpRole{
		"system-container-impl":                    kfpImpl,
		"retry-system-container-impl":              kfpImpl,
		"metadata-2-0-system-container-executor":   kfpExecutor,
		"my-system-container-impl":                 kfpNone,
		"system-container-driver":                  kfpDriverContainer,
		"system-dag-driver":                        kfpDriverDAG,
		"metadata-1-1-retry-system-container-impl": kfpImpl,
	} {
		if got := kfpTemplateRole(name); got != want {
			t.Errorf("kfpTemplateRole(%q) = %d, want %d", name, got, want)
		}
	}
}
