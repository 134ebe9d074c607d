package custom

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/step-metrics/step-metrics/pkg/schema"
)

// FuzzParse: whatever a step writes, Parse does not panic, keeps within its
// limits, and every sample it returns is one the Pushgateway accepts.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"training_seconds 812.5\n",
		"# HELP a b\n# TYPE a gauge\na{x=\"1\",y=\"\\\"\\n\\\\\"} 1e3 123\n",
		`{"accuracy": 0.93, "n": 1}`,
		"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n",
		"x{workflow_id=\"forged\"} 1\nx NaN\n",
		"a{b=\"c\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		samples, warnings := Parse(data, DefaultLimits, reservedForTest)
		if len(samples) > DefaultLimits.MaxSamples {
			t.Fatalf("%d samples", len(samples))
		}
		if len(warnings) > maxWarnings+1 {
			t.Fatalf("%d warnings", len(warnings))
		}
		for _, w := range warnings {
			if strings.ContainsAny(w, "\n\r") || !utf8.ValidString(w) {
				t.Fatalf("bad warning %q", w)
			}
		}
		seen := map[string]bool{}
		for _, s := range samples {
			if !schema.ValidName(s.Name) || strings.HasPrefix(s.Name, "__") || strings.HasPrefix(s.Name, schema.CustomPrefix) {
				t.Fatalf("bad name %q", s.Name)
			}
			if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
				t.Fatalf("%s = %v", s.Name, s.Value)
			}
			if len(s.Labels) > DefaultLimits.MaxLabels {
				t.Fatalf("%d labels", len(s.Labels))
			}
			for i, l := range s.Labels {
				if !validLabelName(l.Name) || reservedForTest(l.Name) || strings.HasPrefix(l.Name, "__") || !utf8.ValidString(l.Value) {
					t.Fatalf("bad label %q=%q", l.Name, l.Value)
				}
				if i > 0 && s.Labels[i-1].Name >= l.Name {
					t.Fatalf("labels not sorted or repeated: %+v", s.Labels)
				}
			}
			k := seriesKey(s.Name, s.Labels)
			if seen[k] {
				t.Fatalf("duplicate series %q", k)
			}
			seen[k] = true
			if !utf8.ValidString(s.Help) || strings.ContainsAny(s.Help, "\n") {
				t.Fatalf("bad help %q", s.Help)
			}
		}
	})
}
