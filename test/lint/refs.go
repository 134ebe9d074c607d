package lint

import (
	"fmt"
	"slices"
	"sort"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// refChecker walks one document's spec for template calls. Argo's validator
// resolves the templateRefs of steps and tasks it reaches from the
// entrypoint, but not those of lifecycle hooks, and never complains about a
// parameter a template does not declare; this check covers every call.
type refChecker struct {
	s        *Set
	d        *Document
	problems []Problem
	// base holds the templates that a plain `template: name` names: the
	// document's own, or those of the WorkflowTemplate that a Workflow's
	// spec.workflowTemplateRef points at.
	base     []wfv1.Template
	baseDesc string
	// wfArgs are the workflow's spec.arguments (merged with those of its
	// workflowTemplateRef): Argo passes them to an exit handler or exit hook
	// that has no arguments of its own.
	wfArgs wfv1.Arguments
	// calls and refs count the template calls checked, and how many of
	// them were templateRefs.
	calls, refs int
}

func (c *refChecker) report(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: c.d.File, Doc: c.d.Label(), Path: path, Check: CheckRefs, Msg: fmt.Sprintf(format, args...)})
}

// checkRefs checks every template call of an Argo document.
func (s *Set) checkRefs(d *Document) *refChecker {
	c := &refChecker{s: s, d: d}
	switch o := d.Object.(type) {
	case *wfv1.Workflow:
		c.spec(&o.Spec, "spec", true)
	case *wfv1.WorkflowTemplate:
		c.spec(&o.Spec, "spec", false)
	case *wfv1.ClusterWorkflowTemplate:
		c.spec(&o.Spec, "spec", false)
	case *wfv1.CronWorkflow:
		c.spec(&o.Spec.WorkflowSpec, "spec.workflowSpec", true)
	}
	return c
}

func (c *refChecker) spec(spec *wfv1.WorkflowSpec, path string, runnable bool) {
	c.base, c.baseDesc = spec.Templates, "this document's spec.templates"
	c.wfArgs = spec.Arguments
	if ref := spec.WorkflowTemplateRef; ref != nil {
		p := path + ".workflowTemplateRef"
		var holder wfv1.WorkflowSpecHolder
		var err error
		if ref.ClusterScope {
			holder, err = cwftGetter{c.s}.Get(ref.Name)
		} else {
			holder, err = wftGetter{c.s, c.d.Namespace}.Get(ref.Name)
		}
		if err != nil {
			c.report(p, "%v", err)
			return // nothing below can be resolved
		}
		c.base = holder.GetWorkflowSpec().Templates
		c.wfArgs.Parameters = append(slices.Clone(c.wfArgs.Parameters), holder.GetWorkflowSpec().Arguments.Parameters...)
		c.wfArgs.Artifacts = append(slices.Clone(c.wfArgs.Artifacts), holder.GetWorkflowSpec().Arguments.Artifacts...)
		c.baseDesc = fmt.Sprintf("the templates of %s %q", kindOf(ref.ClusterScope), ref.Name)
		if spec.Entrypoint == "" {
			spec = spec.DeepCopy()
			spec.Entrypoint = holder.GetWorkflowSpec().Entrypoint
		}
	}
	if spec.Entrypoint != "" {
		c.local(path+".entrypoint", spec.Entrypoint)
	} else if runnable {
		c.report(path+".entrypoint", "a %s needs an entrypoint", c.d.Kind)
	}
	c.onExit(path, spec.OnExit)
	c.hooks(path+".hooks", spec.Hooks)
	for i := range spec.Templates {
		t := &spec.Templates[i]
		c.template(fmt.Sprintf("%s.templates[%s]", path, nameOr(t.Name, i)), t)
	}
}

func (c *refChecker) template(path string, t *wfv1.Template) {
	for gi, group := range t.Steps {
		for si := range group.Steps {
			step := &group.Steps[si]
			p := fmt.Sprintf("%s.steps[%d][%s]", path, gi, nameOr(step.Name, si))
			c.call(p, step.Template, step.TemplateRef, step.Inline, step.Arguments, false)
			c.onExit(p, step.OnExit)
			c.hooks(p+".hooks", step.Hooks)
			if step.Inline != nil {
				c.template(p+".inline", step.Inline)
			}
		}
	}
	if t.DAG != nil {
		for ti := range t.DAG.Tasks {
			task := &t.DAG.Tasks[ti]
			p := fmt.Sprintf("%s.dag.tasks[%s]", path, nameOr(task.Name, ti))
			c.call(p, task.Template, task.TemplateRef, task.Inline, task.Arguments, false)
			c.onExit(p, task.OnExit)
			c.hooks(p+".hooks", task.Hooks)
			if task.Inline != nil {
				c.template(p+".inline", task.Inline)
			}
		}
	}
}

