package argo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/limits"
)

// Decode decodes one Argo Workflow from YAML or JSON, as `kubectl get wf
// -o yaml|json` or `argo get -o json` print it, and decodes
// status.compressedNodes into status.nodes.
//
// Decoding is lenient so that objects written by a newer Argo (v4 fields
// such as failedPodRestarts) still read: unknown fields are ignored, and a
// field whose type does not match Argo's v3 types is skipped with a
// warning naming it, the rest of the object decoded. Input that is not a
// Workflow at all is an error whose message names what is wrong, on one
// line.
//
// Of each entry of status.nodes, only what FromWorkflow reads is decoded:
// node inputs, artifacts, exit codes, outbound nodes, progress, template
// scope, pod IP, memoization and synchronization status are left zero, and
// so are status.taskResultsCompletionStatus and status.storedTemplates.
// Times no timestamp can hold (before 1678, after 2262) are dropped with a
// warning. See DecodeFrom for the bounds.
func Decode(data []byte) (*wfv1.Workflow, []string, error) {
	wf, nodes, _, warnings, err := decode(data)
	if wf != nil {
		wf.Status.Nodes = nodes.status()
	}
	return wf, warnings, err
}

// DecodeFrom is Decode reading JSON from r in one pass, without holding
// the text or a decompressed node map: the memory it takes is that of the
// nodes it keeps. It refuses, with an error wrapping ErrTooLarge, a node
// map of more nodes than fit half the memory the process may use, and a
// compressed node map that inflates to more than a quarter of it
// (pkg/limits).
func DecodeFrom(r io.Reader) (*wfv1.Workflow, []string, error) {
	wf, nodes, _, warnings, err := readWorkflow(r)
	if wf != nil {
		wf.Status.Nodes = nodes.status()
	}
	return wf, warnings, err
}

// decode is Decode, returning the nodes in the walk's type apart from the
// workflow, and the Argo v4 node fields that v3's types have no place for.
func decode(data []byte) (*wfv1.Workflow, nodeMap, v4Nodes, []string, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil, nil, nil, errors.New("decode workflow: input is empty")
	}
	if data[0] != '{' {
		// YAML is converted whole: bound it tighter than JSON, which is
		// streamed, since the conversion holds several copies.
		if int64(len(data)) > limits.Input()/2 {
			return nil, nil, nil, nil, fmt.Errorf("decode workflow: %d MiB of YAML is more than this process converts within its memory limit (%d MiB); pass JSON (kubectl get wf -o json), which is streamed: %w",
				len(data)>>20, limits.Input()/2>>20, ErrTooLarge)
		}
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("decode workflow: not YAML or JSON: %s", engine.OneLine(err.Error()))
		}
		data = j
		if len(data) == 0 || data[0] != '{' {
			return nil, nil, nil, nil, fmt.Errorf("decode workflow: expected an object, got %q", engine.Truncate(string(data), 40))
		}
	}
	return readWorkflow(bytes.NewReader(data))
}

// checkKind checks that wf is a Workflow; nodes is the size of its node map.
func checkKind(wf *wfv1.Workflow, nodes int) error {
	switch wf.Kind {
	case "Workflow":
	case "":
		// Some tools print the object without apiVersion and kind; accept it
		// if it looks like a workflow.
		if wf.Status.Phase == "" && wf.Status.StartedAt.IsZero() && nodes == 0 &&
			wf.Status.CompressedNodes == "" && len(wf.Spec.Templates) == 0 && wf.Spec.WorkflowTemplateRef == nil {
			return errors.New("decode workflow: not an Argo Workflow: no kind, no spec and no status")
		}
	case "List", "WorkflowList":
		return fmt.Errorf("decode workflow: got a %s; pass a single Workflow (kubectl get wf NAME -o json)", wf.Kind)
	default:
		return fmt.Errorf("decode workflow: not an Argo Workflow: kind is %q", engine.Truncate(wf.Kind, 60))
	}
	if wf.APIVersion != "" && !strings.HasPrefix(wf.APIVersion, "argoproj.io/") {
		return fmt.Errorf("decode workflow: not an Argo Workflow: apiVersion is %q", engine.Truncate(wf.APIVersion, 60))
	}
	if wf.Name == "" {
		return errors.New("decode workflow: metadata.name is missing")
	}
	return nil
}
