package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestRBACLeastPrivilege reads every Role and ClusterRole in templates/:
// each grants only reads (get, list) of the run objects step-metrics reads
// (Argo Workflows, Tekton PipelineRuns and TaskRuns), never a wildcard,
// never secrets or pods, never a write.
func TestRBACLeastPrivilege(t *testing.T) {
	allowed := map[string]bool{ // group/resource: the verbs it may have
		"argoproj.io/workflows":   true,
		"tekton.dev/pipelineruns": true,
		"tekton.dev/taskruns":     true,
	}
	readVerbs := map[string]bool{"get": true, "list": true}
	var roles []string
	err := filepath.WalkDir("../../templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, doc := range bytes.Split(b, []byte("\n---")) {
			var obj struct {
				Kind     string `json:"kind"`
				Metadata struct{ Name string }
				Rules    []struct {
					APIGroups       []string `json:"apiGroups"`
					Resources       []string `json:"resources"`
					Verbs           []string `json:"verbs"`
					NonResourceURLs []string `json:"nonResourceURLs"`
				} `json:"rules"`
			}
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			if obj.Kind != "Role" && obj.Kind != "ClusterRole" {
				continue
			}
			roles = append(roles, path+":"+obj.Kind+"/"+obj.Metadata.Name)
			for _, r := range obj.Rules {
				if len(r.NonResourceURLs) > 0 {
					t.Errorf("%s %s: non-resource URLs %v", path, obj.Metadata.Name, r.NonResourceURLs)
				}
				for _, g := range r.APIGroups {
					for _, res := range r.Resources {
						if !allowed[g+"/"+res] {
							t.Errorf("%s %s: grants on %s/%s", path, obj.Metadata.Name, g, res)
						}
					}
				}
				for _, v := range r.Verbs {
					if !readVerbs[v] {
						t.Errorf("%s %s: verb %q", path, obj.Metadata.Name, v)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(roles)
	if len(roles) < 3 {
		t.Errorf("found only %d roles: %v", len(roles), roles)
	}
	t.Logf("checked %v", roles)
}

// TestTemplatesRunNonRoot finds every container of templates/ that runs
// the step-metrics image (Argo templates, the Tekton Task's steps, the
// prune CronJob) and checks its security context, merged with its pod's:
// non-root, read-only root file system, no privilege escalation, no
// capabilities, and a memory limit.
func TestTemplatesRunNonRoot(t *testing.T) {
	found := 0
	var walk func(path string, v any, pod map[string]any)
	walk = func(path string, v any, pod map[string]any) {
		switch x := v.(type) {
		case map[string]any:
			if sc, ok := x["securityContext"].(map[string]any); ok && (x["containers"] != nil || x["steps"] != nil || x["jobTemplate"] != nil) {
				pod = sc
			}
			if img, ok := x["image"].(string); ok && strings.Contains(img, "step-metrics") {
				found++
				sc, _ := x["securityContext"].(map[string]any)
				get := func(k string) any {
					if v, ok := sc[k]; ok {
						return v
					}
					return pod[k]
				}
				if get("runAsNonRoot") != true || get("readOnlyRootFilesystem") != true || get("allowPrivilegeEscalation") != false {
					t.Errorf("%s: container %v: runAsNonRoot %v, readOnlyRootFilesystem %v, allowPrivilegeEscalation %v",
						path, x["name"], get("runAsNonRoot"), get("readOnlyRootFilesystem"), get("allowPrivilegeEscalation"))
				}
				caps, _ := sc["capabilities"].(map[string]any)
				if drop, _ := caps["drop"].([]any); len(drop) != 1 || drop[0] != "ALL" {
					t.Errorf("%s: container %v does not drop all capabilities", path, x["name"])
				}
				res, _ := x["resources"].(map[string]any)
				if res == nil {
					res, _ = x["computeResources"].(map[string]any) // a Tekton step
				}
				if limits, _ := res["limits"].(map[string]any); limits["memory"] == nil {
					t.Errorf("%s: container %v has no memory limit", path, x["name"])
				}
			}
			for _, c := range x {
				walk(path, c, pod)
			}
		case []any:
			for _, c := range x {
				walk(path, c, pod)
			}
		}
	}
	err := filepath.WalkDir("../../templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, doc := range bytes.Split(b, []byte("\n---")) {
			var obj any
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			walk(path, obj, nil)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 5 {
		t.Errorf("found only %d step-metrics containers in templates/", found)
	}
	t.Logf("checked %d containers", found)
}