// hooks checks lifecycle hooks, the exit hook included, in name order.
func (c *refChecker) hooks(path string, hooks wfv1.LifecycleHooks) {
	names := make([]string, 0, len(hooks))
	for name := range hooks {
		names = append(names, string(name))
	}
	sort.Strings(names)
	for _, name := range names {
		h := hooks[wfv1.LifecycleEvent(name)]
		p := fmt.Sprintf("%s[%s]", path, name)
		if h.Template == "" && h.TemplateRef == nil {
			c.report(p, "a hook needs a template or a templateRef")
			continue
		}
		c.call(p, h.Template, h.TemplateRef, nil, h.Arguments, name == wfv1.ExitLifecycleEvent)
	}
}

// onExit checks an onExit template name (the workflow's exit handler, or a
// step's or task's deprecated onExit): it gets the workflow's arguments.
func (c *refChecker) onExit(path, name string) {
	if name == "" {
		return
	}
	c.calls++
	if t := c.local(path+".onExit", name); t != nil {
		c.inherited(path+".onExit", t, fmt.Sprintf("template %q", name))
	}
}

// call checks one call: by templateRef, by local template name, or inline.
// An exit hook without arguments of its own gets the workflow's arguments
// (LifecycleHook.WithArgs), so only the required inputs are checked then.
func (c *refChecker) call(path, name string, ref *wfv1.TemplateRef, inline *wfv1.Template, args wfv1.Arguments, exit bool) {
	check := func(t *wfv1.Template, what string) {
		if exit && args.IsEmpty() {
			c.inherited(path, t, what)
			return
		}
		c.args(path+".arguments", t, what, args)
	}
	c.calls++
	switch {
	case ref != nil:
		c.refs++
		p := path + ".templateRef"
		if ref.Name == "" || ref.Template == "" {
			c.report(p, "templateRef needs both name and template (got name %q, template %q)", ref.Name, ref.Template)
			return
		}
		if t := c.resolveRef(p, ref); t != nil {
			check(t, fmt.Sprintf("template %q of %s %q", ref.Template, kindOf(ref.ClusterScope), ref.Name))
		}
	case name != "":
		if t := c.local(path+".template", name); t != nil {
			check(t, fmt.Sprintf("template %q", name))
		}
	case inline != nil:
		// an inline template takes no arguments from its caller's list
	default:
		c.report(path, "calls no template: needs template, templateRef or inline")
	}
}

func (c *refChecker) resolveRef(path string, ref *wfv1.TemplateRef) *wfv1.Template {
	var holder wfv1.WorkflowSpecHolder
	var err error
	if ref.ClusterScope {
		holder, err = cwftGetter{c.s}.Get(ref.Name)
	} else {
		holder, err = wftGetter{c.s, c.d.Namespace}.Get(ref.Name)
	}
	if err != nil {
		hint := ""
		if _, ok := c.s.cwfts[ref.Name]; ok && !ref.ClusterScope {
			hint = " (a ClusterWorkflowTemplate of that name exists: add clusterScope: true)"
		} else if _, ok := c.s.wfts[ref.Name]; ok && ref.ClusterScope {
			hint = " (a WorkflowTemplate of that name exists: drop clusterScope)"
		}
		c.report(path, "%v%s", err, hint)
		return nil
	}
	templates := holder.GetWorkflowSpec().Templates
	if t := find(templates, ref.Template); t != nil {
		return t
	}
	c.report(path, "%s %q has no template %q (has: %s)", kindOf(ref.ClusterScope), ref.Name, ref.Template, list(names(templates)))
	return nil
}

// local resolves a plain template name against the current base.
func (c *refChecker) local(path, name string) *wfv1.Template {
	if t := find(c.base, name); t != nil {
		return t
	}
	c.report(path, "template %q not found in %s (has: %s)", name, c.baseDesc, list(names(c.base)))
	return nil
}

