package lint

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// repoRoot is the main module's root, seen from this package's directory
// (go test runs a package's tests in its directory).
var repoRoot = filepath.Join("..", "..")

// TestRepoManifests lints every YAML file in templates/ and
// examples/workflows/. It fails when either is missing, holds no YAML file
// or no Argo document, or when the number of files checked differs from an
// independent count, so it cannot pass without checking anything.
func TestRepoManifests(t *testing.T) {
	roots := []string{filepath.Join(repoRoot, "templates"), filepath.Join(repoRoot, "examples", "workflows")}
	s := NewSet()
	if err := s.AddRoots(Lint, roots...); err != nil {
		t.Fatalf("%v\nthe manifest lint needs YAML files in templates/ and examples/workflows/", err)
	}
	// Templates elsewhere under examples/ serve references too, unlinted.
	if _, err := s.AddDir(filepath.Join(repoRoot, "examples"), Library); err != nil {
		t.Fatalf("examples/: %v", err)
	}
	checkSet(t, s, repoRoot, roots)
}

// TestSamples runs the same check on the sample manifests in
// testdata/samples, which use every kind of call the reference check
// follows, and expects no problem.
func TestSamples(t *testing.T) {
	dir := filepath.Join("testdata", "samples")
	roots := []string{filepath.Join(dir, "templates"), filepath.Join(dir, "examples", "workflows")}
	s := NewSet()
	if err := s.AddRoots(Lint, roots...); err != nil {
		t.Fatal(err)
	}
	st := checkSet(t, s, dir, roots)
	want := Stats{
		Files: 7, Documents: 10,
		Validated: map[string]int{KindWorkflow: 2, KindWorkflowTemplate: 2, KindClusterWorkflowTemplate: 1, KindCronWorkflow: 1},
		Skipped:   map[string]int{"ServiceAccount": 1, "Role": 1, "RoleBinding": 1, "ConfigMap": 1},
		Calls:     10, Refs: 7,
	}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("stats:\n got %+v\nwant %+v", st, want)
	}
}

// checkSet lints s, reports each problem in a subtest named after its file
// (relative to base), and checks the counts. It returns the Set's stats.
func checkSet(t *testing.T, s *Set, base string, roots []string) Stats {
	t.Helper()
	rel := func(file string) string {
		if r, err := filepath.Rel(base, file); err == nil {
			return filepath.ToSlash(r)
		}
		return file
	}
	problems := s.Lint()
	st := s.Stats()
	if want := countYAML(t, roots...); st.Files != want {
		t.Errorf("checked %d files, but %v hold %d YAML files", st.Files, roots, want)
	}
	for _, root := range roots {
		n := 0
		for _, d := range s.Documents() {
			if d.Mode == Lint && d.Object != nil && strings.HasPrefix(d.File, root+string(filepath.Separator)) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s: no Argo document (Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow) to validate", root)
		}
	}
	t.Logf("checked %d files, %d documents; validated %v; parsed only %v; %d template calls, %d of them templateRefs",
		st.Files, st.Documents, st.Validated, st.Skipped, st.Calls, st.Refs)

	byFile := map[string][]Problem{}
	for _, p := range problems {
		byFile[p.File] = append(byFile[p.File], p)
	}
	for _, file := range s.Files() {
		problems := byFile[file]
		delete(byFile, file)
		t.Run(rel(file), func(t *testing.T) {
			for _, p := range problems {
				p.File = rel(p.File)
				t.Error(p)
			}
		})
	}
	for file, problems := range byFile {
		t.Errorf("problems for a file that was not added: %s: %v", file, problems)
	}
	return st
}

