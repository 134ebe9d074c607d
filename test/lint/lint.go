// Package lint checks Argo Workflows manifests offline, the way
// `argo lint --offline` does, plus what Argo's validator leaves out.
//
// Every YAML document is parsed and must have apiVersion and kind. Argo
// documents (Workflow, WorkflowTemplate, ClusterWorkflowTemplate,
// CronWorkflow, WorkflowEventBinding) are decoded strictly into Argo's own
// v1alpha1 types, checked field by field for unknown (misspelt) fields, run
// through Argo's validate package, and walked for template calls: every
// templateRef and template name, in steps, DAG tasks, lifecycle hooks and
// onExit, must resolve to a template in the loaded files, with parameters that
// the template declares and every required one passed.
//
// Usage:
//
//	s := lint.NewSet()
//	if err := s.AddRoots(lint.Lint, "templates", "examples/workflows"); err != nil {
//		return err // a root is missing or holds no YAML file
//	}
//	for _, p := range s.Lint() {
//		fmt.Println(p)
//	}
//
// A Set is not safe for concurrent use.
package lint

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Check names the check that found a Problem.
type Check string

// The checks, in the order Lint runs them.
const (
	CheckParse  Check = "parse"  // YAML syntax, apiVersion/kind, strict decoding, duplicate templates
	CheckSchema Check = "schema" // unknown fields anywhere, case-sensitive, including inside steps
	CheckArgo   Check = "argo"   // Argo's own validate package
	CheckRefs   Check = "refs"   // template calls: templateRef/template targets and their parameters
)

// Problem is one finding, located by file, document and field path.
type Problem struct {
	File  string // the file as it was added
	Doc   string // "#2 Workflow/name" (1-based position in the file), or "#2" before the kind is known
	Path  string // field path in the document, e.g. spec.templates[main].steps[0][train].templateRef; may be empty
	Check Check
	Msg   string
}

// String formats the problem as "file: doc: path: [check] message".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Doc != "" {
		b.WriteString(": " + p.Doc)
	}
	if p.Path != "" {
		b.WriteString(": " + p.Path)
	}
	fmt.Fprintf(&b, ": [%s] %s", p.Check, p.Msg)
	return b.String()
}

// Mode tells whether the documents of a file are linted or only serve as a
// library of (Cluster)WorkflowTemplates for template references.
type Mode int

const (
	// Lint checks every document and serves its templates.
	Lint Mode = iota
	// Library only serves the file's WorkflowTemplates and
	// ClusterWorkflowTemplates; its problems are not reported.
	Library
)

// Kinds of Argo Workflows.
const (
	KindWorkflow                = "Workflow"
	KindWorkflowTemplate        = "WorkflowTemplate"
	KindClusterWorkflowTemplate = "ClusterWorkflowTemplate"
	KindCronWorkflow            = "CronWorkflow"
	KindWorkflowEventBinding    = "WorkflowEventBinding"
	// ArgoAPIVersion is the apiVersion of every Argo Workflows kind.
	ArgoAPIVersion = "argoproj.io/v1alpha1"
)

// Document is one YAML document of a file.
type Document struct {
	File       string
	Index      int // 1-based position in the file
	Mode       Mode
	APIVersion string
	Kind       string
	Name       string // metadata.name, else metadata.generateName
	Namespace  string
	// Object is the decoded Argo object (*wfv1.Workflow, *wfv1.WorkflowTemplate,
	// *wfv1.ClusterWorkflowTemplate, *wfv1.CronWorkflow or
	// *wfv1.WorkflowEventBinding), nil for other kinds or when decoding failed.
	Object any
}

// Label is the document's label in problems: "#index Kind/name".
func (d *Document) Label() string {
	if d.Kind == "" {
		return fmt.Sprintf("#%d", d.Index)
	}
	return fmt.Sprintf("#%d %s/%s", d.Index, d.Kind, d.Name)
}

// Set is a set of files and their documents, linted together: templates
// defined in any file serve references from every other file.
type Set struct {
	files    map[string]Mode
	order    []string
	docs     []*Document
	problems []Problem
	wfts     map[string][]*wfv1.WorkflowTemplate // by name
	cwfts    map[string]*wfv1.ClusterWorkflowTemplate
	// calls and refs count the template calls the last Lint checked.
	calls, refs int
}

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{
		files: map[string]Mode{},
		wfts:  map[string][]*wfv1.WorkflowTemplate{},
		cwfts: map[string]*wfv1.ClusterWorkflowTemplate{},
	}
}

