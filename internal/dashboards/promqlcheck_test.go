package dashboards

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/step-metrics/step-metrics/pkg/schema"
)

// This file checks that queries name only metrics and labels step-metrics
// pushes. It reads PromQL with a small lexer instead of Prometheus's parser
// (not a dependency of this module); Prometheus itself parses every query in
// the end-to-end test, so a syntax error cannot slip through, while this
// check runs without Prometheus and reports unknown names precisely.

// Labels every step-metrics series carries: the grouping labels, the run
// labels and the label Prometheus or the Pushgateway may add.
var (
	groupingLabels = []string{"job", "namespace", "workflow_id"}
	runLabels      = []string{"engine", "pipeline", "workflow"}
	scrapeLabels   = []string{"instance"}
	// customLabels are on pipeline_custom_* series besides the user's and
	// the step's own (attempt only for attempts of a retried step).
	customLabels = []string{"step", "template", "node_id", "attempt"}
)

// knownMetrics maps each metric name a query may use to its labels.
func knownMetrics() map[string]map[string]bool {
	base := func(extra ...string) map[string]bool {
		m := map[string]bool{}
		for _, l := range [][]string{groupingLabels, runLabels, scrapeLabels, extra} {
			for _, x := range l {
				m[x] = true
			}
		}
		return m
	}
	out := map[string]map[string]bool{}
	for _, d := range schema.Definitions {
		out[d.Name] = base(d.Labels...)
		if d.Type == "summary" {
			out[d.Name+"_sum"] = base(d.Labels...)
			out[d.Name+"_count"] = base(d.Labels...)
		}
	}
	for _, n := range []string{mPushTime, mPushFailureTime} {
		out[n] = map[string]bool{"job": true, "namespace": true, "workflow_id": true, "instance": true}
	}
	out["up"] = map[string]bool{"job": true, "instance": true}
	return out
}

// labelsOf returns the labels a selector's metric has; custom metrics
// (pipeline_custom_*) have the run labels plus customLabels.
func labelsOf(known map[string]map[string]bool, s selectorRef) (map[string]bool, error) {
	custom := map[string]bool{}
	for _, l := range [][]string{groupingLabels, runLabels, scrapeLabels, customLabels} {
		for _, x := range l {
			custom[x] = true
		}
	}
	switch {
	case s.Metric != "":
		if strings.HasPrefix(s.Metric, CustomPrefix) && len(s.Metric) > len(CustomPrefix) {
			return custom, nil
		}
		if ls, ok := known[s.Metric]; ok {
			return ls, nil
		}
		return nil, fmt.Errorf("metric %s is not pushed by step-metrics", s.Metric)
	case s.NameRegex != "":
		if !strings.HasPrefix(s.NameRegex, CustomPrefix) {
			return nil, fmt.Errorf("__name__=~%q may match metrics step-metrics does not push", s.NameRegex)
		}
		for _, alt := range strings.Split(strings.Trim(s.NameRegex, "()"), "|") {
			if !strings.HasPrefix(alt, CustomPrefix) {
				return nil, fmt.Errorf("__name__=~%q may match metrics step-metrics does not push", s.NameRegex)
			}
		}
		return custom, nil
	}
	return nil, fmt.Errorf("selector %s names no metric", s.Text)
}

// allLabels is every label any known metric has.
func allLabels(known map[string]map[string]bool) map[string]bool {
	out := map[string]bool{"__name__": true}
	for _, ls := range known {
		for l := range ls {
			out[l] = true
		}
	}
	for _, l := range customLabels {
		out[l] = true
	}
	return out
}

