package argo

// The decoder this package had before stream.go: encoding/json into Argo's
// types, the object and the decompressed node map held whole. It stays as
// the oracle of TestStreamMatchesOracle and FuzzStreamMatchesOracle: on
// input it decodes without warnings, the stream decoder must give the same
// run.

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/step-metrics/step-metrics/pkg/engine"

	"github.com/andybalholm/brotli"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/klauspost/compress/zstd"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var oracleMaxDecompressed int64 = 512 << 20

// decode is Decode, also returning the Argo v4 node fields that v3's types
// have no place for.
func oracleDecode(data []byte) (*wfv1.Workflow, v4Nodes, []string, error) {
	var warnings []string
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil, nil, errors.New("decode workflow: input is empty")
	}
	if data[0] != '{' {
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("decode workflow: not YAML or JSON: %s", engine.OneLine(err.Error()))
		}
		data = j
	}
	if len(data) == 0 || data[0] != '{' {
		return nil, nil, nil, fmt.Errorf("decode workflow: expected an object, got %q", engine.Truncate(string(data), 40))
	}
	var doc argoDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, nil, nil, fmt.Errorf("decode workflow: %s", engine.OneLine(err.Error()))
		}
		// encoding/json skips the mismatched field and decodes the rest.
		warnings = append(warnings, fmt.Sprintf("ignored field %q: %s value where Argo's types expect %s (object from a newer Argo?)",
			typeErr.Field, typeErr.Value, typeErr.Type))
	}
	wf := wfv1.Workflow{TypeMeta: doc.TypeMeta, ObjectMeta: doc.ObjectMeta, Spec: doc.Spec, Status: doc.Status.WorkflowStatus}
	var v4 v4Nodes
	wf.Status.Nodes, v4 = doc.Status.Nodes.nodes()
	if err := oracleCheckKind(&wf); err != nil {
		return nil, nil, nil, err
	}
	if wf.Status.CompressedNodes != "" {
		nodes, cv4, err := decompressNodes(wf.Status.CompressedNodes)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("decode workflow %s: status.compressedNodes: %w", wf.Name, err)
		}
		if len(wf.Status.Nodes) == 0 {
			wf.Status.Nodes, v4 = nodes, cv4
		}
		wf.Status.CompressedNodes = ""
	}
	return &wf, v4, warnings, nil
}

func oracleCheckKind(wf *wfv1.Workflow) error {
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

// decompressNodes decodes Argo's status.compressedNodes: base64 of the
// compressed JSON node map. Argo v3 uses gzip; Argo v4.1 can also use zstd
// or brotli. The format is recognised by its magic bytes (brotli has none,
// so it is what remains).
func decompressNodes(s string) (wfv1.Nodes, v4Nodes, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, nil, fmt.Errorf("not base64: %w", err)
	}
	var r io.Reader
	hint := 0
	switch {
	case len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b:
		hint = gzipSizeHint(raw)
		gz, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		defer gz.Close()
		r = gz
	case len(raw) >= 4 && raw[0] == 0x28 && raw[1] == 0xb5 && raw[2] == 0x2f && raw[3] == 0xfd:
		zr, err := zstd.NewReader(bytes.NewReader(raw), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(oracleMaxDecompressed))) //nolint:gosec // G115: oracleMaxDecompressed is a positive constant (tests lower it)
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		r = brotli.NewReader(bytes.NewReader(raw))
	}
	out, err := readAll(io.LimitReader(r, oracleMaxDecompressed+1), hint)
	if err != nil {
		return nil, nil, fmt.Errorf("decompress (gzip, zstd or brotli): %w", err)
	}
	if int64(len(out)) > oracleMaxDecompressed {
		return nil, nil, fmt.Errorf("decompressed node map exceeds %d bytes", oracleMaxDecompressed)
	}
	var nodes argoNodes
	if err := json.Unmarshal(out, &nodes); err != nil {
		return nil, nil, fmt.Errorf("decoded node map is not JSON: %s", engine.OneLine(err.Error()))
	}
	n, v4 := nodes.nodes()
	return n, v4, nil
}

// gzipSizeHint returns the decompressed size a gzip stream's trailer
// (ISIZE) states, as a capacity hint for reading it: bounded by what a
// JSON text plausibly expands to and by oracleMaxDecompressed, because the
// trailer is untrusted.
func gzipSizeHint(raw []byte) int {
	if len(raw) < 18 {
		return 0
	}
	n := int64(binary.LittleEndian.Uint32(raw[len(raw)-4:]))
	return int(min(n, 64*int64(len(raw)), oracleMaxDecompressed))
}

// readAll is io.ReadAll starting with room for hint bytes (and the EOF
// read after them), so that a large node map is not copied as it grows.
func readAll(r io.Reader, hint int) ([]byte, error) {
	b := make([]byte, 0, max(hint+bytes.MinRead, bytes.MinRead))
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return b, nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow as append does
		}
	}
}

