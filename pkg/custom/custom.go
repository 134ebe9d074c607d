// Package custom reads and writes the metrics a pipeline step publishes
// about itself (training time, accuracy, samples per second...): the text a
// step leaves in its output parameter (Argo) or result (Tekton) named
// schema.OutputName, which the exit handler pushes as gauges named
// schema.CustomPrefix + name.
//
// That text comes from user code, so Parse treats it as untrusted: it
// enforces size and sample limits and the metric and label name rules,
// keeps reserved labels (the run's identity) out of the step's reach, and
// reports everything it drops, one short line each, never failing as a
// whole. It reads the Prometheus text format through
// github.com/prometheus/common/expfmt, one line at a time so that one bad
// line costs only that line, or a flat JSON object of numbers. Write
// writes samples through expfmt too, so the escaping of label values and
// HELP texts (backslashes, quotes, newlines) is the standard one both ways.
//
//	samples, warnings := custom.Parse(text, custom.DefaultLimits, schema.IsReservedLabel)
//	for _, w := range warnings {
//		log.Printf("step metrics: %s", w)
//	}
//	err := custom.Write(os.Stdout, samples) // accuracy{split="test"} 0.93 ...
package custom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/step-metrics/step-metrics/pkg/schema"
)

// Limits bound what one step's text may hold.
type Limits struct {
	// MaxBytes: a larger text is refused whole.
	MaxBytes int
	// MaxSamples: samples beyond it are dropped.
	MaxSamples int
	// MaxLabels per sample.
	MaxLabels int
	// MaxNameLen for metric and label names, in bytes.
	MaxNameLen int
	// MaxValueLen for label values, in bytes.
	MaxValueLen int
}

// DefaultLimits are what the CLI uses: room for a few hundred metrics per
// step, far below what would strain a Pushgateway.
var DefaultLimits = Limits{MaxBytes: 256 << 10, MaxSamples: 500, MaxLabels: 8, MaxNameLen: 128, MaxValueLen: 256}

// Label is one label of a sample.
type Label struct{ Name, Value string }

// Sample is one custom series of a step.
type Sample struct {
	// Name is the metric name as the step wrote it, without
	// schema.CustomPrefix.
	Name string
	// Help is the step's # HELP text, if any.
	Help string
	// Labels are sorted by name.
	Labels []Label
	Value  float64
}

// Parse reads a step's metrics: the Prometheus text format (sample lines
// `name{label="value"} 1.5`, # HELP and # TYPE comments, escaped as the
// format says), or a JSON object of numbers ({"accuracy": 0.93}). It never
// fails: what it cannot accept is dropped and said in the warnings (at
// most a dozen lines, then a count).
//
// The text is parsed with expfmt line by line, so a bad line drops that
// line only; lines may end in \r\n and carry blanks around them. A sample
// is dropped when its name is not [a-zA-Z_][a-zA-Z0-9_]* (no colons: they
// are for recording rules), starts with "__" or is longer than
// lim.MaxNameLen; when its value is not finite; when it has more than
// lim.MaxLabels labels, a label name that is invalid, starts with "__",
// is longer than lim.MaxNameLen or is reserved (reserved reports the
// names a step may not set; nil refuses only the "__" prefix), or a label
// value longer than lim.MaxValueLen bytes. A leading schema.CustomPrefix
// is removed from names. Timestamps are ignored (the Pushgateway refuses
// them). A later sample of a series replaces an earlier one, keeping its
// place. Samples beyond lim.MaxSamples are dropped, and a text longer than
// lim.MaxBytes is refused whole, before any parsing. Histogram and summary
// families (by their # TYPE) are dropped: a step's values are final
// numbers, pushed as gauges.
func Parse(data []byte, lim Limits, reserved func(string) bool) ([]Sample, []string) {
	p := &parser{lim: lim, reserved: reserved, warn: &warnings{}, index: map[string]int{}}
	if lim.MaxBytes > 0 && len(data) > lim.MaxBytes {
		p.warn.add("text of %d bytes exceeds the %d-byte limit; all of it is dropped", len(data), lim.MaxBytes)
		return nil, p.warn.list()
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		p.parseJSON(trimmed)
	} else {
		p.parseText(data)
	}
	if lim.MaxSamples > 0 && len(p.samples) > lim.MaxSamples {
		p.warn.add("%d samples exceed the limit of %d; the rest are dropped", len(p.samples), lim.MaxSamples)
		p.samples = p.samples[:lim.MaxSamples]
	}
	for i := range p.samples {
		if h, ok := p.help[p.samples[i].Name]; ok {
			p.samples[i].Help = h
		}
	}
	return p.samples, p.warn.list()
}

