package engine

import "testing"

func TestSniffJSON(t *testing.T) {
	for _, tc := range []struct{ in, api, kind string }{
		{`{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"name":"x"}`, "argoproj.io/v1alpha1", "Workflow"},
		{`{"metadata":{"name":"x","labels":{"kind":"List"}},"kind":"PipelineRun","apiVersion":"tekton.dev/v1"}`, "tekton.dev/v1", "PipelineRun"},
		{`{"kind":"List","items":[{"kind":"Workflow"`, "", "List"},
		{`{"metadata":{"name":"cut off`, "", ""},
		{`{"kind":7,"apiVersion":"v1"}`, "v1", ""},
		{`[{"kind":"Workflow"}]`, "", ""},
		{`kind: Workflow`, "", ""},
		{``, "", ""},
	} {
		api, kind := SniffJSON([]byte(tc.in))
		if api != tc.api || kind != tc.kind {
			t.Errorf("SniffJSON(%q) = %q, %q; want %q, %q", tc.in, api, kind, tc.api, tc.kind)
		}
	}
}
