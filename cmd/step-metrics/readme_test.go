package main

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestREADMEFlags checks that every flag of push is documented in the README.
func TestREADMEFlags(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("push", pflag.ContinueOnError)
	var o pushOptions
	o.addFlags(fs)
	n := 0
	fs.VisitAll(func(f *pflag.Flag) {
		n++
		if !strings.Contains(string(readme), "`--"+f.Name+"`") {
			t.Errorf("README does not document --%s", f.Name)
		}
	})
	if n < 30 {
		t.Errorf("only %d flags visited", n)
	}
}
