package custom

import (
	"strings"
	"testing"

	"github.com/step-metrics/step-metrics/pkg/schema"
)

// TestParseSurvivesParserPanics: lines on which expfmt panics are dropped
// with a warning, and the lines after them are still read.
func TestParseSurvivesParserPanics(t *testing.T) {
	got, warnings := Parse([]byte("0\n{}\nacc 0.5\nloss{split=\"a\"} 2\n"), DefaultLimits, schema.IsReservedLabel)
	if len(got) != 2 || got[0].Name != "acc" || got[1].Name != "loss" {
		t.Errorf("samples %+v, want acc and loss", got)
	}
	if len(warnings) != 2 || !strings.Contains(strings.Join(warnings, "\n"), "line 2") {
		t.Errorf("warnings %q, want one for line 1 and one for line 2", warnings)
	}
}