// IsYAML tells whether a file name has a YAML extension (.yaml, .yml).
func IsYAML(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// isKustomization tells whether a file is a kustomize file, whose documents
// need no apiVersion or kind.
func isKustomization(name string) bool {
	switch filepath.Base(name) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// AddDir adds every YAML file under root, recursively, and returns how many
// it added now (a file added before, under another root, is not added
// again). A missing root, or one that is not a directory, is an error.
func (s *Set) AddDir(root string, mode Mode) (int, error) {
	info, err := os.Stat(root)
	if err != nil {
		return 0, err
	}
	if !info.IsDir() {
		return 0, fmt.Errorf("%s: not a directory", root)
	}
	n := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !IsYAML(path) {
			return nil
		}
		if _, seen := s.files[filepath.Clean(path)]; seen {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s.AddFile(path, data, mode)
		n++
		return nil
	})
	return n, err
}

// AddRoots adds each root with AddDir and fails when a root is missing or
// holds no YAML file, so that a check over them cannot pass vacuously.
func (s *Set) AddRoots(mode Mode, roots ...string) error {
	var errs []error
	for _, root := range roots {
		n, err := s.AddDir(root, mode)
		switch {
		case err != nil:
			errs = append(errs, err)
		case n == 0:
			errs = append(errs, fmt.Errorf("%s: no YAML files (.yaml, .yml)", root))
		}
	}
	return errors.Join(errs...)
}

// Files returns the added files in the order they were added.
func (s *Set) Files() []string { return slices.Clone(s.order) }

// Documents returns the documents of every added file, in order.
func (s *Set) Documents() []*Document { return slices.Clone(s.docs) }

// AddFile adds one file's content. Parse problems are recorded for Lint.
func (s *Set) AddFile(file string, data []byte, mode Mode) {
	s.files[filepath.Clean(file)] = mode
	s.order = append(s.order, file)
	report := func(doc, path string, check Check, format string, args ...any) {
		if mode == Lint {
			s.problems = append(s.problems, Problem{File: file, Doc: doc, Path: path, Check: check, Msg: fmt.Sprintf(format, args...)})
		}
	}

	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for index := 1; ; index++ {
		chunk, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			report(fmt.Sprintf("#%d", index), "", CheckParse, "cannot split YAML documents: %v", err)
			return
		}
		// UnmarshalStrict also rejects duplicate keys.
		var generic any
		if err := yaml.UnmarshalStrict(chunk, &generic); err != nil {
			report(fmt.Sprintf("#%d", index), "", CheckParse, "not valid YAML: %v", err)
			continue
		}
		if generic == nil {
			index-- // an empty document (only comments, or a trailing ---) is not counted
			continue
		}
		if isKustomization(file) {
			continue // kustomize files have their own schema and may omit apiVersion/kind
		}
		obj, ok := generic.(map[string]any)
		if !ok {
			report(fmt.Sprintf("#%d", index), "", CheckParse, "a Kubernetes object must be a mapping, got %T", generic)
			continue
		}
		d := &Document{File: file, Index: index, Mode: mode}
		d.APIVersion, _ = obj["apiVersion"].(string)
		d.Kind, _ = obj["kind"].(string)
		if meta, ok := obj["metadata"].(map[string]any); ok {
			d.Name, _ = meta["name"].(string)
			if d.Name == "" {
				d.Name, _ = meta["generateName"].(string)
			}
			d.Namespace, _ = meta["namespace"].(string)
		}
		s.docs = append(s.docs, d)
		if d.APIVersion == "" {
			report(d.Label(), "apiVersion", CheckParse, "missing")
		}
		if d.Kind == "" {
			report(d.Label(), "kind", CheckParse, "missing")
			continue
		}

		target := newArgoObject(d.Kind)
		if target == nil {
			continue // not an Argo Workflows kind: parsed, not validated
		}
		if d.APIVersion != ArgoAPIVersion {
			report(d.Label(), "apiVersion", CheckParse, "kind %s needs apiVersion %s, got %q", d.Kind, ArgoAPIVersion, d.APIVersion)
			continue
		}
		var unknown []string
		unknownFields(generic, reflect.TypeOf(target), "", &unknown)
		for _, path := range unknown {
			report(d.Label(), path, CheckSchema, "unknown field")
		}
		if err := yaml.UnmarshalStrict(chunk, target); err != nil {
			if len(unknown) == 0 || !strings.Contains(err.Error(), "unknown field") {
				report(d.Label(), "", CheckParse, "does not decode as an Argo %s: %v", d.Kind, err)
				continue
			}
			// Only unknown fields, reported above with their paths and
			// dropped from generic: decode the rest so that the other
			// checks still run on it.
			target = newArgoObject(d.Kind)
			pruned, err := json.Marshal(generic)
			if err == nil {
				err = yaml.Unmarshal(pruned, target)
			}
			if err != nil {
				report(d.Label(), "", CheckParse, "does not decode as an Argo %s: %v", d.Kind, err)
				continue
			}
		}
		d.Object = target
		s.register(d, report)
	}
}

