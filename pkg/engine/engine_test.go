package engine_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/step-metrics/step-metrics/internal/example"
	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/engine/argo"
	"github.com/step-metrics/step-metrics/pkg/engine/tekton"
)

func fixtures(t *testing.T, patterns ...string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, p := range patterns {
		files, err := filepath.Glob(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[f] = b
		}
	}
	return out
}

// TestDetect: every real Argo status is Argo's and not Tekton's, every
// Tekton one the other way round, and input of neither kind goes to the
// fallback, whose Read then names the problem.
func TestDetect(t *testing.T) {
	argoFiles := fixtures(t, "../../testdata/argo/*.yaml")
	argoFiles["example"] = example.Workflow
	tektonFiles := fixtures(t, "../../testdata/tekton/*.yaml", "../../testdata/tekton/generated/*.yaml")
	if len(argoFiles) < 15 || len(tektonFiles) < 6 {
		t.Fatalf("%d Argo and %d Tekton fixtures: the globs found too few", len(argoFiles), len(tektonFiles))
	}
	a, tk := argo.Engine{}, tekton.Engine{}
	for name, b := range argoFiles {
		if !a.Detect(b) || tk.Detect(b) {
			t.Errorf("%s: argo.Detect = %v, tekton.Detect = %v; want true, false", name, a.Detect(b), tk.Detect(b))
		}
		if got := engine.Detect(b, a, tk); got.Name() != argo.Name {
			t.Errorf("%s: Detect = %s, want argo", name, got.Name())
		}
	}
	for name, b := range tektonFiles {
		if a.Detect(b) || !tk.Detect(b) {
			t.Errorf("%s: argo.Detect = %v, tekton.Detect = %v; want false, true", name, a.Detect(b), tk.Detect(b))
		}
		if got := engine.Detect(b, a, tk); got.Name() != tekton.Name {
			t.Errorf("%s: Detect = %s, want tekton", name, got.Name())
		}
	}
	for _, junk := range []string{"", "{}", "kind: ConfigMap", "not: [yaml", "\x00\x01"} {
		if got := engine.Detect([]byte(junk), a, tk); got.Name() != argo.Name {
			t.Errorf("Detect(%q) = %s, want the fallback", junk, got.Name())
		}
		if got := engine.Detect([]byte(junk), tk, a); got.Name() != tekton.Name {
			t.Errorf("Detect(%q) with Tekton as fallback = %s", junk, got.Name())
		}
	}
}

// TestReadIsDecodeThenBuild: Engine.Read gives exactly what the two-step
// Argo API gives, and passes the status through.
func TestReadIsDecodeThenBuild(t *testing.T) {
	for _, status := range []string{"", "Failed"} {
		run, warnings, err := argo.Engine{}.Read(example.Workflow, engine.Options{Status: status})
		if err != nil {
			t.Fatal(err)
		}
		wf, w2, err := argo.Decode(example.Workflow)
		if err != nil {
			t.Fatal(err)
		}
		want := argo.FromWorkflow(wf, argo.Options{Status: status})
		if !reflect.DeepEqual(run, want) || !reflect.DeepEqual(warnings, w2) {
			t.Errorf("status %q: Read differs from Decode+FromWorkflow", status)
		}
	}
	if _, _, err := (argo.Engine{}).Read([]byte("kind: ConfigMap\nmetadata: {name: x}"), engine.Options{}); err == nil {
		t.Error("argo Read of a ConfigMap: no error")
	}
	if _, _, err := (tekton.Engine{}).Read([]byte("kind: ConfigMap\nmetadata: {name: x}"), engine.Options{}); err == nil {
		t.Error("tekton Read of a ConfigMap: no error")
	}
}

// TestFromArguments: both engines give a pipeline-level run without steps
// and with the pipeline guessed from the name.
func TestFromArguments(t *testing.T) {
	for _, e := range []engine.Engine{argo.Engine{}, tekton.Engine{}} {
		run := e.FromArguments("train-x7k2p", "ml", "uid-1", "Failed")
		if run.Engine != e.Name() || run.Name != "train-x7k2p" || run.Namespace != "ml" || run.UID != "uid-1" ||
			run.Pipeline != "train" || !run.StepsUnavailable || run.Result != "failure" || len(run.Warnings) == 0 {
			t.Errorf("%s: FromArguments = %+v", e.Name(), run)
		}
	}
}

func TestPipelineFromName(t *testing.T) {
	for in, want := range map[string]string{
		"train-x7k2p":         "train",
		"nightly-1735689600":  "nightly",
		"train":               "train",
		"train-abcde":         "train-abcde", // vowels: not Kubernetes' generateName alphabet
		"-x7k2p":              "-x7k2p",      // nothing left: keep the name
		"ml-pipeline-run-q8z": "ml-pipeline-run-q8z",
	} {
		if got := engine.PipelineFromName(in); got != want {
			t.Errorf("PipelineFromName(%q) = %q, want %q", in, got, want)
		}
	}
}