// CheckPromQL returns an error for each metric or label in expr that
// step-metrics does not push; it also fails on functions PromQL does not
// have. Grafana's label_values(selector, label) and query_result(expr) are
// understood.
func CheckPromQL(expr string) []error {
	refs, err := scanPromQL(expr)
	if err != nil {
		return []error{err}
	}
	known := knownMetrics()
	all := allLabels(known)
	var errs []error
	for _, s := range refs.Selectors {
		ls, err := labelsOf(known, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, l := range s.Labels {
			if l != "__name__" && !ls[l] {
				errs = append(errs, fmt.Errorf("%s: label %s is not on that metric", s.Text, l))
			}
		}
	}
	for _, l := range refs.Grouping {
		if !all[l] {
			errs = append(errs, fmt.Errorf("label %s (in by/without/on/ignoring/group_*) is on no metric step-metrics pushes", l))
		}
	}
	return errs
}

type selectorRef struct {
	Text      string
	Metric    string
	NameRegex string
	Labels    []string
}

type promqlRefs struct {
	Selectors []selectorRef
	Grouping  []string
}

var promqlFunctions = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max clamp_min
		cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv exp floor histogram_count histogram_fraction
		histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta increase irate label_join label_replace last_over_time
		ln log10 log2 mad_over_time max_over_time min_over_time minute month pi predict_linear present_over_time quantile_over_time rad rate resets round
		scalar sgn sin sinh sort sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector year
		sum min max avg group stddev stdvar count count_values bottomk topk quantile
		start end label_values query_result`) {
		promqlFunctions[f] = true
	}
}

var promqlKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true}

var groupingKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number, 'p' punctuation
	text string
}

func lexPromQL(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '#': // comment to end of line
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			var b strings.Builder
			for j < len(s) && rune(s[j]) != c {
				if s[j] == '\\' && c != '`' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string in %q", s)
			}
			toks = append(toks, token{'s', b.String()})
			i = j + 1
		case c == '_' || c == ':' || unicode.IsLetter(c):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == ':' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			toks = append(toks, token{'i', s[i:j]})
			i = j
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				((s[j] == '+' || s[j] == '-') && j > i && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			toks = append(toks, token{'n', s[i:j]})
			i = j
		case c == '[': // a range or subquery: durations and variables, skipped
			depth := 0
			j := i
			for ; j < len(s); j++ {
				if s[j] == '[' {
					depth++
				} else if s[j] == ']' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unbalanced [ in %q", s)
			}
			i = j + 1
		case c == '$': // a Grafana variable left in the expression
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '{' || s[j] == '}' || s[j] == ':' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			toks = append(toks, token{'n', s[i:j]})
			i = j
		default:
			// Operators of one or two characters.
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "==", "!=", "<=", ">=", "=~", "!~":
				toks = append(toks, token{'p', two})
				i += 2
				continue
			}
			toks = append(toks, token{'p', string(c)})
			i++
		}
	}
	return toks, nil
}

// scanPromQL collects the selectors and grouping labels of expr.
func scanPromQL(expr string) (promqlRefs, error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return promqlRefs{}, err
	}
	var refs promqlRefs
	labelList := func(i int) (int, []string, error) { // toks[i] is "("
		var out []string
		for j := i + 1; j < len(toks); j++ {
			switch t := toks[j]; {
			case t.kind == 'p' && t.text == ")":
				return j, out, nil
			case t.kind == 'p' && t.text == ",":
			case t.kind == 'i':
				out = append(out, t.text)
			default:
				return 0, nil, fmt.Errorf("unexpected %q in label list", t.text)
			}
		}
		return 0, nil, fmt.Errorf("unterminated label list")
	}
	matchers := func(i int, s *selectorRef) (int, error) { // toks[i] is "{"
		for j := i + 1; j < len(toks); j++ {
			t := toks[j]
			if t.kind == 'p' && t.text == "}" {
				return j, nil
			}
			if t.kind == 'p' && t.text == "," {
				continue
			}
			if t.kind != 'i' || j+2 >= len(toks) || toks[j+1].kind != 'p' || toks[j+2].kind != 's' {
				return 0, fmt.Errorf("bad matcher at %q", t.text)
			}
			op, val := toks[j+1].text, toks[j+2].text
			if t.text == "__name__" {
				switch op {
				case "=":
					s.Metric = val
				case "=~":
					s.NameRegex = val
				default:
					return 0, fmt.Errorf("__name__%s is not supported here", op)
				}
			}
			s.Labels = append(s.Labels, t.text)
			j += 2
		}
		return 0, fmt.Errorf("unterminated matchers")
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := token{}
		if i+1 < len(toks) {
			next = toks[i+1]
		}
		switch {
		case t.kind == 'i' && groupingKeywords[t.text]:
			if next.kind == 'p' && next.text == "(" {
				end, ls, err := labelList(i + 1)
				if err != nil {
					return refs, err
				}
				refs.Grouping = append(refs.Grouping, ls...)
				i = end
			}
		case t.kind == 'i' && promqlKeywords[strings.ToLower(t.text)]:
		case t.kind == 'i' && next.kind == 'p' && next.text == "(":
			if !promqlFunctions[t.text] {
				return refs, fmt.Errorf("unknown function %s", t.text)
			}
			if t.text == "label_values" { // label_values(selector, label): the last argument is a label
				if n := len(toks); n >= 2 && toks[n-1].text == ")" && toks[n-2].kind == 'i' {
					refs.Grouping = append(refs.Grouping, toks[n-2].text)
					toks = toks[:n-2]
				}
			}
		case t.kind == 'i' && promqlFunctions[t.text] && next.kind == 'i' && (next.text == "by" || next.text == "without"):
			// An aggregation with its grouping first: sum by (x) (...).
		case t.kind == 'i':
			s := selectorRef{Text: t.text, Metric: t.text}
			if next.kind == 'p' && next.text == "{" {
				end, err := matchers(i+1, &s)
				if err != nil {
					return refs, err
				}
				s.Text = tokText(toks[i : end+1])
				i = end
			}
			refs.Selectors = append(refs.Selectors, s)
		case t.kind == 'p' && t.text == "{":
			s := selectorRef{}
			end, err := matchers(i, &s)
			if err != nil {
				return refs, err
			}
			s.Text = tokText(toks[i : end+1])
			i = end
			refs.Selectors = append(refs.Selectors, s)
		}
	}
	return refs, nil
}