// Write writes samples in the Prometheus text format with expfmt: one
// gauge family per name, sorted by name and then by labels, with the first
// non-empty Help of its samples as its # HELP. Names are written as given
// (the convention of a step's output is no schema.CustomPrefix: the exit
// handler adds it). Write does not check the samples; Parse does, on the
// way back in.
func Write(w io.Writer, samples []Sample) error {
	for _, mf := range families(samples) {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return err
		}
	}
	return nil
}

// families groups samples into gauge families, as Write writes them.
func families(samples []Sample) []*dto.MetricFamily {
	sorted := make([]Sample, len(samples))
	for i, s := range samples {
		s.Labels = append([]Label(nil), s.Labels...)
		sort.SliceStable(s.Labels, func(i, j int) bool { return s.Labels[i].Name < s.Labels[j].Name })
		sorted[i] = s
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Name != sorted[j].Name {
			return sorted[i].Name < sorted[j].Name
		}
		return seriesKey("", sorted[i].Labels) < seriesKey("", sorted[j].Labels)
	})
	var out []*dto.MetricFamily
	var mf *dto.MetricFamily
	for _, s := range sorted {
		if mf == nil || mf.GetName() != s.Name {
			mf = &dto.MetricFamily{Name: proto.String(s.Name), Type: dto.MetricType_GAUGE.Enum()}
			out = append(out, mf)
		}
		if mf.Help == nil && s.Help != "" {
			mf.Help = proto.String(s.Help)
		}
		m := &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(s.Value)}}
		for _, l := range s.Labels {
			m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
		}
		mf.Metric = append(mf.Metric, m)
	}
	return out
}

type parser struct {
	lim      Limits
	reserved func(string) bool
	warn     *warnings
	samples  []Sample
	index    map[string]int // series key -> position in samples
	help     map[string]string
	dropType map[string]string
	text     expfmt.TextParser
	line     bytes.Buffer
}

func (p *parser) parseJSON(data []byte) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		p.warn.add("not a JSON object of numbers: %s; all of it is dropped", oneLine(err.Error(), 120))
		return
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		v, why := jsonNumber(obj[name])
		if why != "" {
			p.warn.add("JSON key %q: %s; dropped", clip(name), why)
			continue
		}
		p.add(name, nil, v)
	}
}

// jsonNumber reads a JSON number, or says why raw is not one. It looks at
// the value's kind first: encoding/json leaves a float64 untouched on
// null, which would read {"acc": null} as 0. A string is refused even when
// it holds a number, as the text format refuses `acc "1.5"`.
func jsonNumber(raw json.RawMessage) (float64, string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, "no value"
	}
	switch raw[0] {
	case 'n':
		return 0, "null is not a number"
	case 't', 'f':
		return 0, "a boolean is not a number"
	case '"':
		return 0, "a string is not a number (write 1.5, not \"1.5\")"
	case '{':
		return 0, "an object is not a number (nested objects are not read)"
	case '[':
		return 0, "an array is not a number"
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, "the number is out of range of a float64"
	}
	return v, ""
}

// parseText feeds the text to expfmt one line at a time: expfmt fails a
// whole text on its first bad line, and a step's other metrics are worth
// keeping. A sample line needs no context from the lines before it (its
// # TYPE only decides whether it is dropped), so each is parsed alone.
func (p *parser) parseText(data []byte) {
	p.text = expfmt.NewTextParser(model.UTF8Validation)
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line) // blanks and a \r the format does not allow
		if line == "" {
			continue
		}
		if line[0] == '#' {
			p.comment(n+1, line)
			continue
		}
		if !utf8.ValidString(line) {
			p.warn.add("line %d: not valid UTF-8; dropped", n+1)
			continue
		}
		if name, v, ok := simpleSample(line); ok {
			// What expfmt makes of it (FuzzSimpleSample), without its
			// parser's set-up for every line.
			if t, ok := p.dropType[trimPrefix(name)]; ok {
				p.warn.add("metric %q is a %s; only gauges, counters and untyped values are read; dropped", clip(name), t)
				continue
			}
			p.add(name, nil, v)
			continue
		}
		fams, err := p.parseLines(line)
		if err != nil {
			p.warn.add("line %d: %s; dropped", n+1, parseMessage(err))
			continue
		}
		for _, mf := range fams {
			name := trimPrefix(mf.GetName())
			if t, ok := p.dropType[name]; ok {
				p.warn.add("metric %q is a %s; only gauges, counters and untyped values are read; dropped", clip(mf.GetName()), t)
				continue
			}
			for _, m := range mf.GetMetric() {
				var labels []Label
				for _, lp := range m.GetLabel() {
					labels = append(labels, Label{Name: lp.GetName(), Value: lp.GetValue()})
				}
				p.add(mf.GetName(), labels, value(m))
			}
		}
	}
}