func newArgoObject(kind string) any {
	switch kind {
	case KindWorkflow:
		return &wfv1.Workflow{}
	case KindWorkflowTemplate:
		return &wfv1.WorkflowTemplate{}
	case KindClusterWorkflowTemplate:
		return &wfv1.ClusterWorkflowTemplate{}
	case KindCronWorkflow:
		return &wfv1.CronWorkflow{}
	case KindWorkflowEventBinding:
		return &wfv1.WorkflowEventBinding{}
	}
	return nil
}

// register serves a document's templates to references.
func (s *Set) register(d *Document, report func(doc, path string, check Check, format string, args ...any)) {
	switch o := d.Object.(type) {
	case *wfv1.WorkflowTemplate:
		if o.Name == "" {
			report(d.Label(), "metadata.name", CheckParse, "a WorkflowTemplate needs a name")
			return
		}
		for _, other := range s.wfts[o.Name] {
			if namespacesMatch(other.Namespace, o.Namespace) {
				report(d.Label(), "metadata.name", CheckParse, "duplicate WorkflowTemplate %q (namespace %q and %q)", o.Name, other.Namespace, o.Namespace)
				return
			}
		}
		s.wfts[o.Name] = append(s.wfts[o.Name], o)
	case *wfv1.ClusterWorkflowTemplate:
		if o.Name == "" {
			report(d.Label(), "metadata.name", CheckParse, "a ClusterWorkflowTemplate needs a name")
			return
		}
		if _, dup := s.cwfts[o.Name]; dup {
			report(d.Label(), "metadata.name", CheckParse, "duplicate ClusterWorkflowTemplate %q", o.Name)
			return
		}
		s.cwfts[o.Name] = o
	}
}

// namespacesMatch: a manifest without a namespace is applied to whichever
// namespace it is installed in, so it matches any.
func namespacesMatch(a, b string) bool { return a == "" || b == "" || a == b }

// wftGetter serves the Set's WorkflowTemplates to Argo's validator
// (templateresolution.WorkflowTemplateNamespacedGetter) as seen from one
// namespace.
type wftGetter struct {
	s         *Set
	namespace string
}

// Get returns a copy of the WorkflowTemplate, so the validator cannot change the Set.
func (g wftGetter) Get(name string) (*wfv1.WorkflowTemplate, error) {
	for _, t := range g.s.wfts[name] {
		if namespacesMatch(t.Namespace, g.namespace) {
			return t.DeepCopy(), nil
		}
	}
	return nil, fmt.Errorf("WorkflowTemplate %q not found in the linted files (known: %s)", name, list(keys(g.s.wfts)))
}

// cwftGetter serves the Set's ClusterWorkflowTemplates
// (templateresolution.ClusterWorkflowTemplateGetter).
type cwftGetter struct{ s *Set }

