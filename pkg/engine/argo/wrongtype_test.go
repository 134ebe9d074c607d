package argo

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestWrongTypeCostsOnlyTheField: a field of the wrong type, as a hand-edited
// or converted object has them, costs that field and a warning naming it;
// the rest of the object is decoded. (encoding/json stops at a custom
// decoder's error: with Argo's types, a retryStrategy.limit of true or a
// numeric creationTimestamp left a Succeeded run with no steps, and the
// warning said only that one field was ignored.)
func TestWrongTypeCostsOnlyTheField(t *testing.T) {
	clean, err := os.ReadFile("../../../testdata/argo/05-dag-retry-succeeded.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cleanWF, cleanNodes, _, _, err := decode(clean)
	if err != nil {
		t.Fatal(err)
	}
	want := fromWorkflow(cleanWF, cleanNodes, Options{})
	if len(want.Steps) < 3 {
		t.Fatalf("the clean run has %d steps", len(want.Steps))
	}
	for _, tc := range []struct {
		name, old, new, field string
	}{
		{"retryStrategy.limit true", "      limit: 10\n", "      limit: true\n", "spec.templates[1]"},
		{"numeric creationTimestamp", "  creationTimestamp: 2018-08-01T10:22:43Z\n", "  creationTimestamp: 1533118963\n", "metadata.creationTimestamp"},
		{"unix finishedAt in YAML", "      finishedAt: 2018-08-01T10:23:00Z\n", "      finishedAt: 1533118963\n", "finishedAt"},
		{"year 9999", "      finishedAt: 2018-08-01T10:23:00Z\n", "      finishedAt: 9999-12-31T23:59:59Z\n", "finishedAt"},
		{"year 1000 start", "\n  startedAt: 2018-08-01T10:22:43Z\n", "\n  startedAt: 1000-01-01T00:00:00Z\n", "status.startedAt"},
		{"children a string", "      children:\n      - dag-with-retries-4wkh8-2805650605\n", "      children: dag-with-retries-4wkh8-2805650605\n", "children"},
		{"phase a number", "      phase: Succeeded\n", "      phase: 3\n", "phase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(clean), tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			in := strings.Replace(string(clean), tc.old, tc.new, 1)
			wf, nodes, _, warnings, err := decode([]byte(in))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			got := fromWorkflow(wf, nodes, Options{})
			if len(warnings) != 1 || !strings.Contains(warnings[0], tc.field) {
				t.Errorf("warnings %q, want one naming %s", warnings, tc.field)
			}
			// Every step but those the field belongs to is kept as is.
			same := 0
			for _, s := range got.Steps {
				for _, w := range want.Steps {
					if reflect.DeepEqual(s, w) {
						same++
					}
				}
			}
			if same < len(want.Steps)-1 {
				t.Errorf("%d of %d steps kept; got %+v", same, len(want.Steps), got.Steps)
			}
			for _, ts := range []time.Time{got.Start, got.End} {
				if !ts.IsZero() && ts.UnixNano() < 0 {
					t.Errorf("timestamp %v before 1970", ts)
				}
			}
			for _, s := range got.Steps {
				if s.Duration < 0 || (!s.End.IsZero() && s.End.UnixNano() < 0) {
					t.Errorf("step %s: duration %v, end %v", s.Name, s.Duration, s.End)
				}
			}
		})
	}
}
