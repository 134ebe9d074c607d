package argo

import (
	"regexp"
	"testing"
)

// FuzzSplitItem holds splitItem to the expression it replaced.
func FuzzSplitItem(f *testing.F) {
	re := regexp.MustCompile(`^([^()]+)\((\d+):[^()]*\)$`)
	for _, s := range []string{"train(3:lr-0.01)", "train", "a(1:)", "(1:x)", "a(x:1)", "a(1:b)c)", "a)(1:b)", "a(1:(b))", "a(:b)", "a(12:b\n)", "é(٣:x)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		stage, item := splitItem(name)
		wantStage, wantItem := name, ""
		if m := re.FindStringSubmatch(name); m != nil {
			wantStage, wantItem = m[1], m[2]
		}
		if stage != wantStage || item != wantItem {
			t.Fatalf("splitItem(%q) = %q, %q; the expression says %q, %q", name, stage, item, wantStage, wantItem)
		}
	})
}
