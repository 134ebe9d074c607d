package dashboards

// Previews: Grafana cannot run here, so with -previews the end-to-end test
// draws each dashboard as an SVG from the very results Prometheus returned
// for its panel queries (the first scenario's), laid out on the dashboard's
// grid. They are labelled as previews: the panel kinds are approximated
// (time series, stat, bar gauge, table), not Grafana's rendering.
//
//	go test ./internal/dashboards -run TestEndToEnd -previews   # or: make dashboard-previews

import (
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

var previews = flag.Bool("previews", false, "write dashboards/previews/*.svg from the end-to-end test's query results")

type previewPanel struct {
	p       gPanel
	title   string
	yOffset int // grid rows, for repetitions of a repeated row
	results []*testenv.Result
}

type previewDash struct {
	d       *gDashboard
	vars    string
	panels  []previewPanel
	rows    []previewPanel
	maxY    int
	repeats map[string]int // repeated row block height, by variable
}

func (e *e2e) collectPreview(d *gDashboard, sc scenario, b *binding, p gPanel, repeat string, rep int, title string, results map[string]*testenv.Result) {
	pd := e.previews[d.UID]
	if pd == nil {
		var vs []string
		for _, v := range d.Templating.List {
			if v.Type == "query" || v.Type == "custom" {
				val := strings.Join(sc.values[v.Name], ", ")
				if t, ok := sc.texts[v.Name]; ok {
					val = t
				}
				if val == all {
					val = "All"
				}
				vs = append(vs, v.Name+"="+val)
			}
		}
		pd = &previewDash{d: d, vars: strings.Join(vs, "  "), repeats: map[string]int{}}
		e.previews[d.UID] = pd
		// Rows, and the height of each repeated row's block.
		for i, r := range d.Panels {
			if r.Type != "row" {
				continue
			}
			title := r.Title
			if r.Repeat == "" {
				if t, err := b.interpolate(title); err == nil {
					title = t
				}
			}
			pd.rows = append(pd.rows, previewPanel{p: r, title: title})
			if r.Repeat != "" {
				end := r.GridPos.Y + 1
				for _, q := range d.Panels[i+1:] {
					if q.Type == "row" {
						break
					}
					if q.GridPos.Y+q.GridPos.H > end {
						end = q.GridPos.Y + q.GridPos.H
					}
				}
				pd.repeats[r.Repeat] = end - r.GridPos.Y
			}
		}
	}
	if t, err := b.interpolate(title); err == nil {
		title = t
	}
	pp := previewPanel{p: p, title: title, yOffset: rep * pd.repeats[repeat]}
	for _, tg := range p.Targets {
		pp.results = append(pp.results, results[tg.RefID])
	}
	pd.panels = append(pd.panels, pp)
	if y := p.GridPos.Y + p.GridPos.H + pp.yOffset; y > pd.maxY {
		pd.maxY = y
	}
	// A repeated row is drawn once per repetition.
	if rep == 0 && repeat != "" {
		for i := range pd.rows {
			if pd.rows[i].p.Repeat == repeat && pd.rows[i].yOffset == 0 {
				pd.rows[i].title = strings.ReplaceAll(pd.rows[i].p.Title, "$"+repeat, b.values[repeat][0])
			}
		}
	}
	if rep > 0 && repeat != "" {
		for _, r := range pd.rows {
			if r.p.Repeat == repeat && r.yOffset == 0 {
				dup := r
				dup.yOffset = rep * pd.repeats[repeat]
				dup.title = strings.ReplaceAll(r.p.Title, "$"+repeat, b.values[repeat][0])
				if !containsRow(pd.rows, dup) {
					pd.rows = append(pd.rows, dup)
				}
			}
		}
	}
}

func containsRow(rows []previewPanel, r previewPanel) bool {
	for _, x := range rows {
		if x.p.ID == r.p.ID && x.yOffset == r.yOffset {
			return true
		}
	}
	return false
}

func (e *e2e) writePreviews(t *testing.T) {
	dir := filepath.Join(root, "dashboards", "previews")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range Files {
		var pd *previewDash
		for _, x := range e.previews {
			if "dashboards/"+filepath.Base(f.Path) == f.Path && x.d.Path == f.Path {
				pd = x
			}
		}
		if pd == nil {
			t.Errorf("no preview for %s", f.Path)
			continue
		}
		name := strings.TrimSuffix(filepath.Base(f.Path), ".json") + ".svg"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(e.svg(pd)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote dashboards/previews/%s", name)
	}
}

// Drawing.

const (
	colW, rowH, pad = 50, 30, 4
	headerH         = 64
)

var palette = []string{"#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2", "#B877D9", "#FADE2A", "#37872D", "#C4162A"}

type svgBuf struct{ strings.Builder }

func (b *svgBuf) text(x, y float64, size int, fill, anchor, s string, bold bool) {
	w := ""
	if bold {
		w = ` font-weight="bold"`
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="%d" fill="%s" text-anchor="%s"%s>%s</text>`+"\n", x, y, size, fill, anchor, w, html.EscapeString(s))
}

func (e *e2e) svg(pd *previewDash) string {
	width := 24 * colW
	height := headerH + (pd.maxY+1)*rowH
	var b svgBuf
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Inter, Helvetica, Arial, sans-serif">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#111217"/>`+"\n")
	b.text(12, 24, 18, "#ccccdc", "start", pd.d.Title, true)
	b.text(float64(width-12), 24, 12, "#FF780A", "end", "PREVIEW — drawn from the end-to-end test's Prometheus results (synthetic runs), not a Grafana screenshot", false)
	b.text(12, 48, 12, "#8e8e9e", "start", pd.vars+"   time range: last "+fmt.Sprint(e2eRange), false)
	for _, r := range pd.rows {
		y := float64(headerH + (r.p.GridPos.Y+r.yOffset)*rowH)
		b.text(12, y+20, 14, "#ccccdc", "start", r.title, true)
	}
	for _, pp := range pd.panels {
		e.drawPanel(&b, pp)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func (e *e2e) drawPanel(b *svgBuf, pp previewPanel) {
	g := pp.p.GridPos
	x := float64(g.X*colW + pad)
	y := float64(headerH + (g.Y+pp.yOffset)*rowH + pad)
	w := float64(g.W*colW - 2*pad)
	h := float64(g.H*rowH - 2*pad)
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="3" fill="#181b1f" stroke="#2c3235"/>`+"\n", x, y, w, h)
	b.text(x+8, y+18, 13, "#ccccdc", "start", clip(pp.title, int(w/7)), true)
	inner := struct{ x, y, w, h float64 }{x + 8, y + 28, w - 16, h - 36}
	switch pp.p.Type {
	case "stat":
		e.drawStat(b, pp, inner.x, inner.y, inner.w, inner.h)
	case "timeseries":
		e.drawTimeseries(b, pp, inner.x, inner.y, inner.w, inner.h)
	case "bargauge":
		e.drawBars(b, pp, inner.x, inner.y, inner.w, inner.h)
	case "table":
		e.drawTable(b, pp, inner.x, inner.y, inner.w, inner.h)
	}
}

func clip(s string, n int) string {
	if n < 4 {
		n = 4
	}
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func (e *e2e) format(unit string, v float64) string {
	switch {
	case unit == "s":
		switch a := math.Abs(v); {
		case a < 60:
			return strconv.FormatFloat(v, 'f', -1, 64) + " s"
		case a < 3600:
			return fmt.Sprintf("%.1f min", v/60)
		case a < 86400:
			return fmt.Sprintf("%.1f h", v/3600)
		default:
			return fmt.Sprintf("%.1f day", v/86400)
		}
	case unit == "percentunit":
		return fmt.Sprintf("%.1f%%", 100*v)
	case unit == "dateTimeAsIso":
		return time.UnixMilli(int64(v)).UTC().Format("2006-01-02 15:04")
	case unit == "dateTimeFromNow":
		return fmt.Sprintf("%.0f min ago", e.end.Sub(time.UnixMilli(int64(v))).Minutes())
	case strings.HasPrefix(unit, "suffix:"):
		return fmt.Sprintf("%.2f%s", v, strings.TrimPrefix(unit, "suffix:"))
	}
	switch a := math.Abs(v); {
	case a >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1f K", v/1e3)
	case a == math.Trunc(a):
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}

func legend(format string, m map[string]string) string {
	if format == "" {
		var parts []string
		for _, k := range sortedKeys(m) {
			if k != "__name__" {
				parts = append(parts, k+"="+m[k])
			}
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return legendRE.ReplaceAllStringFunc(format, func(s string) string {
		return m[legendRE.FindStringSubmatch(s)[1]]
	})
}

// overrideProps returns, per field name, the override properties by id.
func overrideProps(p gPanel) map[string]map[string]json.RawMessage {
	out := map[string]map[string]json.RawMessage{}
	for _, o := range p.FieldConfig.Overrides {
		name, _ := o.Matcher.Options.(string)
		if out[name] == nil {
			out[name] = map[string]json.RawMessage{}
		}
		for _, pr := range o.Properties {
			out[name][pr.ID] = pr.Value
		}
	}
	return out
}

var grafanaColors = map[string]string{"green": "#73BF69", "red": "#F2495C", "orange": "#FF9830", "purple": "#B877D9", "blue": "#5794F2", "text": "#ccccdc"}

// seriesColor is the override color of a series name, else the palette's.
func seriesColor(p gPanel, name string, i int) string {
	if raw, ok := overrideProps(p)[name]["color"]; ok {
		var c struct {
			FixedColor string `json:"fixedColor"`
		}
		if json.Unmarshal(raw, &c) == nil && grafanaColors[c.FixedColor] != "" {
			return grafanaColors[c.FixedColor]
		}
	}
	return palette[i%len(palette)]
}

func (e *e2e) drawStat(b *svgBuf, pp previewPanel, x, y, w, h float64) {
	var vals []string
	for i, r := range pp.results {
		if r == nil {
			continue
		}
		for _, s := range r.Series {
			if pp.p.Options["textMode"] == "name" {
				vals = append(vals, legend(pp.p.Targets[i].LegendFormat, s.Metric))
			} else {
				vals = append(vals, e.format(pp.p.FieldConfig.Defaults.Unit, s.Value.V))
			}
		}
	}
	v := strings.Join(vals, " ")
	if v == "" {
		v = "No data"
	}
	size := int(math.Min(h*0.6, 0.9*w/math.Max(4, float64(len(v)))*1.6))
	b.text(x+w/2, y+h/2+float64(size)/3, size, seriesColor(pp.p, v, 0), "middle", v, true)
}

func (e *e2e) drawTimeseries(b *svgBuf, pp previewPanel, x, y, w, h float64) {
	start, end := float64(e.end.Add(-e2eRange).Unix()), float64(e.end.Unix())
	type line struct {
		name string
		pts  []testenv.Point
	}
	var lines []line
	minV, maxV := math.Inf(1), math.Inf(-1)
	for i, r := range pp.results {
		if r == nil {
			continue
		}
		for _, s := range r.Series {
			lines = append(lines, line{legend(pp.p.Targets[i].LegendFormat, s.Metric), s.Values})
			for _, p := range s.Values {
				minV, maxV = math.Min(minV, p.V), math.Max(maxV, p.V)
			}
		}
	}
	bars := pp.p.FieldConfig.Defaults.Custom["drawStyle"] == "bars"
	if bars || minV > maxV {
		minV = 0
	}
	if maxV <= minV {
		maxV = minV + 1
	}
	// Grafana's auto range: the data's, padded.
	span := maxV - minV
	if !bars {
		minV -= 0.1 * span
		if minV < 0 && minV+0.1*span >= 0 {
			minV = 0
		}
	}
	maxV += 0.1 * span
	legendH := 16.0
	ph := h - legendH - 14
	px, pw := x+56, w-60
	unit := pp.p.FieldConfig.Defaults.Unit
	scale := func(v float64) float64 { return y + ph - (v-minV)/(maxV-minV)*ph }
	for _, f := range []float64{0, 0.5, 1} {
		ly := y + ph - f*ph
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#2c3235"/>`+"\n", px, ly, px+pw, ly)
		b.text(px-4, ly+4, 10, "#8e8e9e", "end", e.format(unit, minV+f*(maxV-minV)), false)
	}
	for _, f := range []float64{0, 0.5, 1} {
		t := time.Unix(int64(start+f*(end-start)), 0).UTC()
		b.text(px+f*pw, y+ph+12, 10, "#8e8e9e", map[float64]string{0: "start", 0.5: "middle", 1: "end"}[f], t.Format("Jan 2 15:04"), false)
	}
	points := pp.p.FieldConfig.Defaults.Custom["showPoints"] == "always"
	stack := map[int64]float64{}
	for i, l := range lines {
		c := seriesColor(pp.p, l.name, i)
		var path []string
		for _, p := range l.pts {
			cx := px + (p.T-start)/(end-start)*pw
			cy := scale(p.V)
			switch {
			case bars:
				base := stack[int64(p.T)]
				stack[int64(p.T)] += p.V
				top := scale(base + p.V)
				fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="4" height="%.1f" fill="%s"/>`+"\n", cx-2, top, scale(base)-top, c)
			default:
				path = append(path, fmt.Sprintf("%.1f,%.1f", cx, cy))
				if points {
					fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`+"\n", cx, cy, c)
				}
			}
		}
		if len(path) > 1 {
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.Join(path, " "), c)
		}
	}
	lx := x
	for i, l := range lines {
		if lx > x+w-60 {
			break
		}
		name := clip(l.name, 40)
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="10" height="4" fill="%s"/>`+"\n", lx, y+h-8, seriesColor(pp.p, l.name, i))
		b.text(lx+14, y+h-3, 10, "#ccccdc", "start", name, false)
		lx += 24 + float64(len([]rune(name)))*6
	}
	if len(lines) == 0 {
		b.text(x+w/2, y+h/2, 14, "#8e8e9e", "middle", "No data", false)
	}
}

func (e *e2e) drawBars(b *svgBuf, pp previewPanel, x, y, w, h float64) {
	type bar struct {
		name string
		v    float64
	}
	var bs []bar
	maxV := 0.0
	for i, r := range pp.results {
		if r == nil {
			continue
		}
		for _, s := range r.Series {
			bs = append(bs, bar{legend(pp.p.Targets[i].LegendFormat, s.Metric), s.Value.V})
			maxV = math.Max(maxV, s.Value.V)
		}
	}
	if len(bs) == 0 {
		b.text(x+w/2, y+h/2, 14, "#8e8e9e", "middle", "No data", false)
		return
	}
	bh := math.Min(22, h/float64(len(bs)))
	labelW := w * 0.32
	for i, br := range bs {
		by := y + float64(i)*bh
		if by+bh > y+h+1 {
			break
		}
		b.text(x+labelW-6, by+bh*0.7, int(math.Min(11, bh*0.7)), "#ccccdc", "end", clip(br.name, int(labelW/6)), false)
		bw := (w - labelW - 70) * br.v / math.Max(maxV, 1e-9)
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x+labelW, by+bh*0.15, bw, bh*0.7, palette[i%len(palette)])
		b.text(x+labelW+bw+6, by+bh*0.7, int(math.Min(11, bh*0.7)), "#ccccdc", "start", e.format(pp.p.FieldConfig.Defaults.Unit, br.v), false)
	}
}

// drawTable merges the queries' series by their labels, as the panel's
// merge transformation does, and shows the label columns then the values.
func (e *e2e) drawTable(b *svgBuf, pp previewPanel, x, y, w, h float64) {
	hidden := map[string]bool{"Time": true, "__name__": false}
	for _, tr := range pp.p.Transformations {
		if ex, ok := tr.Options["excludeByName"].(map[string]any); ok {
			for k := range ex {
				hidden[k] = true
			}
		}
	}
	headers, units := map[string]string{}, map[string]string{}
	for name, props := range overrideProps(pp.p) {
		var v string
		if json.Unmarshal(props["displayName"], &v) == nil {
			headers[name] = v
		}
		if json.Unmarshal(props["unit"], &v) == nil {
			units[name] = v
		}
		if string(props["custom.hidden"]) == "true" {
			hidden[name] = true
		}
	}
	labelSet := map[string]bool{}
	rows := map[string]map[string]string{}
	var order []string
	var valueCols []string
	for i, r := range pp.results {
		col := "Value #" + pp.p.Targets[i].RefID
		if len(pp.results) == 1 {
			col = "Value"
		}
		if hidden[col] {
			continue
		}
		valueCols = append(valueCols, col)
		if r == nil {
			continue
		}
		for _, s := range r.Series {
			key := legend("", s.Metric)
			if rows[key] == nil {
				rows[key] = map[string]string{}
				order = append(order, key)
				for k, v := range s.Metric {
					rows[key][k] = v
					if !hidden[k] {
						labelSet[k] = true
					}
				}
			}
			u := units[col]
			if u == "" {
				u = pp.p.FieldConfig.Defaults.Unit
			}
			rows[key][col] = e.format(u, s.Value.V)
		}
	}
	labels := sortedSet(labelSet)
	cols := append(labels, valueCols...)
	if len(order) == 0 {
		b.text(x+w/2, y+h/2, 14, "#8e8e9e", "middle", "No data", false)
		return
	}
	sort.Strings(order)
	cw := w / float64(len(cols))
	for i, c := range cols {
		hd := c
		if v, ok := headers[c]; ok {
			hd = v
		}
		b.text(x+float64(i)*cw, y+10, 11, "#8ab8ff", "start", clip(hd, int(cw/6.2)), true)
	}
	for j, k := range order {
		ry := y + 28 + float64(j)*17
		if ry > y+h {
			break
		}
		for i, c := range cols {
			b.text(x+float64(i)*cw, ry, 11, "#ccccdc", "start", clip(rows[k][c], int(cw/6.2)), false)
		}
	}
}

// TestPreviewsCurrent: each dashboard has a preview showing all its panels
// by their current titles, so adding or renaming a panel asks for new
// previews (make dashboard-previews).
func TestPreviewsCurrent(t *testing.T) {
	checked := 0
	defer func() {
		if checked < 30 {
			t.Errorf("only %d panel titles checked", checked)
		}
	}()
	for _, d := range loadDashboards(t) {
		name := strings.TrimSuffix(filepath.Base(d.Path), ".json") + ".svg"
		b, err := os.ReadFile(filepath.Join(root, "dashboards", "previews", name))
		if err != nil {
			t.Errorf("%v: run make dashboard-previews", err)
			continue
		}
		svg := string(b)
		if !strings.Contains(svg, "PREVIEW") || !strings.Contains(svg, html.EscapeString(d.Title)) {
			t.Errorf("%s: not a labelled preview of %q", name, d.Title)
		}
		for _, p := range d.allPanels() {
			if strings.Contains(p.Title, "$") {
				continue // interpolated
			}
			// Clipped as drawPanel clips it.
			checked++
			if !strings.Contains(svg, ">"+html.EscapeString(clip(p.Title, int(float64(p.GridPos.W*colW-2*pad)/7)))+"<") {
				t.Errorf("%s lacks panel %q: run make dashboard-previews", name, p.Title)
			}
		}
	}
}