// countYAML counts the YAML files under roots without the Set's walk.
func countYAML(t *testing.T, roots ...string) int {
	t.Helper()
	n := 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && IsYAML(d.Name()) {
				n++
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestRootsMustHoldYAML: a missing root, or one without a YAML file, fails.
func TestRootsMustHoldYAML(t *testing.T) {
	tmp := t.TempDir()
	empty := filepath.Join(tmp, "empty")
	onlyReadme := filepath.Join(tmp, "readme-only")
	for _, dir := range []string{empty, onlyReadme} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(onlyReadme, "README.md"), []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{filepath.Join(tmp, "missing"), empty, onlyReadme} {
		if err := NewSet().AddRoots(Lint, root); err == nil {
			t.Errorf("AddRoots(%s) succeeded, want an error", root)
		} else {
			t.Logf("AddRoots(%s): %v", filepath.Base(root), err)
		}
	}
}

// validWorkflow is the control for the negative cases, each a small change of it.
const validWorkflow = `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: neg-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: train
            templateRef:
              name: ml-steps
              template: train
            arguments:
              parameters:
                - name: model
                  value: m
            hooks:
              exit:
                templateRef:
                  name: step-metrics
                  template: push-metrics
                  clusterScope: true
`

// TestNegative proves that each check can fail: every broken document must
// produce a problem of the expected check, path and message, and the valid
// control none.
func TestNegative(t *testing.T) {
	cases := []struct {
		name      string
		doc       string
		check     Check
		path, msg string // substrings of the problem's Path and Msg
	}{
		{name: "valid control", doc: validWorkflow},
		{
			name:  "unknown field in spec",
			doc:   strings.Replace(validWorkflow, "  entrypoint: main", "  entrypoint: main\n  serviceAcountName: x", 1),
			check: CheckSchema, path: "spec.serviceAcountName", msg: "unknown field",
		},
		{
			// Argo's ParallelSteps decodes the steps inside it leniently:
			// strict decoding alone does not see this one.
			name:  "unknown field inside a step's templateRef",
			doc:   strings.Replace(validWorkflow, "              template: train", "              template: train\n              clusterscope: true", 1),
			check: CheckSchema, path: "spec.templates[0].steps[0][0].templateRef.clusterscope", msg: "unknown field",
		},
		{
			// encoding/json matches keys case-insensitively.
			name:  "wrongly cased field",
			doc:   strings.Replace(validWorkflow, "  entrypoint: main", "  entryPoint: main", 1),
			check: CheckSchema, path: "spec.entryPoint", msg: "unknown field",
		},
		{
			name:  "templateRef to a missing WorkflowTemplate",
			doc:   strings.Replace(validWorkflow, "name: ml-steps", "name: ml-stepz", 1),
			check: CheckRefs, path: "spec.templates[main].steps[0][train].templateRef", msg: `WorkflowTemplate "ml-stepz" not found`,
		},
		{
			name:  "templateRef to a missing template",
			doc:   strings.Replace(validWorkflow, "template: train", "template: trian", 1),
			check: CheckRefs, path: "spec.templates[main].steps[0][train].templateRef", msg: `has no template "trian"`,
		},
		{
			name:  "templateRef to a ClusterWorkflowTemplate without clusterScope",
			doc:   strings.Replace(validWorkflow, "                  clusterScope: true\n", "", 1),
			check: CheckRefs, path: "spec.templates[main].steps[0][train].hooks[exit].templateRef", msg: "add clusterScope: true",
		},
		{
			name:  "missing required parameter",
			doc:   strings.Replace(validWorkflow, "                - name: model\n                  value: m\n", "                - name: epochs\n                  value: \"2\"\n", 1),
			check: CheckRefs, path: "spec.templates[main].steps[0][train].arguments.parameters", msg: `does not pass parameter "model"`,
		},
		{
			name:  "unknown parameter",
			doc:   strings.Replace(validWorkflow, "                  value: m\n", "                  value: m\n                - name: epoch\n                  value: \"2\"\n", 1),
			check: CheckRefs, path: "spec.templates[main].steps[0][train].arguments.parameters", msg: `passes parameter "epoch", which template "train" of WorkflowTemplate "ml-steps" does not declare`,
		},
		{
			name:  "step hooks.exit templateRef to a missing template",
			doc:   strings.Replace(validWorkflow, "template: push-metrics", "template: push-metricz", 1),
			check: CheckRefs, path: "spec.templates[main].steps[0][train].hooks[exit].templateRef", msg: `has no template "push-metricz"`,
		},
		{
			name: "workflow hooks.exit templateRef to a missing ClusterWorkflowTemplate",
			doc: strings.Replace(validWorkflow, "  entrypoint: main", `  entrypoint: main
  hooks:
    exit:
      templateRef: {name: no-such-cwft, template: push-metrics, clusterScope: true}`, 1),
			check: CheckRefs, path: "spec.hooks[exit].templateRef", msg: `ClusterWorkflowTemplate "no-such-cwft" not found`,
		},
		{
			name: "onExit handler's templateRef to a missing template",
			doc: strings.Replace(validWorkflow, "  templates:\n", `  onExit: bye
  templates:
    - name: bye
      steps:
        - - name: push
            templateRef: {name: step-metrics, template: push, clusterScope: true}
`, 1),
			check: CheckRefs, path: "spec.templates[bye].steps[0][push].templateRef", msg: `has no template "push"`,
		},
		{
			name: "exit hook without arguments, required parameter not in spec.arguments",
			doc: strings.Replace(validWorkflow, "  entrypoint: main", `  entrypoint: main
  hooks:
    exit:
      templateRef: {name: ml-steps, template: notify}`, 1),
			check: CheckRefs, path: "spec.hooks[exit]", msg: `requires parameter "message"`,
		},
		{
			name:  "onExit names a missing template",
			doc:   strings.Replace(validWorkflow, "  entrypoint: main", "  entrypoint: main\n  onExit: nope", 1),
			check: CheckRefs, path: "spec.onExit", msg: `template "nope" not found`,
		},
		{
			name:  "Argo validator: entrypoint names a missing template",
			doc:   strings.Replace(validWorkflow, "  entrypoint: main", "  entrypoint: mian", 1),
			check: CheckArgo, msg: "mian",
		},
		{
			name: "Argo validator: malformed cron schedule",
			doc: `apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: bad-cron}
spec:
  schedules: ["0 25 * * *"]
  workflowSpec:
    workflowTemplateRef: {name: ml-pipeline}
`,
			check: CheckArgo, msg: "malformed",
		},
		{
			name:  "missing kind",
			doc:   strings.Replace(validWorkflow, "kind: Workflow\n", "", 1),
			check: CheckParse, path: "kind", msg: "missing",
		},
		{
			name:  "missing apiVersion on a non-Argo kind",
			doc:   "kind: ConfigMap\nmetadata: {name: x}\n",
			check: CheckParse, path: "apiVersion", msg: "missing",
		},
		{
			name:  "wrong apiVersion for an Argo kind",
			doc:   strings.Replace(validWorkflow, "argoproj.io/v1alpha1", "argoproj.io/v1", 1),
			check: CheckParse, path: "apiVersion", msg: "needs apiVersion argoproj.io/v1alpha1",
		},
		{
			name:  "not YAML",
			doc:   "apiVersion: v1\nkind: [ConfigMap\n",
			check: CheckParse, msg: "not valid YAML",
		},
		{
			name:  "duplicate key",
			doc:   strings.Replace(validWorkflow, "  entrypoint: main", "  entrypoint: main\n  entrypoint: main", 1),
			check: CheckParse, msg: "not valid YAML",
		},
		{
			name:  "wrong type",
			doc:   strings.Replace(validWorkflow, "  entrypoint: main", "  entrypoint: main\n  parallelism: lots", 1),
			check: CheckParse, msg: "does not decode",
		},
		{
			name: "duplicate WorkflowTemplate",
			doc: `apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: ml-steps}
spec:
  templates: [{name: t, container: {image: busybox}}]
`,
			check: CheckParse, path: "metadata.name", msg: `duplicate WorkflowTemplate "ml-steps"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSet()
			if _, err := s.AddDir(filepath.Join("testdata", "samples", "templates"), Library); err != nil {
				t.Fatal(err)
			}
			s.AddFile("broken.yaml", []byte(tc.doc), Lint)
			problems := s.Lint()
			for _, p := range problems {
				t.Log(p)
				if p.File != "broken.yaml" {
					t.Errorf("problem not located in broken.yaml: %v", p)
				}
			}
			if tc.check == "" {
				if len(problems) > 0 {
					t.Errorf("control: want no problem, got %d", len(problems))
				}
				return
			}
			found := false
			for _, p := range problems {
				if p.Check == tc.check && strings.Contains(p.Path, tc.path) && strings.Contains(p.Msg, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want a [%s] problem at %q with %q, got %d problems", tc.check, tc.path, tc.msg, len(problems))
			}
			if tc.check == CheckRefs || tc.check == CheckSchema {
				t.Logf("Argo's validator alone: %s", argoAlone(s, tc.doc))
			}
		})
	}
}

// argoAlone tells what Argo's validator says about a Workflow by itself,
// decoded leniently as the controller would.
func argoAlone(s *Set, doc string) string {
	wf := newArgoObject(KindWorkflow)
	if err := yaml.Unmarshal([]byte(doc), wf); err != nil {
		return "not run: " + err.Error()
	}
	if err := s.ArgoValidate(&Document{Kind: KindWorkflow, Object: wf}); err != nil {
		return "caught: " + err.Error()
	}
	return "missed"
}

// TestStrictDecodingGap shows why the schema check exists: strict decoding
// (sigs.k8s.io/yaml.UnmarshalStrict into Argo's types) accepts these
// misspellings. It only logs, so an Argo fix does not break the build.
func TestStrictDecodingGap(t *testing.T) {
	docs := map[string]string{
		"typo inside a step":    strings.Replace(validWorkflow, "              template: train", "              template: train\n              clusterscope: true", 1),
		"wrongly cased field":   strings.Replace(validWorkflow, "  entrypoint: main", "  entryPoint: main", 1),
		"typo in step argument": strings.Replace(validWorkflow, "                  value: m", "                  valu: m", 1),
	}
	names := make([]string, 0, len(docs))
	for name := range docs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := newArgoObject(KindWorkflow)
		err := yaml.UnmarshalStrict([]byte(docs[name]), v)
		s := NewSet()
		s.AddFile("gap.yaml", []byte(docs[name]), Lint)
		caught := false
		for _, p := range s.Lint() {
			if p.Check == CheckSchema {
				caught = true
			}
		}
		if !caught {
			t.Errorf("%s: the schema check missed it", name)
		}
		if err == nil {
			t.Logf("%s: UnmarshalStrict accepts it; the schema check does not", name)
		} else {
			t.Logf("%s: UnmarshalStrict rejects it too: %v", name, err)
		}
	}
}
