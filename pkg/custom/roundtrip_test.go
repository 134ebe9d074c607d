package custom

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// hostile holds label values and HELP texts that need the text format's
// escaping: backslashes, quotes, newlines, UTF-8, braces and commas.
var hostile = []string{
	`C:\data`,
	`C:\\server\share\`,
	`a "quoted" value`,
	"two\nlines",
	`\n is not a newline`,
	"naïve 日本語 🚀",
	`x"} 1` + "\nforged 2",
	`{a="b"},`,
	"tab\tand\rcarriage",
}

// TestWriteParsesWithExpfmt: what Write writes, expfmt reads back to the
// same names, labels, values and HELP texts.
func TestWriteParsesWithExpfmt(t *testing.T) {
	var samples []Sample
	for i, v := range hostile {
		samples = append(samples, Sample{
			Name: fmt.Sprintf("m%d", i), Help: v, Value: float64(i) + 0.5,
			Labels: []Label{{"path", v}, {"z", "1"}},
		})
	}
	var buf bytes.Buffer
	if err := Write(&buf, samples); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("expfmt refuses what Write wrote: %v\n%s", err, buf.String())
	}
	if len(fams) != len(samples) {
		t.Fatalf("%d families, want %d", len(fams), len(samples))
	}
	for i, s := range samples {
		mf := fams[s.Name]
		if mf == nil || mf.GetHelp() != s.Help || mf.GetType() != dto.MetricType_GAUGE || len(mf.GetMetric()) != 1 {
			t.Errorf("%d: family %v", i, mf)
			continue
		}
		m := mf.GetMetric()[0]
		if got := m.GetGauge().GetValue(); got != s.Value {
			t.Errorf("%d: value %v, want %v", i, got, s.Value)
		}
		if len(m.GetLabel()) != 2 || m.GetLabel()[0].GetValue() != s.Labels[0].Value {
			t.Errorf("%d: labels %v, want %v", i, m.GetLabel(), s.Labels)
		}
	}
	// And Parse reads it back unchanged, HELP included (Parse keeps a HELP
	// on one line: newlines become blanks).
	got, warnings := Parse(buf.Bytes(), DefaultLimits, reservedForTest)
	if len(warnings) > 0 {
		t.Errorf("warnings %q", warnings)
	}
	want := append([]Sample(nil), samples...)
	for i := range want {
		want[i].Help = oneLine(want[i].Help, 200)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Name < want[j].Name })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(Write(samples)):\n got  %+v\n want %+v", got, want)
	}
}

