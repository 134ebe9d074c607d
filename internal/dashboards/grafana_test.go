package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The generated dashboards as the tests read them back: plain structs over
// the JSON Grafana imports, so the tests check the committed files, not the
// generator's intent.

type gDS struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type gLink struct {
	Title       string   `json:"title"`
	Type        string   `json:"type"`
	URL         string   `json:"url"`
	Tags        []string `json:"tags"`
	IncludeVars bool     `json:"includeVars"`
	KeepTime    bool     `json:"keepTime"`
}

type gTarget struct {
	Expr         string `json:"expr"`
	RefID        string `json:"refId"`
	LegendFormat string `json:"legendFormat"`
	Format       string `json:"format"`
	Instant      bool   `json:"instant"`
	Range        bool   `json:"range"`
	Datasource   *gDS   `json:"datasource"`
}

type gOverride struct {
	Matcher struct {
		ID      string `json:"id"`
		Options any    `json:"options"`
	} `json:"matcher"`
	Properties []struct {
		ID    string          `json:"id"`
		Value json.RawMessage `json:"value"`
	} `json:"properties"`
}

type gPanel struct {
	ID          int       `json:"id"`
	Type        string    `json:"type"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Datasource  *gDS      `json:"datasource"`
	Targets     []gTarget `json:"targets"`
	Repeat      string    `json:"repeat"`
	GridPos     struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Options     map[string]any `json:"options"`
	FieldConfig struct {
		Defaults struct {
			Unit   string         `json:"unit"`
			Links  []gLink        `json:"links"`
			Custom map[string]any `json:"custom"`
		} `json:"defaults"`
		Overrides []gOverride `json:"overrides"`
	} `json:"fieldConfig"`
	Transformations []struct {
		ID      string         `json:"id"`
		Options map[string]any `json:"options"`
	} `json:"transformations"`
	Panels []gPanel `json:"panels"`
}

type gVar struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	Query      any    `json:"query"`
	Regex      string `json:"regex"`
	Multi      bool   `json:"multi"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
	Datasource *gDS   `json:"datasource"`
	Current    *struct {
		Text  any `json:"text"`
		Value any `json:"value"`
	} `json:"current"`
}

type gDashboard struct {
	Path       string
	Raw        map[string]json.RawMessage
	UID        string   `json:"uid"`
	Title      string   `json:"title"`
	Tags       []string `json:"tags"`
	Links      []gLink  `json:"links"`
	Panels     []gPanel `json:"panels"`
	Templating struct {
		List []gVar `json:"list"`
	} `json:"templating"`
}

// allPanels returns the dashboard's panels, rows' nested panels included,
// without the rows.
func (d *gDashboard) allPanels() []gPanel {
	var out []gPanel
	var walk func([]gPanel)
	walk = func(ps []gPanel) {
		for _, p := range ps {
			if p.Type != "row" {
				out = append(out, p)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

func (d *gDashboard) variable(name string) *gVar {
	for i := range d.Templating.List {
		if d.Templating.List[i].Name == name {
			return &d.Templating.List[i]
		}
	}
	return nil
}

func (v *gVar) queryString() string {
	if s, ok := v.Query.(string); ok {
		return s
	}
	return ""
}

// loadDashboards reads the committed dashboards.
func loadDashboards(t testing.TB) []*gDashboard {
	t.Helper()
	var out []*gDashboard
	for _, f := range Files {
		b, err := os.ReadFile(filepath.Join("..", "..", f.Path))
		if err != nil {
			t.Fatal(err)
		}
		d := &gDashboard{Path: f.Path}
		if err := json.Unmarshal(b, d); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if err := json.Unmarshal(b, &d.Raw); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		out = append(out, d)
	}
	if len(out) != 3 {
		t.Fatalf("%d dashboards, want 3", len(out))
	}
	return out
}

// Grafana's variable syntax: $name, [[name:format]], ${name.path:format}.
var grafanaVarRE = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// binding is the state of the dashboard variables for one rendering: the
// selected values of each variable ("$__all" for All), the text of the
// selection, and Grafana's built-in interval and range variables.
type binding struct {
	vars     map[string]*gVar
	values   map[string][]string
	texts    map[string]string
	options  map[string][]string // every value of a variable, for All without allValue
	builtins map[string]string
}

func newBinding(d *gDashboard) *binding {
	b := &binding{vars: map[string]*gVar{}, values: map[string][]string{}, texts: map[string]string{},
		options: map[string][]string{}, builtins: map[string]string{}}
	for i := range d.Templating.List {
		v := &d.Templating.List[i]
		b.vars[v.Name] = v
	}
	return b
}

// prometheusRegularEscape and prometheusSpecialRegexEscape are Grafana's
// (public/app/plugins/datasource/prometheus): values of variables that are
// neither multi-value nor include All are only escaped for the string
// literal; the others are escaped as regular expressions.
func prometheusRegularEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\\'`).Replace(s)
}

var regexSpecial = regexp.MustCompile(`[$^*{}\[\]'+?.()|]`)

func prometheusSpecialRegexEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\\\`)
	return regexSpecial.ReplaceAllString(s, `\\$0`)
}

// interpolate replaces the variables in s as Grafana's Prometheus data
// source does for a query, and fails on a variable the dashboard does not
// define.
func (b *binding) interpolate(s string) (string, error) {
	var errs []string
	out := grafanaVarRE.ReplaceAllStringFunc(s, func(m string) string {
		sm := grafanaVarRE.FindStringSubmatch(m)
		name, path, format := sm[1], "", ""
		switch {
		case sm[2] != "":
			name, format = sm[2], sm[3]
		case sm[4] != "":
			name, path, format = sm[4], sm[5], sm[6]
		}
		if v, ok := b.builtins[name]; ok && path == "" {
			return v
		}
		if strings.HasPrefix(name, "__") {
			if name == "__data" || name == "__field" || name == "__url_time_range" || name == "__value" {
				return m // data-link variables, resolved per row by Grafana
			}
			errs = append(errs, "unknown built-in "+m)
			return m
		}
		v, ok := b.vars[name]
		if !ok {
			errs = append(errs, "undefined variable "+m)
			return m
		}
		vals, ok := b.values[name]
		if !ok {
			errs = append(errs, "no value bound for "+m)
			return m
		}
		switch format {
		case "text":
			if t, ok := b.texts[name]; ok {
				return t
			}
			return strings.Join(vals, " + ")
		case "queryparam":
			var ps []string
			for _, x := range vals {
				ps = append(ps, "var-"+name+"="+x)
			}
			return strings.Join(ps, "&")
		case "", "regex":
		default:
			errs = append(errs, "unsupported format "+m)
		}
		if len(vals) == 1 && vals[0] == "$__all" {
			if v.AllValue != "" {
				return v.AllValue
			}
			vals = b.options[name]
		}
		if !v.Multi && !v.IncludeAll {
			return prometheusRegularEscape(vals[0])
		}
		esc := make([]string, len(vals))
		for i, x := range vals {
			esc[i] = prometheusSpecialRegexEscape(x)
		}
		if len(esc) == 1 {
			return esc[0]
		}
		return "(" + strings.Join(esc, "|") + ")"
	})
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}