func tokText(ts []token) string {
	var b strings.Builder
	for _, t := range ts {
		if t.kind == 's' {
			fmt.Fprintf(&b, "%q", t.text)
		} else {
			b.WriteString(t.text)
		}
	}
	return b.String()
}

func TestCheckPromQL(t *testing.T) {
	good := []string{
		`count by (pipeline) (count by (pipeline, workflow_id) (last_over_time(pipeline_run_result{result="success"}[$__range]) == 1))`,
		`quantile by (namespace, pipeline) (0.9, max by (namespace, pipeline, workflow_id) (last_over_time(pipeline_run_duration_seconds{namespace=~"ml"}[1d] @ end())))`,
		`sum by (template) (pipeline_template_duration_seconds_sum) / sum by (template) (pipeline_template_duration_seconds_count)`,
		`push_failure_time_seconds{workflow_id!=""} > push_time_seconds and on (job) up`,
		`max without (job, instance, engine, workflow, workflow_id, node_id, template) ({__name__=~"pipeline_custom_accuracy", step=~".*"})`,
		`pipeline_custom_accuracy{step="evaluate"} * on (node_id) group_left (result) pipeline_step_result`,
		`label_values(pipeline_step_result{namespace=~"$namespace"}, step)`,
		`label_values(pipeline_stage_duration_seconds{pipeline="p"}, stage)`,
		`sum by (stage) (max by (stage, result, workflow_id) (pipeline_stage_items{stage=~"train"}))`,
		`label_values({__name__=~"pipeline_custom_.+"}, __name__)`,
		`query_result(sort_desc(max by (workflow, workflow_id) (pipeline_run_start_timestamp_seconds)))`,
		`time() - 6 * 3600 + 1e3 - .5`,
	}
	for _, q := range good {
		if errs := CheckPromQL(q); len(errs) > 0 {
			t.Errorf("%s: %v", q, errs)
		}
	}
	bad := map[string]string{
		`pipeline_run_durations_seconds`:                             "not pushed",
		`pipeline_run_result{step="x"}`:                              "label step",
		`sum by (stages) (pipeline_step_duration_seconds)`:           "label stages",
		`pipeline_stage_retries{item="0"}`:                           "label item",
		`pipeline_step_retries{attempt="1"}`:                         "label attempt",
		`{__name__=~"pipeline_.+"}`:                                  "may match",
		`{job="x"}`:                                                  "names no metric",
		`rate(pipeline_run_retries[5m]) * on (pod) group_left () up`: "label pod",
		`label_values(pipeline_run_result, stage_name)`:              "label stage_name",
		`pipeline_custom_accuracy{stage="train"}`:                    "label stage",
		`lastover_time(up[1m])`:                                      "unknown function",
		`push_time_seconds{pipeline="p"}`:                            "label pipeline",
	}
	for q, want := range bad {
		errs := CheckPromQL(q)
		if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), want) {
			t.Errorf("%s: errors %v, want one about %q", q, errs, want)
		}
	}
}

// sortedSet returns the keys of a set, sorted.
func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
