package argo_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/bench/synth"
	"github.com/step-metrics/step-metrics/internal/example"
	"github.com/step-metrics/step-metrics/pkg/engine/argo"
)

// Decode reads only the node fields FromWorkflow needs. The Run it gives
// must be the one a full decode into Argo's own types gives, for every
// fixture, the bundled example and synthetic fan-outs in both forms.
func TestDecodeArgoLeanSameRun(t *testing.T) {
	inputs := map[string][]byte{"example": example.Workflow}
	files, err := filepath.Glob("../../../testdata/argo/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(f)] = b
	}
	for _, n := range []int{synth.MinNodes, 100, 1000} {
		for _, c := range []bool{false, true} {
			b, err := synth.JSON(synth.Options{Nodes: n, Seed: uint64(n), Compressed: c, Running: n == 100})
			if err != nil {
				t.Fatal(err)
			}
			inputs[fmt.Sprintf("synth-%d-compressed=%v", n, c)] = b
		}
	}
	if len(files) < 15 || len(inputs) != len(files)+7 {
		t.Fatalf("%d fixtures, %d inputs: fixtures not found?", len(files), len(inputs))
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			lean, _, err := argo.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			full := fullDecode(t, data)
			if len(lean.Status.Nodes) != len(full.Status.Nodes) || len(full.Status.Nodes) == 0 {
				t.Fatalf("%d nodes decoded, want %d (and some)", len(lean.Status.Nodes), len(full.Status.Nodes))
			}
			for _, opts := range []argo.Options{{}, {Status: "Failed"}} {
				got, want := argo.FromWorkflow(lean, opts), argo.FromWorkflow(full, opts)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("FromWorkflow differs between the lean and the full decode (opts %+v):\nlean %+v\nfull %+v", opts, got, want)
				}
			}
		})
	}
}

// fullDecode is what Decode did before it read nodes leanly:
// everything into Argo's own types.
func fullDecode(t *testing.T, data []byte) *wfv1.Workflow {
	t.Helper()
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	var wf wfv1.Workflow
	if err := json.Unmarshal(j, &wf); err != nil {
		t.Fatal(err)
	}
	if wf.Status.CompressedNodes != "" {
		raw, err := base64.StdEncoding.DecodeString(wf.Status.CompressedNodes)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(plain, &wf.Status.Nodes); err != nil {
			t.Fatal(err)
		}
		wf.Status.CompressedNodes = ""
	}
	return &wf
}

// Odd node values decode as Argo's types decode them: null is a zero node,
// a node of the wrong type is skipped with a warning.
func TestDecodeArgoLeanOddNodes(t *testing.T) {
	for _, in := range []string{
		`{"kind":"Workflow","metadata":{"name":"w"},"status":{"nodes":{"a":null}}}`,
		`{"kind":"Workflow","metadata":{"name":"w"},"status":{"nodes":{"a":{"id":"a","startedAt":null,"finishedAt":"2026-01-01T00:00:00.5+02:00","outputs":null}}}}`,
		`{"kind":"Workflow","metadata":{"name":"w"},"status":{"nodes":{"a":{"id":"a","startedAt":"2026-01-01T00:00:00\u005a","outputs":{"parameters":[{"name":"p","value":1.5}]}}}}}`,
		`{"kind":"Workflow","metadata":{"name":"w"},"status":{"nodes":{"a":{"id":"a","children":"b","inputs":7,"progress":[1]}}}}`,
	} {
		lean, warnings, err := argo.Decode([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		full := fullDecodeLenient(t, []byte(in))
		if got, want := argo.FromWorkflow(lean, argo.Options{}), argo.FromWorkflow(full, argo.Options{}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: lean %+v, full %+v (warnings %q)", in, got, want, warnings)
		}
	}
	for _, bad := range []string{
		`{"kind":"Workflow","metadata":{"name":"w"},"status":{"nodes":{"a":{"startedAt":"yesterday"}}}}`,
		`{"kind":"Workflow","metadata":{"name":"w"},"status":{"nodes":{"a":{"startedAt":17}}}}`,
	} {
		// A malformed time, or one of the wrong type, costs that field
		// and a warning naming it, never the node or the rest of the
		// object (encoding/json stops at a malformed time).
		wf, warnings, err := argo.Decode([]byte(bad))
		if err != nil {
			t.Errorf("%s: %v", bad, err)
			continue
		}
		if n, ok := wf.Status.Nodes["a"]; !ok || !n.StartedAt.IsZero() {
			t.Errorf("%s: node a %+v (present %v), want it with no startedAt", bad, n, ok)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "startedAt") {
			t.Errorf("%s: warnings %q, want one naming startedAt", bad, warnings)
		}
	}
}

// fullDecodeLenient is fullDecode for JSON with mismatched types, which
// encoding/json skips.
func fullDecodeLenient(t *testing.T, data []byte) *wfv1.Workflow {
	t.Helper()
	var wf wfv1.Workflow
	_ = json.Unmarshal(data, &wf)
	return &wf
}
