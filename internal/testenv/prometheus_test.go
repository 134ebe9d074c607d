package testenv

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartPrometheus: a real Prometheus scrapes a real Pushgateway with
// honor_labels, so the pushed job and grouping labels arrive unchanged, and
// the query helpers decode instant, range, label and alert answers.
func TestStartPrometheus(t *testing.T) {
	pg := StartPushgateway(t, PushgatewayOptions{})
	req, _ := http.NewRequest(http.MethodPut, pg.URL+"/metrics/job/step-metrics/namespace/ml/workflow_id/uid-1",
		strings.NewReader("# TYPE x_seconds gauge\nx_seconds{pipeline=\"p\"} 3\n"))
	resp, err := pg.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("push: %s", resp.Status)
	}
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte("groups:\n- name: g\n  rules:\n  - alert: XHigh\n    expr: x_seconds > 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	prom := StartPrometheusWith(t, PrometheusOptions{Targets: []string{pg.Addr}, RuleFiles: []string{rules}})

	r := prom.WaitFor(t, "x_seconds", 30*time.Second, func(r *Result) bool { return len(r.Series) == 1 })
	got := r.Series[0]
	if got.Metric["job"] != "step-metrics" || got.Metric["namespace"] != "ml" || got.Metric["workflow_id"] != "uid-1" || got.Metric["pipeline"] != "p" {
		t.Errorf("labels = %v, want the pushed job and grouping labels (honor_labels)", got.Metric)
	}
	if _, ok := got.Metric["exported_job"]; ok {
		t.Errorf("exported_job: honor_labels is off: %v", got.Metric)
	}
	if r.Type != "vector" || got.Value == nil || got.Value.V != 3 {
		t.Errorf("instant result = %+v", r)
	}

	time.Sleep(2 * time.Second)
	rr, err := prom.QueryRange("x_seconds", start, time.Now(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Type != "matrix" || len(rr.Series) != 1 || len(rr.Series[0].Values) < 2 || !rr.Finite() {
		t.Errorf("range result = %+v", rr)
	}
	sc, err := prom.Query("scalar(x_seconds) * 2", time.Time{})
	if err != nil || sc.Type != "scalar" || sc.Scalar == nil || sc.Scalar.V != 6 {
		t.Errorf("scalar = %+v, %v", sc, err)
	}

	vals, err := prom.LabelValues("workflow_id", []string{`x_seconds{namespace="ml"}`}, start, time.Now())
	if err != nil || len(vals) != 1 || vals[0] != "uid-1" {
		t.Errorf("label values = %v, %v", vals, err)
	}

	_, err = prom.Query("sum(", time.Time{})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorType != "bad_data" {
		t.Errorf("bad query: err = %v, want a bad_data API error", err)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		alerts, err := prom.Alerts()
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts) == 1 && alerts[0].Labels["alertname"] == "XHigh" && alerts[0].State == "firing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts = %+v, want XHigh firing", alerts)
		}
		time.Sleep(250 * time.Millisecond)
	}
	rs, err := prom.Rules()
	if err != nil || len(rs) != 1 || rs[0].Health != "ok" {
		t.Errorf("rules = %+v, %v", rs, err)
	}
}

func TestPrometheusConfig(t *testing.T) {
	got := PrometheusConfig(PrometheusOptions{Targets: []string{"127.0.0.1:9091"}, RuleFiles: []string{"/r.yml"}})
	for _, want := range []string{"scrape_interval: 1s", "honor_labels: true", `- "127.0.0.1:9091"`, `- "/r.yml"`} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
}
