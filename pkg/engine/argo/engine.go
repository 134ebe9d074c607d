package argo

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// Name is the engine label value of Argo runs.
const Name = "argo"

// Engine reads Argo Workflows (Kubeflow Pipelines v2 runs on Argo are
// Workflows too) as an engine.Engine.
type Engine struct{}

var _ engine.Engine = Engine{}

// Name returns "argo".
func (Engine) Name() string { return Name }

// Detect reports whether data is an Argo Workflow: by its kind or
// apiVersion, or, for an object printed without them, by fields only a
// Workflow has (spec.templates, spec.workflowTemplateRef, status.nodes,
// status.compressedNodes), as Decode accepts it.
func (Engine) Detect(data []byte) bool {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return false
	}
	if data[0] != '{' {
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return false
		}
		data = j
	}
	var probe struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Templates           json.RawMessage `json:"templates"`
			WorkflowTemplateRef json.RawMessage `json:"workflowTemplateRef"`
		} `json:"spec"`
		Status struct {
			Nodes           json.RawMessage `json:"nodes"`
			CompressedNodes json.RawMessage `json:"compressedNodes"`
		} `json:"status"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return false
	}
	if probe.Kind == "" && probe.APIVersion == "" {
		return probe.Spec.Templates != nil || probe.Spec.WorkflowTemplateRef != nil ||
			probe.Status.Nodes != nil || probe.Status.CompressedNodes != nil
	}
	return probe.Kind == "Workflow" || strings.HasPrefix(probe.APIVersion, "argoproj.io/")
}

// Read decodes one Workflow (see Decode) and builds its run (see
// FromWorkflow); opts.Status is {{workflow.status}}, opts.Self is unused.
func (Engine) Read(data []byte, opts engine.Options) (*pipeline.Run, []string, error) {
	wf, nodes, v4, warnings, err := decode(data)
	if err != nil {
		return nil, warnings, err
	}
	run := fromWorkflow(wf, nodes, Options{Status: opts.Status})
	applyV4(run, v4)
	return run, warnings, nil
}

// FromArguments returns RunFromArguments(name, namespace, uid, status).
func (Engine) FromArguments(name, namespace, uid, status string) *pipeline.Run {
	return RunFromArguments(name, namespace, uid, status)
}

var _ engine.StreamReader = Engine{}

// ReadStream is Read of the JSON text r, streamed (see DecodeFrom): only the
// nodes are held, never the text.
func (Engine) ReadStream(r io.Reader, opts engine.Options) (*pipeline.Run, []string, error) {
	wf, nodes, v4, warnings, err := readWorkflow(r)
	if err != nil {
		return nil, warnings, err
	}
	run := fromWorkflow(wf, nodes, Options{Status: opts.Status})
	applyV4(run, v4)
	return run, warnings, nil
}