// inherited checks an exit handler that gets the workflow's arguments: all
// of them are passed, so only the required inputs are checked.
func (c *refChecker) inherited(path string, t *wfv1.Template, what string) {
	passed := map[string]bool{}
	for _, p := range c.wfArgs.Parameters {
		passed[p.Name] = true
	}
	for _, p := range t.Inputs.Parameters {
		if requiredParam(p) && !passed[p.Name] {
			c.report(path, "exit handler %s requires parameter %q, but it has no arguments of its own and the workflow's spec.arguments do not have it", what, p.Name)
		}
	}
	passedArt := map[string]bool{}
	for _, a := range c.wfArgs.Artifacts {
		passedArt[a.Name] = true
	}
	for i := range t.Inputs.Artifacts {
		if a := &t.Inputs.Artifacts[i]; requiredArtifact(a) && !passedArt[a.Name] {
			c.report(path, "exit handler %s requires artifact %q, but it has no arguments of its own and the workflow's spec.arguments do not have it", what, a.Name)
		}
	}
}

// requiredParam: ProcessArgs fails on an input parameter left without a value.
func requiredParam(p wfv1.Parameter) bool {
	return p.Value == nil && p.Default == nil && (p.ValueFrom == nil || p.ValueFrom.ConfigMapKeyRef == nil)
}

// requiredArtifact: ProcessArgs fails on such an input artifact when it is not passed.
func requiredArtifact(a *wfv1.Artifact) bool { return !a.Optional && !a.HasLocationOrKey() }

// args checks the arguments of a call against the called template's
// inputs: every parameter and artifact passed is declared, none twice, and
// every input without a value, default or source is passed.
func (c *refChecker) args(path string, t *wfv1.Template, what string, args wfv1.Arguments) {
	declared := map[string]bool{}
	for _, p := range t.Inputs.Parameters {
		declared[p.Name] = true
	}
	passed := map[string]bool{}
	for _, p := range args.Parameters {
		switch {
		case passed[p.Name]:
			c.report(path+".parameters", "passes parameter %q twice", p.Name)
		case !declared[p.Name]:
			c.report(path+".parameters", "passes parameter %q, which %s does not declare (inputs.parameters: %s)", p.Name, what, list(paramNames(t.Inputs.Parameters)))
		}
		passed[p.Name] = true
	}
	for _, p := range t.Inputs.Parameters {
		if requiredParam(p) && !passed[p.Name] {
			c.report(path+".parameters", "does not pass parameter %q, which %s requires (no value or default)", p.Name, what)
		}
	}

	declaredArt := map[string]bool{}
	for _, a := range t.Inputs.Artifacts {
		declaredArt[a.Name] = true
	}
	passedArt := map[string]bool{}
	for _, a := range args.Artifacts {
		switch {
		case passedArt[a.Name]:
			c.report(path+".artifacts", "passes artifact %q twice", a.Name)
		case !declaredArt[a.Name]:
			c.report(path+".artifacts", "passes artifact %q, which %s does not declare", a.Name, what)
		}
		passedArt[a.Name] = true
	}
	for i := range t.Inputs.Artifacts {
		a := &t.Inputs.Artifacts[i]
		if requiredArtifact(a) && !passedArt[a.Name] {
			c.report(path+".artifacts", "does not pass artifact %q, which %s requires (not optional, no location)", a.Name, what)
		}
	}
}

func find(templates []wfv1.Template, name string) *wfv1.Template {
	for i := range templates {
		if templates[i].Name == name {
			return &templates[i]
		}
	}
	return nil
}

func names(templates []wfv1.Template) []string {
	out := make([]string, len(templates))
	for i, t := range templates {
		out[i] = t.Name
	}
	return out
}

func paramNames(params []wfv1.Parameter) []string {
	out := make([]string, len(params))
	for i, p := range params {
		out[i] = p.Name
	}
	return out
}

func kindOf(clusterScope bool) string {
	if clusterScope {
		return KindClusterWorkflowTemplate
	}
	return KindWorkflowTemplate
}

func nameOr(name string, i int) string {
	if name == "" {
		return fmt.Sprint(i)
	}
	return name
}
