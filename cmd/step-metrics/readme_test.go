package main

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestREADMEFlags checks that every flag of push, run and prune is
// documented in the README; run's and prune's in their own sections.
func TestREADMEFlags(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var po pushOptions
	var ro runOptions
	_, runSection, ok := strings.Cut(readme, "### Flags and exit codes of `run`")
	if !ok {
		t.Fatal("README has no section \"Flags and exit codes of `run`\"")
	}
	runSection, _, _ = strings.Cut(runSection, "\n## ")
	var pr pruneOptions
	_, pruneSection, ok := strings.Cut(readme, "\n## Pruning\n")
	if !ok {
		t.Fatal("README has no section \"Pruning\"")
	}
	pruneSection, _, _ = strings.Cut(pruneSection, "\n## ")
	for _, c := range []struct {
		name string
		add  func(*pflag.FlagSet)
		doc  string
		min  int
	}{
		{"push", po.addFlags, readme, 30},
		{"run", ro.addFlags, runSection, 20},
		{"prune", pr.addFlags, pruneSection, 20},
	} {
		fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
		c.add(fs)
		n := 0
		fs.VisitAll(func(f *pflag.Flag) {
			n++
			if !strings.Contains(c.doc, "`--"+f.Name+"`") {
				t.Errorf("README does not document --%s of %s", f.Name, c.name)
			}
		})
		if n < c.min {
			t.Errorf("%s: only %d flags visited", c.name, n)
		}
	}
}