// Get returns a copy of the ClusterWorkflowTemplate.
func (g cwftGetter) Get(name string) (*wfv1.ClusterWorkflowTemplate, error) {
	if t, ok := g.s.cwfts[name]; ok {
		return t.DeepCopy(), nil
	}
	return nil, fmt.Errorf("ClusterWorkflowTemplate %q not found in the linted files (known: %s)", name, list(keys(g.s.cwfts)))
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Stats counts what a Set holds.
type Stats struct {
	Files     int            // files added for linting
	Documents int            // non-empty documents in them
	Validated map[string]int // Argo documents decoded and validated, by kind
	Skipped   map[string]int // documents of other kinds (parsed only), by kind
	Calls     int            // template calls checked by the last Lint (steps, tasks, hooks, onExit)
	Refs      int            // how many of those calls were templateRefs
}

// Stats counts the linted files and their documents (library files excluded).
func (s *Set) Stats() Stats {
	st := Stats{Validated: map[string]int{}, Skipped: map[string]int{}, Calls: s.calls, Refs: s.refs}
	for _, f := range s.order {
		if s.files[filepath.Clean(f)] == Lint {
			st.Files++
		}
	}
	for _, d := range s.docs {
		if d.Mode != Lint {
			continue
		}
		st.Documents++
		switch {
		case d.Object != nil:
			st.Validated[d.Kind]++
		case newArgoObject(d.Kind) == nil && d.Kind != "":
			st.Skipped[d.Kind]++
		}
	}
	return st
}

// Lint returns every problem of the linted files: parse and schema problems
// found when they were added, then Argo's validation and the reference check
// of each Argo document. An empty result means every check passed.
func (s *Set) Lint() []Problem {
	problems := slices.Clone(s.problems)
	s.calls, s.refs = 0, 0
	for _, d := range s.docs {
		if d.Mode != Lint || d.Object == nil {
			continue
		}
		if err := s.argoValidate(d); err != nil {
			problems = append(problems, Problem{File: d.File, Doc: d.Label(), Check: CheckArgo, Msg: err.Error()})
		}
		c := s.checkRefs(d)
		problems = append(problems, c.problems...)
		s.calls += c.calls
		s.refs += c.refs
	}
	return problems
}

// ArgoValidate runs only Argo's validator on a document (nil for kinds it
// does not validate).
func (s *Set) ArgoValidate(d *Document) error { return s.argoValidate(d) }

func (s *Set) argoValidate(d *Document) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("argo validator panicked: %v", r)
		}
	}()
	wfts := wftGetter{s: s, namespace: d.Namespace}
	cwfts := cwftGetter{s: s}
	opts := validate.ValidateOpts{Lint: true}
	switch o := d.Object.(type) {
	case *wfv1.Workflow:
		return validate.ValidateWorkflow(wfts, cwfts, o.DeepCopy(), nil, opts)
	case *wfv1.WorkflowTemplate:
		return validate.ValidateWorkflowTemplate(wfts, cwfts, o.DeepCopy(), nil, opts)
	case *wfv1.ClusterWorkflowTemplate:
		return validate.ValidateClusterWorkflowTemplate(wfts, cwfts, o.DeepCopy(), nil, opts)
	case *wfv1.CronWorkflow:
		return validate.ValidateCronWorkflow(context.Background(), wfts, cwfts, o.DeepCopy(), nil)
	}
	return nil
}

// unknownFields lists the keys of a decoded JSON value that type t has no
// field for, by path, and deletes them from v. encoding/json (which sigs.k8s.io/yaml's strict mode
// uses) matches keys case-insensitively, and Argo's ParallelSteps decodes
// the steps inside it leniently, so strict decoding alone lets
// "templateref:" or a typo inside a step's templateRef through.
func unknownFields(v any, t reflect.Type, path string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == parallelStepsType {
		t = reflect.TypeOf([]wfv1.WorkflowStep{})
	} else if reflect.PointerTo(t).Implements(unmarshalerType) {
		return // its own format (AnyString, Item, Quantity, Time, IntOrString, ...)
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return // a type mismatch: strict decoding reports it
		}
		fields := jsonFields(t)
		for _, k := range keys(m) {
			ft, ok := fields[k]
			if !ok {
				*out = append(*out, join(path, k))
				delete(m, k)
				continue
			}
			unknownFields(m[k], ft, join(path, k), out)
		}
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			for _, k := range keys(m) {
				unknownFields(m[k], t.Elem(), fmt.Sprintf("%s[%s]", path, k), out)
			}
		}
	case reflect.Slice, reflect.Array:
		if l, ok := v.([]any); ok {
			for i, e := range l {
				unknownFields(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out)
			}
		}
	}
}

var (
	unmarshalerType   = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	parallelStepsType = reflect.TypeOf(wfv1.ParallelSteps{})
)

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps the JSON names of a struct's fields to their types, as
// encoding/json sees them (untagged embedded structs are inlined).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" && f.Anonymous {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for k, v := range jsonFields(et) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
