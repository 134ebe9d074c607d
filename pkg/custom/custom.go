// Package custom reads the metrics a pipeline step publishes about itself
// (training time, accuracy, samples per second...) from untrusted text: the
// Prometheus text format, or a flat JSON object of numbers. What a step
// writes is input from user code, so Parse enforces size and sample limits,
// metric and label name rules, keeps reserved labels (the run's identity)
// out of the step's reach, and reports everything it drops, one line each.
//
// Custom metrics are pushed as gauges named Prefix+name, so they cannot
// collide with step-metrics' own metrics.
package custom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Prefix is put before every custom metric's name.
const Prefix = "pipeline_custom_"

// OutputName is the name of the Argo output parameter (or Tekton result)
// that carries a step's metrics; names starting with OutputName+"-" are
// read too.
const OutputName = "step-metrics"

// Limits bound what one step's text may hold.
type Limits struct {
	// MaxBytes: a larger text is refused whole.
	MaxBytes int
	// MaxSamples: samples beyond it are dropped.
	MaxSamples int
	// MaxLabels per sample.
	MaxLabels int
	// MaxNameLen for metric and label names.
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
	// Name is the metric name as the step wrote it, without Prefix.
	Name string
	// Help is the step's # HELP text, if any.
	Help string
	// Labels are sorted by name.
	Labels []Label
	Value  float64
}

// Parse reads a step's metrics: the Prometheus text format (sample lines
// `name{label="value"} 1.5`, # HELP and # TYPE comments), or a JSON object
// of numbers ({"accuracy": 0.93}). It never fails: what it cannot accept is
// dropped and said in the warnings (at most a dozen lines, with counts).
// reserved reports label names the step may not set (nil: only the "__"
// prefix is refused). Histogram and summary families are dropped: a step's
// values are final numbers, pushed as gauges.
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

type parser struct {
	lim      Limits
	reserved func(string) bool
	warn     *warnings
	samples  []Sample
	index    map[string]int // series key -> position in samples
	help     map[string]string
	dropType map[string]string
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
		var v float64
		if err := json.Unmarshal(obj[name], &v); err != nil {
			p.warn.add("JSON key %q: value is not a number; dropped", clip(name))
			continue
		}
		p.add(name, nil, v)
	}
}

func (p *parser) parseText(data []byte) {
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" {
			continue
		}
		if line[0] == '#' {
			p.comment(line)
			continue
		}
		name, labels, value, err := parseSample(line)
		if err != nil {
			p.warn.add("line %d: %v; dropped", n+1, err)
			continue
		}
		if t, ok := p.dropType[strings.TrimPrefix(name, Prefix)]; ok {
			p.warn.add("metric %q is a %s; only gauges, counters and untyped values are read; dropped", clip(name), t)
			continue
		}
		p.add(name, labels, value)
	}
}

// comment reads # HELP and # TYPE lines; other comments are ignored.
func (p *parser) comment(line string) {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "#" {
		return
	}
	name := strings.TrimPrefix(f[2], Prefix)
	switch f[1] {
	case "HELP":
		if p.help == nil {
			p.help = map[string]string{}
		}
		h := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line[1:]), "HELP"))
		h = strings.TrimSpace(strings.TrimPrefix(h, f[2]))
		p.help[name] = clipHelp(h)
	case "TYPE":
		if len(f) >= 4 && (f[3] == "histogram" || f[3] == "summary" || f[3] == "gaugehistogram") {
			if p.dropType == nil {
				p.dropType = map[string]string{}
			}
			p.dropType[name] = f[3]
			// Their series are name_bucket, name_sum, name_count.
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				p.dropType[name+s] = f[3]
			}
		}
	}
}

// add checks one sample and keeps it; a later sample of the same series
// replaces an earlier one (a file appended to by a wrapper and its child).
func (p *parser) add(name string, labels []Label, v float64) {
	name = strings.TrimPrefix(name, Prefix)
	switch {
	case !validMetricName(name):
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

// parseSample parses `name{l="v",...} value [timestamp]`.
func parseSample(line string) (string, []Label, float64, error) {
	i := 0
	for i < len(line) && isNameChar(line[i], i == 0, true) {
		i++
	}
	if i == 0 {
		return "", nil, 0, fmt.Errorf("no metric name")
	}
	name := line[:i]
	var labels []Label
	if i < len(line) && line[i] == '{' {
		i++
		for {
			for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
				i++
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			j := i
			for j < len(line) && isNameChar(line[j], j == i, false) {
				j++
			}
			if j == i {
				return "", nil, 0, fmt.Errorf("metric %q: bad label name", clip(name))
			}
			lname := line[i:j]
			i = j
			for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
				i++
			}
			if i >= len(line) || line[i] != '=' {
				return "", nil, 0, fmt.Errorf("metric %q: label %q has no '='", clip(name), clip(lname))
			}
			i++
			for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
				i++
			}
			if i >= len(line) || line[i] != '"' {
				return "", nil, 0, fmt.Errorf("metric %q: label %q value is not quoted", clip(name), clip(lname))
			}
			i++
			var v strings.Builder
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '\\' && i+1 < len(line) {
					switch line[i+1] {
					case 'n':
						v.WriteByte('\n')
					case '\\', '"':
						v.WriteByte(line[i+1])
					default:
						v.WriteByte('\\')
						v.WriteByte(line[i+1])
					}
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				v.WriteByte(c)
				i++
			}
			if !closed {
				return "", nil, 0, fmt.Errorf("metric %q: label %q value is not closed", clip(name), clip(lname))
			}
			labels = append(labels, Label{Name: lname, Value: v.String()})
			for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
				i++
			}
			if i < len(line) && line[i] == ',' {
				i++
				continue
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			return "", nil, 0, fmt.Errorf("metric %q: expected ',' or '}' after label %q", clip(name), clip(lname))
		}
	}
	rest := strings.Fields(line[i:])
	switch {
	case len(rest) == 0:
		return "", nil, 0, fmt.Errorf("metric %q has no value", clip(name))
	case len(rest) > 2:
		return "", nil, 0, fmt.Errorf("metric %q: unexpected text after the value", clip(name))
	case len(rest) == 2:
		if _, err := strconv.ParseInt(rest[1], 10, 64); err != nil {
			return "", nil, 0, fmt.Errorf("metric %q: bad timestamp %q", clip(name), clip(rest[1]))
		}
		// Timestamps are dropped: the Pushgateway refuses them.
	}
	v, err := strconv.ParseFloat(rest[0], 64)
	if err != nil {
		return "", nil, 0, fmt.Errorf("metric %q: value %q is not a number", clip(name), clip(rest[0]))
	}
	return name, labels, v, nil
}

func isNameChar(c byte, first, colon bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return true
	case c >= '0' && c <= '9':
		return !first
	case c == ':':
		return colon
	}
	return false
}

// validMetricName: no colons (they are for recording rules).
func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameChar(s[i], i == 0, false) {
			return false
		}
	}
	return true
}

func validLabelName(s string) bool { return validMetricName(s) }

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