// argoDoc is the Workflow as Decode reads it: in full, but for the
// node map (argoNodes) and the per-pod task result flags, which FromWorkflow
// does not need.
type argoDoc struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              wfv1.WorkflowSpec `json:"spec"`
	Status            struct {
		wfv1.WorkflowStatus
		// These shadow the embedded fields of the same JSON names.
		Nodes                       argoNodes `json:"nodes,omitempty"`
		TaskResultsCompletionStatus skipped   `json:"taskResultsCompletionStatus,omitempty"`
	} `json:"status,omitempty"`
}

// argoNodes is status.nodes as Decode reads it.
type argoNodes map[string]*argoNode

// nodes returns the node map in Argo's type, nil if there is none, and
// the Argo v4 fields of the nodes that have any.
func (m argoNodes) nodes() (wfv1.Nodes, v4Nodes) {
	if m == nil {
		return nil, nil
	}
	var v4 v4Nodes
	out := make(wfv1.Nodes, len(m))
	for id, n := range m {
		if n == nil { // "id": null
			out[id] = wfv1.NodeStatus{}
			continue
		}
		s := n.NodeStatus
		s.StartedAt, s.FinishedAt = n.StartedAt.Time, n.FinishedAt.Time
		if n.Outputs != nil {
			s.Outputs = &wfv1.Outputs{}
			if len(n.Outputs.Parameters) > 0 {
				s.Outputs.Parameters = make([]wfv1.Parameter, len(n.Outputs.Parameters))
				for i, p := range n.Outputs.Parameters {
					s.Outputs.Parameters[i] = p.Parameter
				}
			}
		}
		out[id] = s
		if n.FailedPodRestarts > 0 || n.TaskResultSynced != nil {
			if v4 == nil {
				v4 = v4Nodes{}
			}
			v4[id] = v4Node{FailedPodRestarts: n.FailedPodRestarts, TaskResultSynced: n.TaskResultSynced}
		}
	}
	return out, v4
}

// argoNode is one entry of status.nodes, with the fields FromWorkflow reads.
// The others are shadowed by fields of the same JSON names that the
// decoder only scans past; times are parsed without a second JSON decode.
type argoNode struct {
	wfv1.NodeStatus
	StartedAt             argoTime     `json:"startedAt,omitempty"`
	FinishedAt            argoTime     `json:"finishedAt,omitempty"`
	Outputs               *argoOutputs `json:"outputs,omitempty"`
	TemplateScope         skipped      `json:"templateScope,omitempty"`
	EstimatedDuration     skipped      `json:"estimatedDuration,omitempty"`
	Progress              skipped      `json:"progress,omitempty"`
	PodIP                 skipped      `json:"podIP,omitempty"`
	Inputs                skipped      `json:"inputs,omitempty"`
	OutboundNodes         skipped      `json:"outboundNodes,omitempty"`
	MemoizationStatus     skipped      `json:"memoizationStatus,omitempty"`
	SynchronizationStatus skipped      `json:"synchronizationStatus,omitempty"`
	// Argo v4 fields (see v4Node).
	FailedPodRestarts int32 `json:"failedPodRestarts,omitempty"`
	TaskResultSynced  *bool `json:"taskResultSynced,omitempty"`
}

// argoOutputs are a node's outputs: only the parameters (where steps
// publish their own metrics) are read.
type argoOutputs struct {
	Parameters []argoParameter `json:"parameters,omitempty"`
}

// argoParameter is an output parameter: its name and value.
type argoParameter struct {
	wfv1.Parameter
	Default     skipped `json:"default,omitempty"`
	ValueFrom   skipped `json:"valueFrom,omitempty"`
	GlobalName  skipped `json:"globalName,omitempty"`
	Enum        skipped `json:"enum,omitempty"`
	Description skipped `json:"description,omitempty"`
}

// skipped is a field Decode does not read: the decoder scans past its
// value, whatever its type.
type skipped struct{}

// UnmarshalJSON ignores the value.
func (*skipped) UnmarshalJSON([]byte) error { return nil }

// argoTime is a metav1.Time that parses the common case, a quoted
// RFC 3339 time in plain ASCII, directly; anything else (null, escapes, a
// number) goes through metav1.Time's own decoder, errors included.
type argoTime struct{ metav1.Time }

// UnmarshalJSON decodes as metav1.Time does.
func (t *argoTime) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return t.Time.UnmarshalJSON(b)
	}
	for _, c := range b[1 : len(b)-1] {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return t.Time.UnmarshalJSON(b)
		}
	}
	pt, err := time.Parse(time.RFC3339, string(b[1:len(b)-1]))
	if err != nil {
		return err
	}
	t.Time = metav1.NewTime(pt.Local())
	return nil
}