// parseLines parses lines (each without its newline) with expfmt.
//
// expfmt v0.66.1 panics on some malformed lines (`{}` after a line it
// refused: FuzzParse found it), and the text is a step's, untrusted: a
// panic is that line's parse error, and the parser is replaced, its state
// unknown.
func (p *parser) parseLines(lines ...string) (fams map[string]*dto.MetricFamily, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.text = expfmt.NewTextParser(model.UTF8Validation)
			fams, err = nil, errors.New("not a sample line the text format parser can read")
		}
	}()
	p.line.Reset()
	for _, l := range lines {
		p.line.WriteString(l)
		p.line.WriteByte('\n')
	}
	return p.text.TextToMetricFamilies(&p.line)
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// parseMessage is expfmt's reason, without its "line 1" (which counts the
// line alone).
func parseMessage(err error) string {
	var pe expfmt.ParseError
	if errors.As(err, &pe) {
		return pe.Msg
	}
	return err.Error()
}

// comment reads # HELP and # TYPE lines; other comments are ignored, as
// are HELP and TYPE lines whose name is not a plain metric name (no name
// Parse keeps could match it).
func (p *parser) comment(n int, line string) {
	rest := strings.TrimLeft(line[1:], " \t")
	keyword, rest, _ := cutBlank(rest)
	if keyword != "HELP" && keyword != "TYPE" {
		return
	}
	rest = strings.TrimLeft(rest, " \t")
	name, text, ok := cutBlank(rest)
	if !ok || !model.LegacyValidation.IsValidMetricName(name) {
		return
	}
	base := trimPrefix(name)
	switch keyword {
	case "HELP":
		// The HELP text is unescaped by expfmt: the line with a sample of
		// its name, since expfmt keeps no family without a sample.
		fams, err := p.parseLines(line, name+" 0")
		if err != nil {
			p.warn.add("line %d: HELP of %q: %s; the HELP is ignored", n, clip(name), parseMessage(err))
			return
		}
		if p.help == nil {
			p.help = map[string]string{}
		}
		p.help[base] = clipHelp(fams[name].GetHelp())
	case "TYPE":
		switch t := strings.ToLower(strings.TrimSpace(text)); t {
		case "histogram", "summary", "gaugehistogram", "gauge_histogram":
			if p.dropType == nil {
				p.dropType = map[string]string{}
			}
			p.dropType[base] = t
			// Their series are name_bucket, name_sum, name_count.
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				p.dropType[base+s] = t
			}
		}
	}
}

// cutBlank cuts s at its first blank or tab; ok reports a non-empty token.
func cutBlank(s string) (token, rest string, ok bool) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, "", s != ""
	}
	return s[:i], s[i+1:], i > 0
}

// trimPrefix removes schema.CustomPrefix from name, however often it is
// there.
func trimPrefix(name string) string {
	for strings.HasPrefix(name, schema.CustomPrefix) {
		name = name[len(schema.CustomPrefix):]
	}
	return name
}

