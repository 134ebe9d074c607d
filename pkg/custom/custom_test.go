package custom

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func reservedForTest(name string) bool {
	switch name {
	case "job", "namespace", "workflow_id", "step", "workflow", "pipeline", "instance":
		return true
	}
	return false
}

func TestParseText(t *testing.T) {
	in := `# HELP training_seconds Time spent training.
# TYPE training_seconds gauge
training_seconds 812.5
accuracy{split="test"} 0.93
accuracy{split="validation",} 0.91 1700000000000
pipeline_custom_samples_per_second 1.2e3
loss{epoch="3", note="a \"quoted\" \\ value\nnext"} 0.25
`
	got, warnings := Parse([]byte(in), DefaultLimits, reservedForTest)
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	want := []Sample{
		{Name: "training_seconds", Help: "Time spent training.", Value: 812.5},
		{Name: "accuracy", Labels: []Label{{"split", "test"}}, Value: 0.93},
		{Name: "accuracy", Labels: []Label{{"split", "validation"}}, Value: 0.91},
		{Name: "samples_per_second", Value: 1200},
		{Name: "loss", Labels: []Label{{"epoch", "3"}, {"note", "a \"quoted\" \\ value\nnext"}}, Value: 0.25},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseJSON(t *testing.T) {
	got, warnings := Parse([]byte(`{"accuracy": 0.93, "epochs": 12, "model": "resnet", "bad name": 1}`), DefaultLimits, nil)
	want := []Sample{{Name: "accuracy", Value: 0.93}, {Name: "epochs", Value: 12}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "bad name") || !strings.Contains(warnings[1], "model") {
		t.Errorf("warnings %q", warnings)
	}
	if _, w := Parse([]byte(`{"a": 1`), DefaultLimits, nil); len(w) != 1 || !strings.Contains(w[0], "JSON") {
		t.Errorf("broken JSON: %q", w)
	}
}

// TestParseDrops: every kind of bad input is dropped with a warning that
// says why, and the good samples around it survive.
func TestParseDrops(t *testing.T) {
	cases := []struct{ line, why string }{
		// Syntax errors are expfmt's, with the line number in the text.
		{`9lives 1`, "line 2: invalid metric name"},
		{`recording:rule 1`, "not a valid Prometheus name"},
		{`{"dotted.name"} 1`, "not a valid Prometheus name"},
		{`__internal 1`, "reserved __"},
		{`x{workflow_id="forged"} 1`, `label "workflow_id" is reserved`},
		{`x{step="other"} 1`, `label "step" is reserved`},
		{`x{__name__="y"} 1`, `label name "__name__" is reserved`},
		{`x{__meta="y"} 1`, "not allowed"},
		{`x{"a.b"="y"} 1`, "not allowed"},
		{`x{a="1",a="2"} 1`, "duplicate label names"},
		{`x{a=1} 1`, `expected '"' at start of label value`},
		{`x{a="1"`, `unexpected end of label value "1"`},
		{`x{a="1`, "unescaped new-line"},
		{`x{a="1" b="2"} 1`, `unexpected end of label value "1"`},
		{`x{a="C:\data"} 1`, `invalid escape sequence '\d'`},
		{`x`, `expected float as value, got ""`},
		{`x one`, `expected float as value, got "one"`},
		{`x NaN`, "not a finite number"},
		{`x +Inf`, "not a finite number"},
		{`x 1 2 3`, "spurious string after timestamp"},
		{`x 1 soon`, `expected integer as timestamp, got "soon"`},
		{`x{a="` + strings.Repeat("v", 300) + `"} 1`, "longer than 256"},
		{"x{a=\"\xff\"} 1", "not valid UTF-8"},
		{`x{a="1",b="1",c="1",d="1",e="1",f="1",g="1",h="1",i="1"} 1`, "more than 8"},
		{strings.Repeat("n", 200) + ` 1`, "longer than 128"},
	}
	for _, c := range cases {
		got, warnings := Parse([]byte("good_before 1\n"+c.line+"\ngood_after 2\n"), DefaultLimits, reservedForTest)
		if len(got) != 2 || got[0].Name != "good_before" || got[1].Name != "good_after" {
			t.Errorf("%q: samples %+v", c.line, got)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], c.why) {
			t.Errorf("%q: warnings %q, want one containing %q", c.line, warnings, c.why)
		}
	}
}

func TestParseHistogramDropped(t *testing.T) {
	in := "# TYPE lat histogram\nlat_bucket{le=\"1\"} 3\nlat_sum 2\nlat_count 3\nok 1\n"
	got, warnings := Parse([]byte(in), DefaultLimits, nil)
	if len(got) != 1 || got[0].Name != "ok" {
		t.Errorf("samples %+v", got)
	}
	if len(warnings) != 3 {
		t.Errorf("warnings %q", warnings)
	}
}

func TestParseDuplicatesLastWins(t *testing.T) {
	in := "loss{epoch=\"1\"} 0.5\nloss{epoch=\"2\"} 0.4\nloss{epoch=\"1\"} 0.45\n"
	got, _ := Parse([]byte(in), DefaultLimits, nil)
	want := []Sample{{Name: "loss", Labels: []Label{{"epoch", "1"}}, Value: 0.45}, {Name: "loss", Labels: []Label{{"epoch", "2"}}, Value: 0.4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
}

func TestParseLimits(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 600; i++ {
		fmt.Fprintf(&b, "m_%d %d\n", i, i)
	}
	got, warnings := Parse([]byte(b.String()), DefaultLimits, nil)
	if len(got) != DefaultLimits.MaxSamples || got[len(got)-1].Name != "m_499" {
		t.Errorf("%d samples kept, last %q", len(got), got[len(got)-1].Name)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "600 samples exceed the limit of 500") {
		t.Errorf("warnings %q", warnings)
	}
	huge := strings.Repeat("x 1\n", DefaultLimits.MaxBytes/4+1)
	got, warnings = Parse([]byte(huge), DefaultLimits, nil)
	if len(got) != 0 || len(warnings) != 1 || !strings.Contains(warnings[0], "exceeds") {
		t.Errorf("huge input: %d samples, %q", len(got), warnings)
	}
	// Warnings are capped, so hostile text cannot flood the logs.
	_, warnings = Parse([]byte(strings.Repeat("bad line here\n", 1000)), DefaultLimits, nil)
	if len(warnings) != maxWarnings+1 || !strings.Contains(warnings[maxWarnings], "and 988 more") {
		t.Errorf("%d warnings, last %q", len(warnings), warnings[len(warnings)-1])
	}
}

func TestParseWarningsAreOneLine(t *testing.T) {
	_, warnings := Parse([]byte("x{a=\"1\nb\"} 1\n"+strings.Repeat("z", 500)+"{ 1\n"), DefaultLimits, nil)
	for _, w := range warnings {
		if strings.ContainsAny(w, "\n\r") || len(w) > 310 {
			t.Errorf("warning not one short line: %q", w)
		}
	}
}
