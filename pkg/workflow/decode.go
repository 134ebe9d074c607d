package workflow

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/klauspost/compress/zstd"
	"sigs.k8s.io/yaml"
)

// MaxDecompressedNodes bounds the size of a decompressed status.compressedNodes,
// so a hostile or corrupt object cannot exhaust memory.
const MaxDecompressedNodes = 512 << 20

// maxDecompressed is MaxDecompressedNodes; tests lower it.
var maxDecompressed int64 = MaxDecompressedNodes

// DecodeArgo decodes one Argo Workflow from YAML or JSON, as `kubectl get wf
// -o yaml|json` or `argo get -o json` print it, and decodes
// status.compressedNodes into status.nodes.
//
// Decoding is lenient so that objects written by a newer Argo (v4 fields
// such as failedPodRestarts) still read: unknown fields are ignored, and a
// field whose type does not match Argo's v3 types is skipped with a
// warning. Input that is not a Workflow at all is an error whose message
// names what is wrong, on one line.
func DecodeArgo(data []byte) (*wfv1.Workflow, []string, error) {
	var warnings []string
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil, errors.New("decode workflow: input is empty")
	}
	if data[0] != '{' {
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, nil, fmt.Errorf("decode workflow: not YAML or JSON: %s", oneLine(err.Error()))
		}
		data = j
	}
	if len(data) == 0 || data[0] != '{' {
		return nil, nil, fmt.Errorf("decode workflow: expected an object, got %q", truncate(string(data), 40))
	}
	var wf wfv1.Workflow
	if err := json.Unmarshal(data, &wf); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, nil, fmt.Errorf("decode workflow: %s", oneLine(err.Error()))
		}
		// encoding/json skips the mismatched field and decodes the rest.
		warnings = append(warnings, fmt.Sprintf("ignored field %q: %s value where Argo's types expect %s (object from a newer Argo?)",
			typeErr.Field, typeErr.Value, typeErr.Type))
	}
	if err := checkKind(&wf); err != nil {
		return nil, nil, err
	}
	if wf.Status.CompressedNodes != "" {
		nodes, err := decompressNodes(wf.Status.CompressedNodes)
		if err != nil {
			return nil, nil, fmt.Errorf("decode workflow %s: status.compressedNodes: %w", wf.Name, err)
		}
		if len(wf.Status.Nodes) == 0 {
			wf.Status.Nodes = nodes
		}
		wf.Status.CompressedNodes = ""
	}
	return &wf, warnings, nil
}

func checkKind(wf *wfv1.Workflow) error {
	switch wf.Kind {
	case "Workflow":
	case "":
		// Some tools print the object without apiVersion and kind; accept it
		// if it looks like a workflow.
		if wf.Status.Phase == "" && wf.Status.StartedAt.IsZero() && len(wf.Status.Nodes) == 0 &&
			wf.Status.CompressedNodes == "" && len(wf.Spec.Templates) == 0 && wf.Spec.WorkflowTemplateRef == nil {
			return errors.New("decode workflow: not an Argo Workflow: no kind, no spec and no status")
		}
	case "List", "WorkflowList":
		return fmt.Errorf("decode workflow: got a %s; pass a single Workflow (kubectl get wf NAME -o json)", wf.Kind)
	default:
		return fmt.Errorf("decode workflow: not an Argo Workflow: kind is %q", truncate(wf.Kind, 60))
	}
	if wf.APIVersion != "" && !strings.HasPrefix(wf.APIVersion, "argoproj.io/") {
		return fmt.Errorf("decode workflow: not an Argo Workflow: apiVersion is %q", truncate(wf.APIVersion, 60))
	}
	if wf.Name == "" {
		return errors.New("decode workflow: metadata.name is missing")
	}
	return nil
}

// decompressNodes decodes Argo's status.compressedNodes: base64 of the
// compressed JSON node map. Argo v3 uses gzip; Argo v4.1 can also use zstd
// or brotli. The format is recognised by its magic bytes (brotli has none,
// so it is what remains).
func decompressNodes(s string) (wfv1.Nodes, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	var r io.Reader
	switch {
	case len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b:
		gz, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer gz.Close()
		r = gz
	case len(raw) >= 4 && raw[0] == 0x28 && raw[1] == 0xb5 && raw[2] == 0x2f && raw[3] == 0xfd:
		zr, err := zstd.NewReader(bytes.NewReader(raw), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(maxDecompressed)))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		r = brotli.NewReader(bytes.NewReader(raw))
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, fmt.Errorf("decompress (gzip, zstd or brotli): %w", err)
	}
	if int64(len(out)) > maxDecompressed {
		return nil, fmt.Errorf("decompressed node map exceeds %d bytes", maxDecompressed)
	}
	var nodes wfv1.Nodes
	if err := json.Unmarshal(out, &nodes); err != nil {
		return nil, fmt.Errorf("decoded node map is not JSON: %s", oneLine(err.Error()))
	}
	return nodes, nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return truncate(s, 300)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
