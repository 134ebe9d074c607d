package argo

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/step-metrics/step-metrics/pkg/pipeline"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/internal/example"
)

func TestDecodeArgoBadInput(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "input is empty"},
		{"blank", " \n\t ", "input is empty"},
		{"not yaml", "kind: [unclosed", "not YAML or JSON"},
		{"scalar", "just a string", "expected an object"},
		{"array", "[1, 2]", "expected an object"},
		{"bad json", `{"kind": "Workflow",`, "decode workflow"},
		{"other kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", `kind is "Pod"`},
		{"other group", "apiVersion: tekton.dev/v1\nkind: Workflow\nmetadata: {name: p}\n", `apiVersion is "tekton.dev/v1"`},
		{"list", "apiVersion: v1\nkind: List\nitems: []\n", "pass a single Workflow"},
		{"workflow list", "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowList\nitems: []\n", "pass a single Workflow"},
		{"no name", "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nstatus: {phase: Running}\n", "metadata.name is missing"},
		{"no kind nothing", "metadata: {name: x}\n", "no kind, no spec and no status"},
		{"compressed not base64", "kind: Workflow\nmetadata: {name: x}\nstatus: {compressedNodes: '!!!'}\n", "not base64"},
		{"compressed garbage", "kind: Workflow\nmetadata: {name: x}\nstatus: {compressedNodes: " + base64.StdEncoding.EncodeToString([]byte("garbage bytes")) + "}\n", "compressedNodes"},
		{"compressed not json", "kind: Workflow\nmetadata: {name: x}\nstatus: {compressedNodes: " + gzipB64(t, []byte("not json")) + "}\n", "not JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wf, _, err := Decode([]byte(c.in))
			if err == nil {
				t.Fatalf("Decode(%q) = %v, want error containing %q", c.in, wf.Name, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestDecodeArgoLongErrorIsTruncated(t *testing.T) {
	in := "apiVersion: v1\nkind: " + strings.Repeat("K", 10000) + "\nmetadata: {name: x}\n"
	_, _, err := Decode([]byte(in))
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("want a short error, got %d bytes: %v", len(err.Error()), err)
	}
}

func TestDecodeArgoYAMLAndJSONAgree(t *testing.T) {
	fromYAML, _, err := Decode(example.Workflow)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(example.Workflow)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, _, err := Decode(j)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Error("YAML and JSON forms of the example decode differently")
	}
	if len(fromYAML.Status.Nodes) == 0 {
		t.Fatal("example has no nodes")
	}
}

// TestDecodeArgoNewerFields: an object from Argo v4 has fields v3's types do
// not know (ignored) and may have fields whose type changed (skipped with a
// warning); the rest still reads.
func TestDecodeArgoNewerFields(t *testing.T) {
	in := `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf-v4, namespace: ml}
status:
  phase: Succeeded
  startedAt: "2026-01-01T00:00:00Z"
  finishedAt: "2026-01-01T00:01:00Z"
  someV4Only: {nested: true}
  nodes:
    wf-v4:
      id: wf-v4
      name: wf-v4
      displayName: wf-v4
      type: Steps
      phase: Succeeded
      failedPodRestarts: 2
      startedAt: "2026-01-01T00:00:00Z"
      finishedAt: "2026-01-01T00:01:00Z"
`
	wf, warnings, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("unknown fields should be silent, got %q", warnings)
	}
	if wf.Status.Nodes["wf-v4"].Phase != "Succeeded" {
		t.Errorf("root node not read: %+v", wf.Status.Nodes)
	}

	// progress is a string in v3's types; a number here is a type change.
	changed := strings.Replace(in, "  phase: Succeeded\n  startedAt", "  phase: Succeeded\n  progress: 7\n  startedAt", 1)
	wf, warnings, err = Decode([]byte(changed))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "progress") {
		t.Errorf("want one warning naming progress, got %q", warnings)
	}
	if wf.Status.Phase != "Succeeded" || len(wf.Status.Nodes) != 1 {
		t.Errorf("rest of the object not read: phase %q, %d nodes", wf.Status.Phase, len(wf.Status.Nodes))
	}
}

func TestDecodeArgoWithoutKind(t *testing.T) {
	in := "metadata: {name: bare}\nstatus: {phase: Succeeded}\n"
	wf, _, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if wf.Name != "bare" {
		t.Errorf("name %q", wf.Name)
	}
}

