package main

// Fault injection, end to end: the real binary against a real Pushgateway
// behind a fault proxy (internal/faultproxy), a Pushgateway serving bad
// certificates, and a fake kube-apiserver and Argo Server that fail in the
// ways real ones do. Every case asserts the exit code (0 by default, 1
// with --strict), how long it took, and what the Pushgateway holds after.
// TestPushgatewayDown and TestTLS (e2e_test.go) cover the same outages
// without a proxy; TestUnreadableWorkflowStillPushesOutcome an apiserver
// nobody listens on.

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/internal/faultproxy"
	"github.com/step-metrics/step-metrics/internal/testenv"
)

// exampleSeries is how many series the example run pushes (its dry run).
func exampleSeries(t *testing.T) int {
	t.Helper()
	r := runCLI(t, nil, nil, "push", "--example", "--dry-run")
	r.want(t, 0)
	return len(allSeries(parseText(t, r.stdout)))
}

// TestPushFaults: one fault per case between the exit handler and a real
// Pushgateway.
func TestPushFaults(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	wantSeries := exampleSeries(t)
	pass := faultproxy.Action{Kind: faultproxy.Pass}
	tests := []struct {
		name    string
		plan    faultproxy.Plan
		down    time.Duration // the proxy refuses connections this long (forever: -1)
		timeout time.Duration
		retries int
		// want: pushed (one group, complete) or not (no group at all).
		pushed bool
		// conns is how many connections the proxy must have seen (0: any).
		conns int
		// within bounds the run's wall time.
		within time.Duration
		stderr []string
	}{
		{
			name: "refused", down: -1, timeout: 3 * time.Second, retries: 4,
			within: 5 * time.Second, stderr: []string{"metrics not pushed", "connection refused", "after"},
		},
		{
			name: "refused, back within the timeout", down: 1500 * time.Millisecond, plan: faultproxy.Always(pass),
			timeout: 20 * time.Second, retries: 20, pushed: true, within: 15 * time.Second,
		},
		{
			name: "black hole slower than --timeout", plan: faultproxy.Always(faultproxy.Action{Kind: faultproxy.BlackHole}),
			timeout: 2 * time.Second, retries: 4, within: 4 * time.Second, stderr: []string{"metrics not pushed", "context deadline exceeded"},
		},
		{
			name: "slow network within the timeout", plan: faultproxy.Always(faultproxy.Action{Kind: faultproxy.Pass, Delay: 700 * time.Millisecond}),
			timeout: 5 * time.Second, retries: 0, pushed: true, conns: 1, within: 4 * time.Second,
		},
		{
			name:    "5xx then success",
			plan:    faultproxy.Sequence(faultproxy.Answer(503, "overloaded"), faultproxy.Answer(502, "bad gateway"), pass),
			timeout: 20 * time.Second, retries: 4, pushed: true, conns: 3, within: 15 * time.Second,
		},
		{
			name: "connection reset then success", plan: faultproxy.Sequence(faultproxy.Action{Kind: faultproxy.Reset}, pass),
			timeout: 20 * time.Second, retries: 4, pushed: true, conns: 2, within: 15 * time.Second,
		},
		{
			// The Pushgateway stored the group, its answer was lost: the
			// retry replaces the group with the same metrics (PUT is
			// idempotent), so there is still exactly one.
			name: "answer lost after the push landed", plan: faultproxy.Sequence(faultproxy.Action{Kind: faultproxy.CutResponse, CutAfter: 5}, pass),
			timeout: 20 * time.Second, retries: 4, pushed: true, conns: 2, within: 15 * time.Second,
		},
		{
			name: "5xx throughout", plan: faultproxy.Always(faultproxy.Answer(500, "storage unavailable")),
			timeout: 20 * time.Second, retries: 2, conns: 3, within: 15 * time.Second,
			stderr: []string{"metrics not pushed", "after 3 attempts", "500", "storage unavailable"},
		},
		{
			name: "429 then success", plan: faultproxy.Sequence(faultproxy.Answer(429, "slow down"), pass),
			timeout: 20 * time.Second, retries: 4, pushed: true, conns: 2, within: 15 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				if strict && tt.pushed {
					continue // --strict changes nothing when the push lands
				}
				pg.Wipe(t)
				plan := tt.plan
				if plan == nil {
					plan = faultproxy.Always(pass)
				}
				proxy := faultproxy.Start(t, pg.Addr, plan)
				if tt.down != 0 {
					proxy.Down()
					if tt.down > 0 {
						timer := time.AfterFunc(tt.down, func() {
							if err := proxy.Up(); err != nil {
								t.Errorf("proxy up: %v", err)
							}
						})
						defer timer.Stop()
					}
				}
				args := []string{"push", "--example", "--pushgateway", "http://" + proxy.Addr,
					"--timeout", tt.timeout.String(), "--retries", fmt.Sprint(tt.retries)}
				want := 0
				if strict {
					args = append(args, "--strict")
					want = 1
				}
				r := runCLI(t, nil, nil, args...)
				r.want(t, want)
				if r.took > tt.within {
					t.Errorf("strict=%v: took %v, want at most %v", strict, r.took, tt.within)
				}
				for _, s := range tt.stderr {
					if !strings.Contains(r.stderr, s) {
						t.Errorf("strict=%v: stderr does not contain %q:\n%s", strict, s, r.stderr)
					}
				}
				if tt.conns > 0 && len(proxy.Connections()) != tt.conns {
					t.Errorf("strict=%v: %s, want %d connections", strict, proxy, tt.conns)
				}
				groups := pg.Groups(t)
				if !tt.pushed {
					if len(groups) != 0 {
						t.Errorf("strict=%v: a failed push left %d groups: %+v", strict, len(groups), groups)
					}
					if !strings.Contains(r.stderr, map[bool]string{false: "level=WARN", true: "level=ERROR"}[strict]) {
						t.Errorf("strict=%v: no warning or error:\n%s", strict, r.stderr)
					}
					continue
				}
				if !strings.Contains(r.stderr, "msg=pushed") || strings.Contains(r.stderr, "level=WARN") {
					t.Errorf("not a clean push:\n%s", r.stderr)
				}
				if len(groups) != 1 {
					t.Fatalf("%d groups, want exactly 1: %+v", len(groups), groups)
				}
				if got := len(groupSeries(pg.Scrape(t), exampleNS, exampleUID)); got != wantSeries {
					t.Errorf("the group holds %d series, want the dry run's %d", got, wantSeries)
				}
			}
		})
	}
}

