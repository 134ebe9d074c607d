package argo

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/bench/synth"
	"github.com/step-metrics/step-metrics/internal/example"
)

// oracleInputs are every Argo status in testdata, the bundled example and
// synthetic workflows in both node map forms.
func oracleInputs(t testing.TB) map[string][]byte {
	t.Helper()
	in := map[string][]byte{"example": example.Workflow}
	files, err := filepath.Glob("../../../testdata/argo/*/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	top, _ := filepath.Glob("../../../testdata/argo/*.yaml")
	more, _ := filepath.Glob("../../../testdata/argo/*/*.json")
	for _, f := range append(append(files, top...), more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in[strings.TrimPrefix(f, "../../../testdata/argo/")] = b
	}
	if len(in) < 30 {
		t.Fatalf("only %d inputs found", len(in))
	}
	for _, compressed := range []bool{false, true} {
		b, err := synth.JSON(synth.Options{Nodes: 500, Seed: 3, Compressed: compressed})
		if err != nil {
			t.Fatal(err)
		}
		in["synth-500-compressed="+map[bool]string{false: "no", true: "yes"}[compressed]] = b
	}
	return in
}

// TestStreamMatchesOracle: on every status the old decoder (oracle_test.go)
// reads without a warning, the stream decoder gives the same run, v4 fields
// included.
func TestStreamMatchesOracle(t *testing.T) {
	compared := 0
	for name, data := range oracleInputs(t) {
		if !sameAsOracle(t, name, data) {
			continue
		}
		compared++
	}
	if compared < 30 {
		t.Errorf("only %d inputs compared", compared)
	}
}

// sameAsOracle compares the two decoders on data; false when the oracle
// does not read it cleanly (nothing to compare).
func sameAsOracle(t *testing.T, name string, data []byte) bool {
	t.Helper()
	owf, ov4, ow, oerr := oracleDecode(data)
	if oerr != nil || len(ow) > 0 || caseVariantKeys(data) {
		return false
	}
	wf, nodes, v4, w, err := decode(data)
	if err != nil {
		t.Errorf("%s: the oracle reads it, the stream decoder says %v", name, err)
		return true
	}
	if len(w) > 0 {
		t.Errorf("%s: warnings %q where the oracle has none", name, w)
	}
	// The stream decoder's nodes, walked as they come, against the
	// oracle's Argo types through FromWorkflow (the conversion nodesOf).
	a, b := fromWorkflow(wf, nodes, Options{}), FromWorkflow(owf, Options{})
	applyV4(a, v4)
	applyV4(b, ov4)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s: runs differ:\nstream %+v\noracle %+v", name, a, b)
	}
	return true
}

// FuzzStreamMatchesOracle: the stream decoder never panics, and on input
// the oracle reads without a warning it gives the oracle's run.
func FuzzStreamMatchesOracle(f *testing.F) {
	for name, data := range oracleInputs(f) {
		if len(data) < 20<<10 && !strings.HasPrefix(name, "synth") {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		sameAsOracle(t, "input", data)
	})
}

// exactKeys are the object keys the stream decoder matches exactly, as
// Kubernetes' own decoder does; encoding/json (the oracle) matches them
// whatever their case ("metAdAtA"), so inputs that spell one otherwise
// are not compared.
var exactKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"apiVersion", "kind", "metadata", "spec", "status", "nodes", "compressedNodes",
		"taskResultsCompletionStatus", "storedTemplates", "templates", "managedFields", "id", "name", "displayName",
		"type", "templateName", "phase", "boundaryID", "message", "hostNodeName", "startedAt", "finishedAt",
		"templateRef", "resourcesDuration", "nodeFlag", "daemoned", "children", "outputs", "failedPodRestarts",
		"taskResultSynced", "hooked", "retried", "parameters", "value"} {
		m[strings.ToLower(k)] = k
	}
	return m
}()

// caseVariantKeys reports whether data (YAML or JSON) has an object key
// that is one of exactKeys in another case.
func caseVariantKeys(data []byte) bool {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] != '{' {
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return false
		}
		data = j
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return false
		}
		// An object's names are the strings read where the decoder is
		// inside an object and about to read a value.
		if tok.Kind() == '"' {
			if k, n := dec.StackIndex(dec.StackDepth()); k == '{' && n%2 == 1 {
				name := tok.String()
				if canon, ok := exactKeys[strings.ToLower(name)]; ok && canon != name {
					return true
				}
			}
		}
	}
}