func gzipB64(t testing.TB, b []byte) string {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func zstdB64(t testing.TB, b []byte) string {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return base64.StdEncoding.EncodeToString(enc.EncodeAll(b, nil))
}

func brotliB64(t testing.TB, b []byte) string {
	var buf bytes.Buffer
	w := brotli.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// compress moves the nodes of a fixture into status.compressedNodes, as
// Argo's controller does for big workflows.
func compress(t *testing.T, data []byte, enc func(testing.TB, []byte) string) []byte {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	status := obj["status"].(map[string]any)
	nodes, err := json.Marshal(status["nodes"])
	if err != nil {
		t.Fatal(err)
	}
	delete(status, "nodes")
	status["compressedNodes"] = enc(t, nodes)
	out, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeArgoCompressedNodes(t *testing.T) {
	inputs := map[string][]byte{"example": example.Workflow}
	for _, name := range []string{"07-steps-withitems-fanout-succeeded.yaml", "16-dag-retry-failed.yaml"} {
		b, err := os.ReadFile(filepath.Join(fixtureDir, name))
		if err != nil {
			t.Fatal(err)
		}
		inputs[name] = b
	}
	encoders := map[string]func(testing.TB, []byte) string{"gzip": gzipB64, "zstd": zstdB64, "brotli": brotliB64}
	for name, data := range inputs {
		plain, _, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		for encName, enc := range encoders {
			t.Run(name+"/"+encName, func(t *testing.T) {
				wf, _, err := Decode(compress(t, data, enc))
				if err != nil {
					t.Fatal(err)
				}
				if wf.Status.CompressedNodes != "" {
					t.Error("compressedNodes left in place after decoding")
				}
				if !reflect.DeepEqual(wf.Status.Nodes, plain.Status.Nodes) {
					t.Errorf("%s: %d nodes decoded, want the %d of the plain form", encName, len(wf.Status.Nodes), len(plain.Status.Nodes))
				}
				a, b := FromWorkflow(wf, Options{}), FromWorkflow(plain, Options{})
				if !reflect.DeepEqual(a.Steps, b.Steps) {
					t.Error("steps differ between compressed and plain forms")
				}
			})
		}
	}
}

func TestDecodeArgoDecompressionBomb(t *testing.T) {
	old := maxInflated
	maxInflated = func() int64 { return 1 << 20 }
	defer func() { maxInflated = old }()
	big := []byte(`{"a":"` + strings.Repeat("x", 2<<20) + `"}`)
	for encName, enc := range map[string]func(testing.TB, []byte) string{"gzip": gzipB64, "zstd": zstdB64, "brotli": brotliB64} {
		in := "kind: Workflow\nmetadata: {name: bomb}\nstatus: {compressedNodes: " + enc(t, big) + "}\n"
		_, _, err := Decode([]byte(in))
		if err == nil {
			t.Errorf("%s: a node map over the limit was accepted", encName)
			continue
		}
		if !strings.Contains(err.Error(), "exceeds") && !strings.Contains(err.Error(), "memory") {
			t.Errorf("%s: error does not say the limit was hit: %v", encName, err)
		}
	}
}

// TestDecodeArgoOffloaded: nodes offloaded to Argo's database and no Argo
// Server: pipeline-level metrics only, with a warning that says what to do.
func TestDecodeArgoOffloaded(t *testing.T) {
	in := `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: big-run, namespace: ml, uid: u-1}
status:
  phase: Failed
  startedAt: "2026-01-01T00:00:00Z"
  finishedAt: "2026-01-01T00:10:00Z"
  offloadNodeStatusVersion: fnv:1234
`
	wf, _, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	run := FromWorkflow(wf, Options{})
	if !run.StepsUnavailable {
		t.Error("StepsUnavailable not set")
	}
	if len(run.Steps) != 0 {
		t.Errorf("%d steps from an offloaded run", len(run.Steps))
	}
	if run.Result != pipeline.ResultFailure {
		t.Errorf("result %q, want failure from the workflow phase", run.Result)
	}
	found := false
	for _, w := range run.Warnings {
		if strings.Contains(w, "offloaded") && strings.Contains(w, "--argo-server") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning naming offloading and --argo-server: %q", run.Warnings)
	}
}
