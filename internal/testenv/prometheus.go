package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PrometheusBinary returns the path of a Prometheus server binary:
// $PROMETHEUS_BIN, else `prometheus` on $PATH (Debian's package, which
// scripts/test-deps.sh installs with promtool).
func PrometheusBinary() (string, error) {
	if p := os.Getenv("PROMETHEUS_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("PROMETHEUS_BIN: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no Prometheus binary: set PROMETHEUS_BIN or run scripts/test-deps.sh (Debian package prometheus)")
}

// PrometheusOptions configure StartPrometheusWith.
type PrometheusOptions struct {
	// Targets are host:port addresses scraped over plain HTTP every second
	// with honor_labels: true, as a Pushgateway must be scraped.
	Targets []string
	// RuleFiles are Prometheus rules files to load, evaluated every second.
	RuleFiles []string
	// Args are extra command-line flags.
	Args []string
}

// Prometheus is a running Prometheus server. Its methods may be called
// from several goroutines.
type Prometheus struct {
	// URL is the base URL (http://127.0.0.1:PORT).
	URL string
	// Addr is host:port.
	Addr string
	// Config is the configuration file it was started with.
	Config string
	client *http.Client
	log    *syncBuffer
}

// StartPrometheus starts Prometheus scraping the targets (see
// StartPrometheusWith).
func StartPrometheus(t testing.TB, scrapeTargets ...string) *Prometheus {
	t.Helper()
	return StartPrometheusWith(t, PrometheusOptions{Targets: scrapeTargets})
}

// StartPrometheusWith starts a Prometheus server on a free loopback port
// with a generated configuration (scrape_interval and evaluation_interval
// 1s; the targets in one job "pushgateway" with honor_labels: true) and its
// TSDB in a temporary directory, waits until it is ready, and stops it when
// the test ends. Without a Prometheus binary the test fails, or is skipped
// with -short.
func StartPrometheusWith(t testing.TB, opts PrometheusOptions) *Prometheus {
	t.Helper()
	bin := NeedBinary(t, PrometheusBinary)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(PrometheusConfig(opts)), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := startPrometheus(t, bin, dir, cfg, attempt, opts)
		if err == nil {
			return p
		}
		lastErr = err
	}
	t.Fatalf("start prometheus: %v", lastErr)
	return nil
}

// PrometheusConfig is the configuration file StartPrometheusWith writes.
func PrometheusConfig(opts PrometheusOptions) string {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
	if len(opts.RuleFiles) > 0 {
		b.WriteString("rule_files:\n")
		for _, f := range opts.RuleFiles {
			fmt.Fprintf(&b, "  - %q\n", f)
		}
	}
	b.WriteString("scrape_configs:\n")
	if len(opts.Targets) > 0 {
		b.WriteString("  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets:\n")
		for _, tg := range opts.Targets {
			fmt.Fprintf(&b, "          - %q\n", tg)
		}
	} else {
		b.WriteString("  []\n")
	}
	return b.String()
}

func startPrometheus(t testing.TB, bin, dir, cfg string, attempt int, opts PrometheusOptions) (*Prometheus, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	args := []string{
		"--config.file=" + cfg,
		"--web.listen-address=" + addr,
		"--storage.tsdb.path=" + filepath.Join(dir, fmt.Sprintf("data-%d", attempt)),
		"--log.level=warn",
	}
	args = append(args, opts.Args...)
	p := &Prometheus{Addr: addr, URL: "http://" + addr, Config: cfg, log: &syncBuffer{},
		client: &http.Client{Timeout: 60 * time.Second}}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// SIGTERM lets it close the TSDB before the directory is removed.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited: //nolint:errcheck // how it exited does not matter once stopped
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited //nolint:errcheck // as above
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return nil, fmt.Errorf("prometheus exited (%w): %s", err, p.log.String())
		default:
		}
		resp, err := p.client.Get(p.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return nil, fmt.Errorf("prometheus on %s not ready after 30s: %s", addr, p.log.String())
}

// Log returns what Prometheus printed so far.
func (p *Prometheus) Log() string { return p.log.String() }

// Point is one sample: a Unix time in seconds and a value.
type Point struct {
	T float64
	V float64
}

// UnmarshalJSON decodes the API's [time, "value"] pair.
func (pt *Point) UnmarshalJSON(b []byte) error {
	var raw [2]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if err := json.Unmarshal(raw[0], &pt.T); err != nil {
		return err
	}
	var s string
	if err := json.Unmarshal(raw[1], &s); err != nil {
		return err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("sample value %q: %w", s, err)
	}
	pt.V = v
	return nil
}

// PromSeries is one series of a query result: its labels (with __name__ when
// the result keeps it) and its sample (instant queries) or samples (range
// queries).
type PromSeries struct {
	Metric map[string]string `json:"metric"`
	Value  *Point            `json:"value,omitempty"`
	Values []Point           `json:"values,omitempty"`
}

// Result is the data of a query: Type is "vector", "matrix", "scalar" or
// "string"; Series holds vector and matrix results, Scalar a scalar.
type Result struct {
	Type     string
	Series   []PromSeries
	Scalar   *Point
	Warnings []string
}