// TestPushRejectedByPushgateway: the Pushgateway's own consistency check
// refuses the push (400: another group holds pipeline_run_result as
// untyped). It is not retried, the Pushgateway's message is shown, and the
// Pushgateway records the failure on the group (push_failure_time_seconds,
// no metrics) for the PushgatewayPushFailed alert.
func TestPushRejectedByPushgateway(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	for _, strict := range []bool{false, true} {
		pg.Wipe(t)
		req, _ := http.NewRequest(http.MethodPut, pg.URL+"/metrics/job/squatter", strings.NewReader("pipeline_run_result{result=\"x\"} 1\n"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		args := []string{"push", "--example", "--pushgateway", pg.URL, "--timeout", "20s", "--retries", "4"}
		want := 0
		if strict {
			args, want = append(args, "--strict"), 1
		}
		r := runCLI(t, nil, nil, args...)
		r.want(t, want)
		for _, s := range []string{"push failed: unexpected status code 400", "pushed metrics are invalid or inconsistent with existing metrics", `collected metric \"pipeline_run_result\"`, "is not a "} {
			if !strings.Contains(r.stderr, s) {
				t.Errorf("stderr does not contain %q:\n%s", s, r.stderr)
			}
		}
		if strings.Contains(r.stderr, "attempts") || r.took > 3*time.Second {
			t.Errorf("a 400 was retried (took %v):\n%s", r.took, r.stderr)
		}
		var ours *testenv.Group
		groups := pg.Groups(t)
		for i := range groups {
			if groups[i].Labels["job"] == "step-metrics" {
				ours = &groups[i]
			}
		}
		if len(groups) != 2 || ours == nil {
			t.Fatalf("groups %+v: want the squatter's and ours with the failure", groups)
		}
		if ours.LastPushSuccessful || ours.PushTime != 0 || ours.PushFailureTime == 0 || len(ours.Metrics) != 0 {
			t.Errorf("our group %+v: want only push_failure_time_seconds set", *ours)
		}
	}
}

// TestPushTLSFaults: certificates a client must refuse, each refused at
// once (a certificate error is not retried) with a message saying what to
// do; the control case with a good certificate pushes.
func TestPushTLSFaults(t *testing.T) {
	ca := testenv.NewCA(t, "pg")
	tests := []struct {
		name   string
		cert   testenv.CertOptions
		caFile bool
		stderr []string
	}{
		{"good certificate", testenv.CertOptions{}, true, nil},
		{"unknown CA", testenv.CertOptions{}, false, []string{"certificate signed by unknown authority", "give that CA with --ca-file"}},
		{"expired certificate", testenv.CertOptions{NotBefore: time.Now().Add(-30 * 24 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, true,
			[]string{"certificate has expired", "renew it"}},
		{"wrong host name", testenv.CertOptions{DNSNames: []string{"pushgateway.monitoring.svc"}}, true,
			[]string{"127.0.0.1", "does not name the host", "--tls-server-name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{TLS: ca, ServerCert: tt.cert})
			args := []string{"push", "--example", "--pushgateway", pg.URL, "--timeout", "20s", "--retries", "4"}
			if tt.caFile {
				args = append(args, "--ca-file", ca.CertFile)
			}
			for _, strict := range []bool{false, true} {
				a, want := args, 0
				if strict {
					a = append(append([]string{}, args...), "--strict")
					if tt.stderr != nil {
						want = 1
					}
				}
				r := runCLI(t, nil, nil, a...)
				r.want(t, want)
				if r.took > 3*time.Second {
					t.Errorf("took %v: a refused certificate must not be retried", r.took)
				}
				for _, s := range tt.stderr {
					if !strings.Contains(r.stderr, s) {
						t.Errorf("strict=%v: stderr does not contain %q:\n%s", strict, s, r.stderr)
					}
				}
				if tt.stderr != nil && strings.Contains(r.stderr, "attempts") {
					t.Errorf("retried:\n%s", r.stderr)
				}
			}
			groups := pg.Groups(t)
			switch {
			case tt.stderr == nil && len(groups) != 1:
				t.Errorf("good certificate: %d groups, want 1", len(groups))
			case tt.stderr != nil && len(groups) != 0:
				t.Errorf("a refused certificate left %d groups", len(groups))
			}
		})
	}
}

// TestPruneFaults: prune fails by default (exit 1), warns with
// --strict=false, and retries deletions.
func TestPruneFaults(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	var groups []seedGroup
	for i := 0; i < 20; i++ {
		groups = append(groups, seedGroup{job: "step-metrics", namespace: "ml", id: fmt.Sprintf("run-%02d", i)})
	}
	pass := faultproxy.Action{Kind: faultproxy.Pass}
	tests := []struct {
		name      string
		plan      faultproxy.Plan
		down      bool
		retries   int
		failed    int // deletions that fail
		notListed bool
		within    time.Duration
		stderr    []string
	}{
		{name: "refused", down: true, retries: 2, notListed: true, within: 5 * time.Second,
			stderr: []string{"cannot list the Pushgateway's groups; nothing deleted", "connection refused"}},
		{name: "black hole", plan: faultproxy.Always(faultproxy.Action{Kind: faultproxy.BlackHole}), retries: 2, notListed: true, within: 5 * time.Second,
			stderr: []string{"cannot list", "context deadline exceeded"}},
		{name: "list answered 500", plan: faultproxy.Always(faultproxy.Answer(500, "internal")), retries: 1, notListed: true, within: 5 * time.Second,
			stderr: []string{"cannot list", "500 Internal Server Error: internal"}},
		// Connection 0 lists; the next two (deletions) are answered 503.
		{name: "deletions answered 503, retried", plan: faultproxy.Sequence(pass, faultproxy.Answer(503, "busy"), faultproxy.Answer(503, "busy"), pass),
			retries: 4, within: 10 * time.Second},
		{name: "deletions answered 503, no retries", plan: faultproxy.Sequence(pass, faultproxy.Answer(503, "busy"), faultproxy.Answer(503, "busy"), pass),
			retries: 0, failed: 2, within: 10 * time.Second, stderr: []string{"group not deleted", "delete failed: unexpected status code 503", "busy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				if strict && tt.failed == 0 && !tt.notListed {
					continue
				}
				pg.Wipe(t)
				seed(t, pg, groups)
				time.Sleep(20 * time.Millisecond)
				plan := tt.plan
				if plan == nil {
					plan = faultproxy.Always(pass)
				}
				proxy := faultproxy.Start(t, pg.Addr, plan)
				if tt.down {
					proxy.Down()
				}
				args := []string{"prune", "--pushgateway", "http://" + proxy.Addr, "--max-age", "1ms", "--timeout", "3s", "--retries", fmt.Sprint(tt.retries)}
				args = append(args, fmt.Sprintf("--strict=%v", strict))
				want := 0
				if strict {
					want = 1
				}
				r := runCLI(t, nil, nil, args...)
				r.want(t, want)
				if r.took > tt.within {
					t.Errorf("took %v, want at most %v", r.took, tt.within)
				}
				for _, s := range tt.stderr {
					if !strings.Contains(r.stderr, s) {
						t.Errorf("strict=%v: stderr does not contain %q:\n%s", strict, s, r.stderr)
					}
				}
				left := len(groups)
				if !tt.notListed {
					sum := summary(t, r.stderr)
					failed := tt.failed
					if tt.failed > 0 {
						// The 503s go to the 2nd and 3rd connections; Go's
						// transport may dial a connection and then use an
						// idle one instead, so 1 or 2 deletions meet them.
						_, _ = fmt.Sscan(sum["failed"], &failed)
						if failed < 1 || failed > tt.failed {
							t.Errorf("strict=%v: %d deletions failed, want 1..%d", strict, failed, tt.failed)
						}
					}
					wantSummary(t, sum, map[string]int{"listed": len(groups), "deleted": len(groups) - failed, "failed": failed})
					left = failed
				}
				deadline := time.Now().Add(5 * time.Second)
				for len(pg.Groups(t)) != left && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				if n := len(pg.Groups(t)); n != left {
					t.Errorf("strict=%v: %d groups left, want %d", strict, n, left)
				}
			}
		})
	}
}

// fakeAPI is a kube-apiserver (or Argo Server) stand-in over TLS, with a
// kubeconfig that trusts it.
func fakeAPI(t *testing.T, h http.HandlerFunc) (url, kubeconfig string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts.URL, writeKubeconfigFor(t, ts.URL)
}

func writeKubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: kube-token-never-logged}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ml}}]
current-context: x
`, server)
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func apiStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":%q,"code":%d}`, msg, reason, code)
}