// TestParseReadsExpfmt: text written by expfmt's own encoder parses back
// through Parse to the same values.
func TestParseReadsExpfmt(t *testing.T) {
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for i, v := range hostile {
		mf := &dto.MetricFamily{
			Name: proto.String(fmt.Sprintf("pipeline_custom_m%d", i)), Help: proto.String(v), Type: dto.MetricType_COUNTER.Enum(),
			Metric: []*dto.Metric{{
				Label:   []*dto.LabelPair{{Name: proto.String("path"), Value: proto.String(v)}},
				Counter: &dto.Counter{Value: proto.Float64(float64(i))},
			}},
		}
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(buf.String(), `C:\\data`) {
		t.Fatalf("expfmt does not escape as expected:\n%s", buf.String())
	}
	got, warnings := Parse(buf.Bytes(), DefaultLimits, reservedForTest)
	if len(warnings) > 0 {
		t.Errorf("warnings %q", warnings)
	}
	if len(got) != len(hostile) {
		t.Fatalf("%d samples, want %d", len(got), len(hostile))
	}
	for _, s := range got {
		var i int
		if _, err := fmt.Sscanf(s.Name, "m%d", &i); err != nil {
			t.Fatalf("name %q", s.Name)
		}
		if s.Value != float64(i) || len(s.Labels) != 1 || s.Labels[0].Value != hostile[i] || s.Help != oneLine(hostile[i], 200) {
			t.Errorf("m%d: %+v, want path=%q help=%q", i, s, hostile[i], hostile[i])
		}
	}
}

// TestParseHelpEscapes: a HELP is unescaped as the format says; a HELP
// with an escape the format does not know is ignored with a warning, the
// samples kept.
func TestParseHelpEscapes(t *testing.T) {
	got, warnings := Parse([]byte("# HELP acc C:\\\\data\\nnext\nacc 1\r\n"), DefaultLimits, nil)
	if len(warnings) > 0 || len(got) != 1 || got[0].Help != `C:\data next` {
		t.Errorf("got %+v, warnings %q", got, warnings)
	}
	// What the hand-written writer of old produced for Describe("acc", `C:\data`).
	got, warnings = Parse([]byte("# HELP acc C:\\data\nacc 1\n"), DefaultLimits, nil)
	if len(got) != 1 || got[0].Help != "" || len(warnings) != 1 || !strings.Contains(warnings[0], `line 1: HELP of "acc": invalid escape sequence '\d'`) {
		t.Errorf("got %+v, warnings %q", got, warnings)
	}
}

// TestParseLimitBoundaries: each limit lets exactly its value through and
// refuses one more, so an off-by-one in a check fails here.
func TestParseLimitBoundaries(t *testing.T) {
	lim := DefaultLimits
	one := func(text string) ([]Sample, []string) { return Parse([]byte(text), lim, nil) }
	accepted := func(what, text string) {
		t.Helper()
		if got, w := one(text); len(got) != 1 || len(w) != 0 {
			t.Errorf("%s: %d samples, warnings %q; want it accepted", what, len(got), w)
		}
	}
	refused := func(what, text, why string) {
		t.Helper()
		if got, w := one(text); len(got) != 0 || len(w) != 1 || !strings.Contains(w[0], why) {
			t.Errorf("%s: %d samples, warnings %q; want it refused for %q", what, len(got), w, why)
		}
	}
	v := func(n int) string { return strings.Repeat("v", n) }
	accepted("label value of MaxValueLen bytes", `x{a="`+v(lim.MaxValueLen)+`"} 1`)
	refused("label value of MaxValueLen+1 bytes", `x{a="`+v(lim.MaxValueLen+1)+`"} 1`, fmt.Sprintf("longer than %d bytes", lim.MaxValueLen))
	// Bytes, not runes, and after unescaping: `\\` is one byte.
	accepted("escaped label value of MaxValueLen bytes", `x{a="`+strings.Repeat(`\\`, lim.MaxValueLen)+`"} 1`)
	refused("multi-byte label value over MaxValueLen bytes", `x{a="`+strings.Repeat("é", lim.MaxValueLen/2)+`x"} 1`, "longer than")

	accepted("metric name of MaxNameLen bytes", v(lim.MaxNameLen)+" 1")
	refused("metric name of MaxNameLen+1 bytes", v(lim.MaxNameLen+1)+" 1", fmt.Sprintf("longer than %d bytes", lim.MaxNameLen))
	accepted("prefixed metric name of MaxNameLen bytes", "pipeline_custom_"+v(lim.MaxNameLen)+" 1")
	accepted("label name of MaxNameLen bytes", "x{"+v(lim.MaxNameLen)+`="1"} 1`)
	refused("label name of MaxNameLen+1 bytes", "x{"+v(lim.MaxNameLen+1)+`="1"} 1`, fmt.Sprintf("label name longer than %d bytes", lim.MaxNameLen))

	labels := func(n int) string {
		var l []string
		for i := 0; i < n; i++ {
			l = append(l, fmt.Sprintf(`l%d="1"`, i))
		}
		return "x{" + strings.Join(l, ",") + "} 1"
	}
	accepted("MaxLabels labels", labels(lim.MaxLabels))
	refused("MaxLabels+1 labels", labels(lim.MaxLabels+1), fmt.Sprintf("more than %d", lim.MaxLabels))

	lines := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "m%d 1\n", i)
		}
		return b.String()
	}
	if got, w := one(lines(lim.MaxSamples)); len(got) != lim.MaxSamples || len(w) != 0 {
		t.Errorf("MaxSamples samples: %d kept, warnings %q", len(got), w)
	}
	if got, w := one(lines(lim.MaxSamples + 1)); len(got) != lim.MaxSamples || len(w) != 1 {
		t.Errorf("MaxSamples+1 samples: %d kept, warnings %q", len(got), w)
	}

	exact := "x 1\n" + strings.Repeat("#", lim.MaxBytes-5) + "\n"
	if len(exact) != lim.MaxBytes {
		t.Fatalf("test text of %d bytes", len(exact))
	}
	accepted("text of MaxBytes bytes", exact)
	refused("text of MaxBytes+1 bytes", exact+" ", "exceeds the")
}

// TestParseOneBadLineCostsOneLine: expfmt refuses a whole text for one bad
// line; Parse keeps the rest, as the parser before it did.
func TestParseOneBadLineCostsOneLine(t *testing.T) {
	tp := expfmt.NewTextParser(model.UTF8Validation)
	in := "# HELP a First.\n# TYPE a gauge\na 1\nb{x=\"1\" 2\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nc 3\n"
	if _, err := tp.TextToMetricFamilies(strings.NewReader(in)); err == nil {
		t.Fatal("expfmt accepts the text: the test tests nothing")
	}
	got, warnings := Parse([]byte(in), DefaultLimits, nil)
	want := []Sample{{Name: "a", Help: "First.", Value: 1}, {Name: "c", Value: 3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "line 4:") || !strings.Contains(warnings[1], "histogram") {
		t.Errorf("warnings %q", warnings)
	}
}
