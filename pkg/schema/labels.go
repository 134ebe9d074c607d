package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxLabelValueLength bounds label values (in bytes); SanitizeLabelValue
// cuts longer values to it, keeping them distinct.
const MaxLabelValueLength = 1024

// cutHashDigits is how many hex digits of a cut value's SHA-256 follow its
// kept start: 64 bits, so that two of a run's values collide only by
// extraordinary chance (odds of about 1 in 40 million for a million long
// values in one run).
const cutHashDigits = 16

// ReservedLabels are the labels step-metrics, the Pushgateway or Prometheus
// set themselves: user labels (--label, --label-from-workflow) and the
// labels of a step's custom metrics may not use them. One list for every
// path in, so a name refused on one is refused on all.
var ReservedLabels = []string{
	LabelJob, LabelInstance, LabelNamespace, LabelWorkflowID,
	LabelEngine, LabelPipeline, LabelWorkflow,
	LabelStep, LabelStage, LabelItem, LabelTemplate, LabelNode, LabelNodeID, LabelAttempt, LabelPod,
	LabelResult, LabelPhase, LabelResource, LabelReason, LabelKept,
	"le", "quantile",
}

var reservedLabels = func() map[string]bool {
	m := make(map[string]bool, len(ReservedLabels))
	for _, l := range ReservedLabels {
		m[l] = true
	}
	return m
}()

// IsReservedLabel reports whether name is in ReservedLabels.
func IsReservedLabel(name string) bool { return reservedLabels[name] }

// SanitizeLabelName turns any string (a Kubernetes label key such as
// app.kubernetes.io/name) into a valid Prometheus label name
// (app_kubernetes_io_name): invalid characters become '_', a leading digit
// gets a '_' prefix, and the reserved '__' prefix is avoided.
func SanitizeLabelName(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	for strings.HasPrefix(out, "__") {
		out = out[1:]
	}
	return out
}

// SanitizeLabelValue makes s safe as a label value: invalid UTF-8 is
// replaced with U+FFFD, and a value then longer than MaxLabelValueLength
// bytes becomes its start, cut at a rune boundary, followed by '~' and the
// first 16 hex digits of the SHA-256 of the whole (repaired) value, in
// MaxLabelValueLength bytes at most:
//
//	<its first 1,004 to 1,007 bytes>~3f9a0c1d2e4b5a6f
//
// So two long values that share their first kilobyte (the node IDs of a
// deep DAG) stay two label values, and the same value always gives the
// same one; a value within the bound is kept as it is, and sanitizing a
// result again changes nothing. Escaping of quotes, backslashes and
// newlines is the encoder's job.
func SanitizeLabelValue(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= MaxLabelValueLength {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	cut := MaxLabelValueLength - 1 - cutHashDigits
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "~" + hex.EncodeToString(sum[:cutHashDigits/2])
}

// ParseLabel parses a user label "name=value". The name must already be a
// valid label name and not reserved.
func ParseLabel(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("label %q: want name=value", s)
	}
	name = strings.TrimSpace(name)
	if err := CheckUserLabelName(name); err != nil {
		return "", "", err
	}
	return name, value, nil
}

// CheckUserLabelName says why name cannot be a user label, or nil: it must
// be a valid Prometheus label name and not reserved.
func CheckUserLabelName(name string) error {
	if name == "" {
		return fmt.Errorf("label name is empty")
	}
	if SanitizeLabelName(name) != name {
		return fmt.Errorf("label name %q is not a valid Prometheus label name (try %q)", name, SanitizeLabelName(name))
	}
	if reservedLabels[name] {
		return fmt.Errorf("label name %q is reserved by step-metrics", name)
	}
	return nil
}

// WorkflowLabels resolves --label-from-workflow keys against a run's labels
// and annotations (labels first). Each key becomes a sanitized label name;
// keys that are missing on the run are skipped. It fails if a key
// sanitizes to a reserved name or two keys to the same name.
func WorkflowLabels(keys []string, labels, annotations map[string]string) (map[string]string, error) {
	out := map[string]string{}
	from := map[string]string{}
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		name := SanitizeLabelName(k)
		if reservedLabels[name] {
			return nil, fmt.Errorf("workflow label %q becomes label %q, which is reserved by step-metrics", k, name)
		}
		if prev, ok := from[name]; ok && prev != k {
			return nil, fmt.Errorf("workflow labels %q and %q both become label %q", prev, k, name)
		}
		from[name] = k
		v, ok := labels[k]
		if !ok {
			v, ok = annotations[k]
		}
		if ok {
			out[name] = v
		}
	}
	return out, nil
}

// SortedNames returns the keys of m, sorted.
func SortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ValidName reports whether s is a metric or label name in the classic
// charset step-metrics reads and writes: [a-zA-Z_][a-zA-Z0-9_]*, without
// colons (they are for recording rules).
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