// TestReadFaults: the exit handler cannot read its workflow (the
// apiserver refuses, times out, loses the workflow mid-read; Argo Server
// is down). Each time it says why, still pushes the run's outcome from its
// arguments, and exits 0 (1 with --strict, after pushing). The gap is
// loud: pipeline_run_metrics_incomplete{reason} says why, and the run has
// an end timestamp (when the handler ran), so it stays on the panels.
func TestReadFaults(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	wfJSON := runCLIExampleJSON(t)
	const path = "/apis/argoproj.io/v1alpha1/namespaces/ml/workflows/nightly-retrain-1764205200"
	type state struct{ calls int }
	tests := []struct {
		name    string
		handler func(s *state) http.HandlerFunc
		argo    bool // read through --argo-server
		down    bool // nothing listens
		stderr  []string
		timeout time.Duration
		reason  string // of pipeline_run_metrics_incomplete; a|b: either
	}{
		{name: "401", reason: "unauthorized", handler: func(*state) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { apiStatus(w, 401, "Unauthorized", "Unauthorized") }
		}, stderr: []string{"unauthorized (401)", "token"}},
		{name: "403", reason: "forbidden", handler: func(*state) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				apiStatus(w, 403, "Forbidden", `workflows.argoproj.io "nightly-retrain-1764205200" is forbidden: User "system:serviceaccount:ml:default" cannot get resource "workflows" in API group "argoproj.io" in the namespace "ml"`)
			}
		}, stderr: []string{"forbidden (403)", `verb \"get\"`, `resource \"workflows\"`, `API group \"argoproj.io\"`, "system:serviceaccount:ml:default"}},
		{name: "404", reason: "not_found", handler: func(*state) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				apiStatus(w, 404, "NotFound", `workflows.argoproj.io "nightly-retrain-1764205200" not found`)
			}
		}, stderr: []string{"not found (404)", "deleted, or wrong namespace"}},
		{name: "apiserver slower than --timeout", reason: "timeout", timeout: 2 * time.Second, handler: func(*state) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(20 * time.Second):
				}
			}
		}, stderr: []string{"timed out"}},
		{name: "deleted mid-read: connection closed, then 404", reason: "unreachable|not_found", handler: func(s *state) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				s.calls++
				if s.calls == 1 {
					hijackClose(w)
					return
				}
				apiStatus(w, 404, "NotFound", `workflows.argoproj.io "nightly-retrain-1764205200" not found`)
			}
		}, stderr: []string{"cannot read the workflow"}},
		{name: "deleted mid-read: answer cut short", reason: "unreachable", handler: func(*state) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", fmt.Sprint(len(wfJSON)))
				w.WriteHeader(200)
				_, _ = w.Write(wfJSON[:len(wfJSON)/3])
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
				hijackClose(w)
			}
		}, stderr: []string{"cannot read the workflow", "unexpected EOF"}},
		{name: "Argo Server unreachable", reason: "unreachable", argo: true, down: true, stderr: []string{"argo server", "connection refused"}},
		{name: "Argo Server 403", reason: "forbidden", argo: true, handler: func(*state) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, `{"code":7,"message":"permission denied"}`, http.StatusForbidden)
			}
		}, stderr: []string{"HTTP 403", "needs get on workflows.argoproj.io", "permission denied"}},
		{name: "Argo Server slower than --timeout", reason: "timeout", argo: true, timeout: 2 * time.Second, handler: func(*state) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(20 * time.Second):
				}
			}
		}, stderr: []string{"argo server", "deadline exceeded"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				var server, kubeconfig string
				if tt.down {
					server = fmt.Sprintf("https://127.0.0.1:%d", testenv.FreePort(t))
					kubeconfig = writeKubeconfigFor(t, server)
				} else {
					st := &state{}
					h := tt.handler(st)
					server, kubeconfig = fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
						if !tt.argo && r.URL.Path != path {
							apiStatus(w, 404, "NotFound", "unexpected path "+r.URL.Path)
							return
						}
						h(w, r)
					})
				}
				timeout := tt.timeout
				if timeout == 0 {
					timeout = 10 * time.Second
				}
				uid := fmt.Sprintf("uid-read-%d-%v", i, strict)
				args := []string{"push", "--workflow", "nightly-retrain-1764205200", "--namespace", "ml", "--workflow-uid", uid,
					"--status", "Failed", "--kubeconfig", kubeconfig, "--pushgateway", pg.URL, "--timeout", timeout.String()}
				if tt.argo {
					args = append(args, "--argo-server", server, "--argo-insecure-skip-verify")
				}
				want := 0
				if strict {
					// --log-format json too: every line, client-go's included, is JSON.
					args, want = append(args, "--strict", "--log-format", "json"), 1
				}
				before := float64(time.Now().UnixNano()) / 1e9
				r := runCLI(t, nil, nil, args...)
				after := float64(time.Now().UnixNano()) / 1e9
				r.want(t, want)
				if strict {
					for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
						if !json.Valid([]byte(line)) {
							t.Errorf("--log-format json: a line is not JSON: %q", line)
						}
					}
				}
				if r.took > timeout+3*time.Second {
					t.Errorf("took %v with --timeout %v", r.took, timeout)
				}
				for _, s := range tt.stderr {
					if !strings.Contains(r.stderr, s) {
						t.Errorf("strict=%v: stderr does not contain %q:\n%s", strict, s, r.stderr)
					}
				}
				if !strict {
					t.Logf("took %v: %s", r.took.Round(time.Millisecond), strings.TrimSpace(r.stderr))
				}
				if strings.Contains(r.stderr, "kube-token-never-logged") {
					t.Error("the kubeconfig's token is in the output")
				}
				fams := pg.Scrape(t)
				s := testenv.Series(fams, "pipeline_run_result", map[string]string{"workflow_id": uid, "namespace": "ml", "result": "failure", "pipeline": "nightly-retrain"})
				if len(s) != 1 || s[0].Value != 1 {
					t.Errorf("strict=%v: the outcome from the arguments was not pushed: %+v\n%s", strict, s, r.stderr)
				}
				inc := testenv.Series(fams, "pipeline_run_metrics_incomplete", map[string]string{"workflow_id": uid})
				if len(inc) != 1 || inc[0].Value != 1 || !slices.Contains(strings.Split(tt.reason, "|"), inc[0].Labels["reason"]) {
					t.Errorf("strict=%v: pipeline_run_metrics_incomplete %+v, want reason=%q 1\n%s", strict, inc, tt.reason, r.stderr)
				}
				end := testenv.Series(fams, "pipeline_run_end_timestamp_seconds", map[string]string{"workflow_id": uid})
				if len(end) != 1 || end[0].Value < before-1 || end[0].Value > after {
					t.Errorf("strict=%v: end timestamp %+v, want the time the handler ran (%.0f..%.0f)", strict, end, before, after)
				}
			}
		})
	}
}

// hijackClose drops the connection without a (complete) answer.
func hijackClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// runCLIExampleJSON returns the bundled example workflow as JSON, as an
// apiserver would send it.
func runCLIExampleJSON(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../internal/example/ml-pipeline-running-exit-handler.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