// Finite reports whether every sample of the result is a finite number.
func (r *Result) Finite() bool {
	for _, s := range r.Series {
		if s.Value != nil && (math.IsNaN(s.Value.V) || math.IsInf(s.Value.V, 0)) {
			return false
		}
		for _, v := range s.Values {
			if math.IsNaN(v.V) || math.IsInf(v.V, 0) {
				return false
			}
		}
	}
	return true
}

// APIError is an error answer of the HTTP API.
type APIError struct {
	Status    int
	ErrorType string
	Message   string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("prometheus API: %d %s: %s", e.Status, e.ErrorType, e.Message)
}

// Query runs an instant query (/api/v1/query) at time at (now when zero).
func (p *Prometheus) Query(expr string, at time.Time) (*Result, error) {
	v := url.Values{"query": {expr}}
	if !at.IsZero() {
		v.Set("time", formatTime(at))
	}
	return p.query("/api/v1/query", v)
}

// QueryRange runs a range query (/api/v1/query_range).
func (p *Prometheus) QueryRange(expr string, start, end time.Time, step time.Duration) (*Result, error) {
	v := url.Values{
		"query": {expr},
		"start": {formatTime(start)},
		"end":   {formatTime(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	return p.query("/api/v1/query_range", v)
}

func (p *Prometheus) query(path string, v url.Values) (*Result, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	warnings, err := p.API(path, v, &data)
	if err != nil {
		return nil, err
	}
	r := &Result{Type: data.ResultType, Warnings: warnings}
	switch data.ResultType {
	case "vector", "matrix":
		if err := json.Unmarshal(data.Result, &r.Series); err != nil {
			return nil, fmt.Errorf("decode %s result: %w", data.ResultType, err)
		}
	case "scalar":
		r.Scalar = &Point{}
		if err := json.Unmarshal(data.Result, r.Scalar); err != nil {
			return nil, fmt.Errorf("decode scalar: %w", err)
		}
	}
	return r, nil
}

// LabelValues lists the values of a label (/api/v1/label/NAME/values) on
// the series matching any of the selectors between start and end, as
// Grafana's label_values(selector, label) does.
func (p *Prometheus) LabelValues(label string, selectors []string, start, end time.Time) ([]string, error) {
	v := url.Values{"start": {formatTime(start)}, "end": {formatTime(end)}}
	for _, s := range selectors {
		v.Add("match[]", s)
	}
	var out []string
	_, err := p.do(http.MethodGet, "/api/v1/label/"+url.PathEscape(label)+"/values", v, &out)
	return out, err
}

// Alert is an active alert as /api/v1/alerts lists it.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	Value       string            `json:"value"`
}

// Alerts returns the active (pending or firing) alerts.
func (p *Prometheus) Alerts() ([]Alert, error) {
	var data struct {
		Alerts []Alert `json:"alerts"`
	}
	_, err := p.API("/api/v1/alerts", nil, &data)
	return data.Alerts, err
}

// Rule is a loaded rule as /api/v1/rules lists it.
type Rule struct {
	Name      string `json:"name"`
	Query     string `json:"query"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
	Type      string `json:"type"`
	State     string `json:"state"`
}

// Rules returns the loaded rules of every group.
func (p *Prometheus) Rules() ([]Rule, error) {
	var data struct {
		Groups []struct {
			Rules []Rule `json:"rules"`
		} `json:"groups"`
	}
	_, err := p.API("/api/v1/rules", nil, &data)
	var out []Rule
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out, err
}

// API POSTs form values to an HTTP API path (GET without values) and
// decodes the answer's data into out; it returns the answer's warnings.
func (p *Prometheus) API(path string, v url.Values, out any) ([]string, error) {
	if v == nil {
		return p.do(http.MethodGet, path, nil, out)
	}
	return p.do(http.MethodPost, path, v, out)
}

func (p *Prometheus) do(method, path string, v url.Values, out any) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	target, body := p.URL+path, io.Reader(nil)
	switch {
	case method == http.MethodPost:
		body = strings.NewReader(v.Encode())
	case v != nil:
		target += "?" + v.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Warnings  []string        `json:"warnings"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%s: %s: %.200s", path, resp.Status, b)
	}
	if env.Status != "success" {
		return env.Warnings, &APIError{Status: resp.StatusCode, ErrorType: env.ErrorType, Message: env.Error}
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return env.Warnings, fmt.Errorf("%s: decode data: %w", path, err)
		}
	}
	return env.Warnings, nil
}

// WaitFor runs the instant query expr until ok accepts its result, and
// fails the test after timeout.
func (p *Prometheus) WaitFor(t testing.TB, expr string, timeout time.Duration, ok func(*Result) bool) *Result {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *Result
	var lastErr error
	for {
		last, lastErr = p.Query(expr, time.Time{})
		if lastErr == nil && ok(last) {
			return last
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("waited %v for %s: %v", timeout, expr, lastErr)
	}
	t.Fatalf("waited %v for %s: last result %+v", timeout, expr, last)
	return nil
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}