// add checks one sample and keeps it; a later sample of the same series
// replaces an earlier one (a file appended to by a wrapper and its child).
func (p *parser) add(name string, labels []Label, v float64) {
	name = trimPrefix(name)
	switch {
	case !schema.ValidName(name):
		p.warn.add("metric name %q is not a valid Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*); dropped", clip(name))
		return
	case strings.HasPrefix(name, "__"):
		p.warn.add("metric name %q starts with the reserved __; dropped", clip(name))
		return
	case p.lim.MaxNameLen > 0 && len(name) > p.lim.MaxNameLen:
		p.warn.add("metric name %q is longer than %d bytes; dropped", clip(name), p.lim.MaxNameLen)
		return
	case math.IsNaN(v) || math.IsInf(v, 0):
		p.warn.add("metric %q: value %v is not a finite number; dropped", clip(name), v)
		return
	case p.lim.MaxLabels > 0 && len(labels) > p.lim.MaxLabels:
		p.warn.add("metric %q has %d labels, more than %d; dropped", clip(name), len(labels), p.lim.MaxLabels)
		return
	}
	seen := map[string]bool{}
	for _, l := range labels {
		switch {
		case !validLabelName(l.Name) || strings.HasPrefix(l.Name, "__"):
			p.warn.add("metric %q: label name %q is not allowed; dropped", clip(name), clip(l.Name))
			return
		case p.reserved != nil && p.reserved(l.Name):
			p.warn.add("metric %q: label %q is reserved (set by step-metrics); dropped", clip(name), l.Name)
			return
		case seen[l.Name]:
			p.warn.add("metric %q: label %q given twice; dropped", clip(name), l.Name)
			return
		case p.lim.MaxNameLen > 0 && len(l.Name) > p.lim.MaxNameLen:
			p.warn.add("metric %q: label name longer than %d bytes; dropped", clip(name), p.lim.MaxNameLen)
			return
		case p.lim.MaxValueLen > 0 && len(l.Value) > p.lim.MaxValueLen:
			p.warn.add("metric %q: label %q value longer than %d bytes; dropped", clip(name), l.Name, p.lim.MaxValueLen)
			return
		case !utf8.ValidString(l.Value):
			p.warn.add("metric %q: label %q value is not UTF-8; dropped", clip(name), l.Name)
			return
		}
		seen[l.Name] = true
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i].Name < labels[j].Name })
	key := seriesKey(name, labels)
	if i, ok := p.index[key]; ok {
		p.samples[i].Value = v
		return
	}
	p.index[key] = len(p.samples)
	p.samples = append(p.samples, Sample{Name: name, Labels: labels, Value: v})
}

func seriesKey(name string, labels []Label) string {
	var b strings.Builder
	b.WriteString(name)
	for _, l := range labels {
		b.WriteByte(0)
		b.WriteString(l.Name)
		b.WriteByte(0)
		b.WriteString(l.Value)
	}
	return b.String()
}

func validLabelName(s string) bool { return schema.ValidName(s) }

// warnings collects one line per problem, capped.
type warnings struct {
	lines []string
	more  int
}

const maxWarnings = 12

func (w *warnings) add(format string, args ...any) {
	if len(w.lines) >= maxWarnings {
		w.more++
		return
	}
	w.lines = append(w.lines, oneLine(fmt.Sprintf(format, args...), 300))
}

func (w *warnings) list() []string {
	if w.more > 0 {
		return append(w.lines, fmt.Sprintf("... and %d more problems", w.more))
	}
	return w.lines
}

func clip(s string) string { return oneLine(s, 60) }

func clipHelp(s string) string {
	s = strings.ToValidUTF8(s, "?")
	return oneLine(s, 200)
}

func oneLine(s string, n int) string {
	s = strings.ToValidUTF8(strings.NewReplacer("\n", " ", "\r", " ").Replace(s), "?")
	if len(s) > n {
		// Cut on a rune boundary.
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n] + "..."
	}
	return s
}

// simpleSample parses the commonest line, `name value`: a legacy metric
// name, blanks, and a value as expfmt reads one, nothing else (no labels,
// no timestamp). ok is false for any other line, which then goes through
// expfmt (and its error messages).
func simpleSample(line string) (name string, v float64, ok bool) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '_' || c == ':' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || (i > 0 && '0' <= c && c <= '9') {
			i++
			continue
		}
		break
	}
	if i == 0 || i == len(line) || (line[i] != ' ' && line[i] != '\t') {
		return "", 0, false
	}
	rest := strings.TrimLeft(line[i:], " \t")
	if rest == "" || strings.ContainsAny(rest, " \t") {
		return "", 0, false
	}
	// expfmt's parseFloat.
	if strings.ContainsAny(rest, "pP_") {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(rest, 64)
	if err != nil {
		return "", 0, false
	}
	return line[:i], v, true
}
