package pushgateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/internal/fakegw"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// fastRetry retries quickly, for tests that want retries but not waits.
var fastRetry = Retry{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

func testTarget(url string) Target {
	return Target{URL: url, Job: "step-metrics", Grouping: []Label{
		{Name: "namespace", Value: "ml"}, {Name: "workflow_id", Value: "5f0c2d1e-uid"},
	}}
}

func familiesText(t *testing.T, fams []*dto.MetricFamily) string {
	t.Helper()
	var b strings.Builder
	for _, mf := range fams {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatalf("render %s: %v", mf.GetName(), err)
		}
	}
	return b.String()
}

// assertFamilies checks that got holds exactly the families in want.
func assertFamilies(t *testing.T, got, want []*dto.MetricFamily) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("nothing to compare: want no families")
	}
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		same = proto.Equal(got[i], want[i])
	}
	if !same {
		t.Errorf("pushed families differ from gathered ones\n got:\n%s\nwant:\n%s", familiesText(t, got), familiesText(t, want))
	}
}

func wantGrouping(tg Target) map[string]string {
	m := map[string]string{"job": tg.Job}
	for _, l := range tg.Grouping {
		m[l.Name] = l.Value
	}
	return m
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestPushSendsOnePUTWithGatheredFamilies(t *testing.T) {
	srv, gw := fakegw.New(t, nil)
	reg := fakegw.Registry(t)
	want, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}

	if err := Push(context.Background(), testTarget(srv.URL), reg, srv.Client(), DefaultRetry); err != nil {
		t.Fatalf("Push: %v", err)
	}

	reqs := gw.Requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want exactly 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPut {
		t.Errorf("method %s, want PUT (a push replaces the group)", r.Method)
	}
	enc, dec := fakegw.Grouping(t, r.Path)
	wantEnc := map[string]string{"job": "step-metrics", "namespace": "ml", "workflow_id": "5f0c2d1e-uid"}
	if !equalMaps(enc, wantEnc) {
		t.Errorf("path %s: grouping %v, want %v", r.Path, enc, wantEnc)
	}
	if !equalMaps(dec, wantEnc) {
		t.Errorf("path %s: decoded grouping %v, want %v", r.Path, dec, wantEnc)
	}
	if ft := expfmt.ResponseFormat(r.Header).FormatType(); ft != expfmt.TypeProtoDelim {
		t.Errorf("Content-Type %q: format %v, want delimited protobuf", r.Header.Get("Content-Type"), ft)
	}
	assertFamilies(t, fakegw.DecodeBody(t, r.Header, r.Body), want)
}

func TestPushGroupingPathEscaping(t *testing.T) {
	tests := []struct {
		name    string
		target  Target
		encoded map[string]string // as sent in the path
	}{
		{
			name:    "plain",
			target:  Target{Job: "step-metrics", Grouping: []Label{{Name: "namespace", Value: "ml"}, {Name: "workflow_id", Value: "abc-123"}}},
			encoded: map[string]string{"job": "step-metrics", "namespace": "ml", "workflow_id": "abc-123"},
		},
		{
			name:   "slash in a value is base64",
			target: Target{Job: "step-metrics", Grouping: []Label{{Name: "namespace", Value: "team/ml"}, {Name: "workflow_id", Value: "a/b/c"}}},
			encoded: map[string]string{
				"job":                "step-metrics",
				"namespace@base64":   base64.RawURLEncoding.EncodeToString([]byte("team/ml")),
				"workflow_id@base64": "YS9iL2M",
			},
		},
		{
			name:    "slash in the job is base64",
			target:  Target{Job: "ci/step-metrics", Grouping: []Label{{Name: "workflow_id", Value: "x"}}},
			encoded: map[string]string{"job@base64": "Y2kvc3RlcC1tZXRyaWNz", "workflow_id": "x"},
		},
		{
			name:    "empty value is a single =",
			target:  Target{Job: "step-metrics", Grouping: []Label{{Name: "namespace", Value: ""}, {Name: "workflow_id", Value: "x"}}},
			encoded: map[string]string{"job": "step-metrics", "namespace@base64": "=", "workflow_id": "x"},
		},
		{
			name:    "other specials are base64 (query-escaped, a space would land as '+')",
			target:  Target{Job: "step-metrics", Grouping: []Label{{Name: "workflow_id", Value: "a b?c%d"}}},
			encoded: map[string]string{"job": "step-metrics", "workflow_id@base64": "YSBiP2MlZA"},
		},
		{
			name:    "no grouping beyond the job",
			target:  Target{Job: "step-metrics"},
			encoded: map[string]string{"job": "step-metrics"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, gw := fakegw.New(t, nil)
			tg := tt.target
			tg.URL = srv.URL
			if err := Push(context.Background(), tg, fakegw.Registry(t), srv.Client(), Retry{}); err != nil {
				t.Fatalf("Push: %v", err)
			}
			if err := Delete(context.Background(), tg, srv.Client(), Retry{}); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			reqs := gw.Requests()
			if len(reqs) != 2 {
				t.Fatalf("got %d requests, want a PUT and a DELETE", len(reqs))
			}
			for _, r := range reqs {
				enc, dec := fakegw.Grouping(t, r.Path)
				if !equalMaps(enc, tt.encoded) {
					t.Errorf("%s %s: encoded grouping %v, want %v", r.Method, r.Path, enc, tt.encoded)
				}
				if want := wantGrouping(tg); !equalMaps(dec, want) {
					t.Errorf("%s %s: decodes to %v, want %v", r.Method, r.Path, dec, want)
				}
			}
		})
	}
}

func TestPushRejectsBadInputWithoutRequest(t *testing.T) {
	labelled := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "test_info", Help: "h"}, []string{"namespace"})
	g.WithLabelValues("other").Set(1)
	labelled.MustRegister(g)

	srv, gw := fakegw.New(t, nil)
	tests := []struct {
		name    string
		target  Target
		g       prometheus.Gatherer
		wantErr string
	}{
		{"no URL", Target{Job: "j"}, fakegw.Registry(t), "no Pushgateway URL"},
		{"no job", Target{URL: srv.URL}, fakegw.Registry(t), "no job name"},
		{"invalid grouping name", Target{URL: srv.URL, Job: "j", Grouping: []Label{{Name: "", Value: "x"}}}, fakegw.Registry(t), "invalid name"},
		{"metric carries a grouping label", testTarget(srv.URL), labelled, "already contains grouping label namespace"},
		{"gatherer fails", testTarget(srv.URL), prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
			return nil, errors.New("gather broke")
		}), "gather broke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Push(context.Background(), tt.target, tt.g, srv.Client(), fastRetry)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Push: error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if n := len(gw.Requests()); n != 0 {
		t.Errorf("bad input made %d requests, want none", n)
	}
}

func TestPushNilDoerUsesDefaultClient(t *testing.T) {
	srv, gw := fakegw.New(t, nil)
	if err := Push(context.Background(), testTarget(srv.URL), fakegw.Registry(t), nil, Retry{}); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if n := len(gw.Requests()); n != 1 {
		t.Errorf("got %d requests, want 1", n)
	}
}

func TestPushRetries(t *testing.T) {
	tests := []struct {
		name     string
		codes    []int
		retry    Retry
		wantReqs int
		// wantErr lists substrings of the error; nil wants success.
		wantErr []string
		// notErr lists substrings the error must not have.
		notErr []string
	}{
		{name: "success first time", codes: []int{200}, retry: fastRetry, wantReqs: 1},
		{name: "202 is success too", codes: []int{202}, retry: fastRetry, wantReqs: 1},
		{name: "503 then success", codes: []int{503, 200}, retry: fastRetry, wantReqs: 2},
		{name: "500 and 502 then success", codes: []int{500, 502, 200}, retry: fastRetry, wantReqs: 3},
		{name: "429 is retried", codes: []int{429, 200}, retry: fastRetry, wantReqs: 2},
		{
			name: "400 is final", codes: []int{400, 200}, retry: fastRetry, wantReqs: 1,
			wantErr: []string{"push failed: ", "400", "gateway says Bad Request"}, notErr: []string{"attempts"},
		},
		{
			name: "404 is final", codes: []int{404, 200}, retry: fastRetry, wantReqs: 1,
			wantErr: []string{"404", "gateway says Not Found"},
		},
		{
			name: "5xx until attempts run out", codes: []int{503}, retry: fastRetry, wantReqs: 3,
			wantErr: []string{"push failed after 3 attempts", "503", "gateway says Service Unavailable"},
		},
		{
			name: "MaxAttempts 0 means one attempt", codes: []int{503, 200}, retry: Retry{}, wantReqs: 1,
			wantErr: []string{"503"}, notErr: []string{"attempts"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, gw := fakegw.New(t, fakegw.Statuses(tt.codes...))
			reg := fakegw.Registry(t)
			err := Push(context.Background(), testTarget(srv.URL), reg, srv.Client(), tt.retry)

			reqs := gw.Requests()
			if len(reqs) != tt.wantReqs {
				t.Errorf("got %d requests, want %d", len(reqs), tt.wantReqs)
			}
			succeeded := 0
			for i, r := range reqs {
				if r.Method != http.MethodPut {
					t.Errorf("request %d: method %s, want PUT", i+1, r.Method)
				}
				if c := tt.codes[min(i+1, len(tt.codes))-1]; c < 300 {
					succeeded++
				}
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Push: %v", err)
				}
				if succeeded != 1 {
					t.Errorf("%d successful PUTs, want exactly 1", succeeded)
				}
				return
			}
			if err == nil {
				t.Fatal("Push succeeded, want an error")
			}
			if succeeded != 0 {
				t.Errorf("%d successful PUTs, want none", succeeded)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			for _, s := range tt.notErr {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q has %q", err, s)
				}
			}
		})
	}
}

func TestPushRetryResendsBodyIntact(t *testing.T) {
	srv, gw := fakegw.New(t, fakegw.Statuses(503, 502, 200))
	reg := fakegw.Registry(t)
	want, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if err := Push(context.Background(), testTarget(srv.URL), reg, srv.Client(), fastRetry); err != nil {
		t.Fatalf("Push: %v", err)
	}
	reqs := gw.Requests()
	if len(reqs) != 3 {
		t.Fatalf("got %d requests, want 3", len(reqs))
	}
	if len(reqs[0].Body) == 0 {
		t.Fatal("first attempt had an empty body")
	}
	for i, r := range reqs {
		if !bytes.Equal(r.Body, reqs[0].Body) {
			t.Errorf("attempt %d: body of %d bytes differs from the first attempt's %d bytes", i+1, len(r.Body), len(reqs[0].Body))
		}
		if r.Path != reqs[0].Path {
			t.Errorf("attempt %d: path %s, want %s", i+1, r.Path, reqs[0].Path)
		}
		if got, want := r.Header.Get("Content-Type"), reqs[0].Header.Get("Content-Type"); got != want {
			t.Errorf("attempt %d: Content-Type %q, want %q", i+1, got, want)
		}
	}
	assertFamilies(t, fakegw.DecodeBody(t, reqs[2].Header, reqs[2].Body), want)
}

// countingDoer counts the requests it passes on.
type countingDoer struct {
	next  *http.Client
	calls atomic.Int32
}

func (d *countingDoer) Do(req *http.Request) (*http.Response, error) {
	d.calls.Add(1)
	return d.next.Do(req)
}

// refusedURL returns an http URL on 127.0.0.1 where nothing listens.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

// closedServerURL returns the URL of an httptest server already closed.
func closedServerURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

func TestPushNetworkErrorRetried(t *testing.T) {
	for name, url := range map[string]func(*testing.T) string{
		"refused port":  refusedURL,
		"closed server": closedServerURL,
	} {
		t.Run(name, func(t *testing.T) {
			doer := &countingDoer{next: &http.Client{}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			err := Push(ctx, testTarget(url(t)), fakegw.Registry(t), doer, fastRetry)
			if err == nil {
				t.Fatal("Push to a dead address succeeded")
			}
			if n := doer.calls.Load(); n != 3 {
				t.Errorf("%d attempts, want 3", n)
			}
			if !strings.Contains(err.Error(), "after 3 attempts") {
				t.Errorf("error %q does not count the attempts", err)
			}
			if ctx.Err() != nil {
				t.Errorf("Push returned after its deadline (%s)", time.Since(start))
			}
		})
	}
}

func TestPushBoundedByDeadline(t *testing.T) {
	// Backoff far longer than the deadline: Push must give up in time,
	// whatever the jitter draws.
	slow := Retry{MaxAttempts: 1000, InitialBackoff: 20 * time.Second, MaxBackoff: time.Minute}
	const timeout = 300 * time.Millisecond
	const bound = 3 * time.Second // generous slack for slow CI

	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs before hang.Close

	unavailable, _ := fakegw.New(t, fakegw.Statuses(503))
	tests := []struct {
		name string
		url  string
	}{
		{"503 forever", unavailable.URL},
		{"refused", refusedURL(t)},
		{"server never answers", hang.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			err := Push(ctx, testTarget(tt.url), fakegw.Registry(t), &http.Client{}, slow)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("Push succeeded, want an error")
			}
			if elapsed > bound {
				t.Errorf("Push took %s with a %s deadline", elapsed, timeout)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	srv, gw := fakegw.New(t, fakegw.Statuses(503, 202))
	tg := testTarget(srv.URL)
	if err := Delete(context.Background(), tg, srv.Client(), fastRetry); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := Push(context.Background(), tg, fakegw.Registry(t), srv.Client(), Retry{}); err != nil {
		t.Fatalf("Push: %v", err)
	}
	reqs := gw.Requests()
	if len(reqs) != 3 {
		t.Fatalf("got %d requests, want 2 DELETEs (one retried) and a PUT", len(reqs))
	}
	_, pushed := fakegw.Grouping(t, reqs[2].Path)
	for i, r := range reqs[:2] {
		if r.Method != http.MethodDelete {
			t.Errorf("request %d: method %s, want DELETE", i+1, r.Method)
		}
		if len(r.Body) != 0 {
			t.Errorf("request %d: DELETE with a %d-byte body", i+1, len(r.Body))
		}
		if _, deleted := fakegw.Grouping(t, r.Path); !equalMaps(deleted, pushed) {
			t.Errorf("DELETE group %v, PUT group %v: want the same", deleted, pushed)
		}
	}
	if want := wantGrouping(tg); !equalMaps(pushed, want) {
		t.Errorf("group %v, want %v", pushed, want)
	}
}

func TestDeleteErrors(t *testing.T) {
	srv, gw := fakegw.New(t, fakegw.Statuses(400))
	err := Delete(context.Background(), testTarget(srv.URL), srv.Client(), fastRetry)
	if err == nil || !strings.Contains(err.Error(), "gateway says Bad Request") {
		t.Errorf("Delete: error %v, want the gateway's message", err)
	}
	if n := len(gw.Requests()); n != 1 {
		t.Errorf("400 answered; %d requests, want 1", n)
	}
	if err := Delete(context.Background(), Target{URL: srv.URL}, srv.Client(), fastRetry); err == nil {
		t.Error("Delete without a job succeeded")
	}
}

func TestDeleteBoundedByDeadline(t *testing.T) {
	srv, _ := fakegw.New(t, fakegw.Statuses(503))
	slow := Retry{MaxAttempts: 1000, InitialBackoff: 20 * time.Second, MaxBackoff: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- Delete(ctx, testTarget(srv.URL), srv.Client(), slow) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Delete succeeded against a 503 server")
		}
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Errorf("Delete took %s with a 300ms deadline", elapsed)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Delete ignores its context: still retrying 5s after a 300ms deadline")
	}
}

func TestGroup(t *testing.T) {
	tests := []struct {
		target Target
		want   string
	}{
		{Target{Job: "step-metrics"}, `job="step-metrics"`},
		{testTarget("http://ignored"), `job="step-metrics",namespace="ml",workflow_id="5f0c2d1e-uid"`},
		{Target{Job: "j", Grouping: []Label{{Name: "b", Value: "2"}, {Name: "a", Value: "1"}}}, `job="j",b="2",a="1"`},
		{Target{Job: "j", Grouping: []Label{{Name: "ns", Value: `quote " and \ and
newline`}}}, `job="j",ns="quote \" and \\ and\nnewline"`},
		{Target{Job: "", Grouping: []Label{{Name: "ns", Value: ""}}}, `job="",ns=""`},
	}
	for _, tt := range tests {
		if got := Group(tt.target); got != tt.want {
			t.Errorf("Group(%+v) = %s, want %s", tt.target, got, tt.want)
		}
	}
}

func TestDefaultRetry(t *testing.T) {
	r := DefaultRetry
	if r.MaxAttempts < 2 {
		t.Errorf("DefaultRetry.MaxAttempts = %d: the CLI would not retry", r.MaxAttempts)
	}
	if r.InitialBackoff <= 0 || r.MaxBackoff < r.InitialBackoff {
		t.Errorf("DefaultRetry backoff %s..%s: want 0 < initial <= max", r.InitialBackoff, r.MaxBackoff)
	}
	// The worst case of all waits must fit well inside an exit handler.
	var worst time.Duration
	b := r.InitialBackoff
	for i := 1; i < r.MaxAttempts; i++ {
		worst += b
		b = min(2*b, r.MaxBackoff)
	}
	if worst > 30*time.Second {
		t.Errorf("DefaultRetry may wait %s in all", worst)
	}
}

// stubDoer answers from a list of results and records what it was sent.
type stubDoer struct {
	results []stubResult
	reqs    []*http.Request
	bodies  []string
	resps   []*trackedBody
}

type stubResult struct {
	code int
	err  error
}

// trackedBody is a response body that records whether it was closed.
type trackedBody struct {
	io.Reader
	closed bool
}

func (b *trackedBody) Close() error { b.closed = true; return nil }

func (d *stubDoer) Do(req *http.Request) (*http.Response, error) {
	d.reqs = append(d.reqs, req)
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		d.bodies = append(d.bodies, string(b))
	}
	res := d.results[min(len(d.reqs), len(d.results))-1]
	if res.err != nil {
		return nil, res.err
	}
	body := &trackedBody{Reader: strings.NewReader("answer")}
	d.resps = append(d.resps, body)
	return &http.Response{StatusCode: res.code, Body: body, Request: req}, nil
}

func newPUT(ctx context.Context, t *testing.T, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://pushgateway.invalid/metrics/job/j", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestRetryingDoerBackoff(t *testing.T) {
	errNet := errors.New("connection reset")
	next := &stubDoer{results: []stubResult{{err: errNet}}}
	var waits []time.Duration
	const attempts = 30
	initial, maxBackoff := time.Millisecond, 64*time.Millisecond
	rd := &RetryingDoer{
		Next:  next,
		Retry: Retry{MaxAttempts: attempts, InitialBackoff: initial, MaxBackoff: maxBackoff},
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
	}
	_, err := rd.Do(newPUT(context.Background(), t, "payload"))
	if !errors.Is(err, errNet) {
		t.Errorf("Do: error %v, want the last network error", err)
	}
	if rd.Attempts() != attempts || len(next.reqs) != attempts {
		t.Errorf("Attempts() = %d, %d requests; want %d", rd.Attempts(), len(next.reqs), attempts)
	}
	if len(waits) != attempts-1 {
		t.Fatalf("waited %d times, want %d", len(waits), attempts-1)
	}
	// Full jitter: wait i is uniform in [0, min(initial*2^i, max)].
	jittered, grown := false, false
	for i, w := range waits {
		c := min(initial<<i, maxBackoff)
		if w < 0 || w > c {
			t.Errorf("wait %d = %s, want within [0, %s] (doubling, capped)", i+1, w, c)
		}
		jittered = jittered || w < c
		grown = grown || w > 2*initial
	}
	// With 29 draws these fail only if the backoff never grows or is never
	// jittered (chance of a false alarm below 1e-30).
	if !jittered {
		t.Errorf("every wait at its cap (%v): no jitter", waits)
	}
	if !grown {
		t.Errorf("no wait above %s (%v): the backoff does not grow", 2*initial, waits)
	}
	for i, b := range next.bodies {
		if b != "payload" {
			t.Errorf("attempt %d sent body %q, want %q", i+1, b, "payload")
		}
	}
}

func TestRetryingDoerDefaultBackoff(t *testing.T) {
	next := &stubDoer{results: []stubResult{{code: 503}}}
	var waits []time.Duration
	rd := &RetryingDoer{
		Next:  next,
		Retry: Retry{MaxAttempts: 4}, // no backoff given: 100ms, doubling, no cap
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
	}
	resp, err := rd.Do(newPUT(context.Background(), t, "x"))
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("Do = %v, %v; want the last 503", resp, err)
	}
	for i, w := range waits {
		if c := (100 * time.Millisecond) << i; w > c {
			t.Errorf("wait %d = %s, want <= %s", i+1, w, c)
		}
	}
	if len(waits) != 3 {
		t.Errorf("waited %d times, want 3", len(waits))
	}
}

func TestRetryingDoerClosesDiscardedResponses(t *testing.T) {
	next := &stubDoer{results: []stubResult{{code: 502}, {code: 503}, {code: 200}}}
	rd := &RetryingDoer{Next: next, Retry: fastRetry}
	resp, err := rd.Do(newPUT(context.Background(), t, "x"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("Do = %v, %v; want 200", resp, err)
	}
	if len(next.resps) != 3 {
		t.Fatalf("%d responses, want 3", len(next.resps))
	}
	for i, b := range next.resps[:2] {
		if !b.closed {
			t.Errorf("retried response %d was not closed", i+1)
		}
	}
	if next.resps[2].closed {
		t.Error("the returned response was closed; the caller must read it")
	}
}

func TestRetryingDoerStops(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	sleepErr := errors.New("woken")
	tests := []struct {
		name     string
		results  []stubResult
		ctx      context.Context
		req      func(t *testing.T, ctx context.Context) *http.Request
		sleep    func(context.Context, time.Duration) error
		wantReqs int
		wantErr  error
		wantCode int
	}{
		{
			name: "4xx", results: []stubResult{{code: 409}, {code: 200}}, wantReqs: 1, wantCode: 409,
		},
		{
			name: "body cannot be rewound", results: []stubResult{{code: 503}, {code: 200}}, wantReqs: 1, wantCode: 503,
			req: func(t *testing.T, ctx context.Context) *http.Request {
				r := newPUT(ctx, t, "once")
				r.Body = io.NopCloser(strings.NewReader("once"))
				r.GetBody = nil
				return r
			},
		},
		{
			name: "context cancelled", results: []stubResult{{err: context.Canceled}, {code: 200}}, ctx: cancelled,
			wantReqs: 1, wantErr: context.Canceled,
		},
		{
			name: "sleep interrupted after a network error", results: []stubResult{{err: io.ErrUnexpectedEOF}, {code: 200}},
			sleep: func(context.Context, time.Duration) error { return sleepErr }, wantReqs: 1, wantErr: io.ErrUnexpectedEOF,
		},
		{
			name: "sleep interrupted after a 5xx", results: []stubResult{{code: 500}, {code: 200}},
			sleep: func(context.Context, time.Duration) error { return sleepErr }, wantReqs: 1, wantErr: sleepErr,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			mk := tt.req
			if mk == nil {
				mk = func(t *testing.T, ctx context.Context) *http.Request { return newPUT(ctx, t, "x") }
			}
			next := &stubDoer{results: tt.results}
			rd := &RetryingDoer{Next: next, Retry: fastRetry, Sleep: tt.sleep}
			resp, err := rd.Do(mk(t, ctx))
			if len(next.reqs) != tt.wantReqs || rd.Attempts() != tt.wantReqs {
				t.Errorf("%d requests, Attempts() = %d; want %d", len(next.reqs), rd.Attempts(), tt.wantReqs)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error %v, want %v", err, tt.wantErr)
				}
				if resp != nil {
					t.Errorf("response %d with an error", resp.StatusCode)
				}
				for i, b := range next.resps {
					if !b.closed {
						t.Errorf("response %d dropped without closing it", i+1)
					}
				}
				return
			}
			if err != nil || resp == nil || resp.StatusCode != tt.wantCode {
				t.Errorf("Do = %v, %v; want status %d", resp, err, tt.wantCode)
			}
		})
	}
}

func TestRetryingDoerAttemptsPerDo(t *testing.T) {
	next := &stubDoer{results: []stubResult{{code: 503}, {code: 200}}}
	rd := &RetryingDoer{Next: next, Retry: fastRetry}
	if _, err := rd.Do(newPUT(context.Background(), t, "a")); err != nil {
		t.Fatal(err)
	}
	if rd.Attempts() != 2 {
		t.Errorf("first Do: Attempts() = %d, want 2", rd.Attempts())
	}
	if _, err := rd.Do(newPUT(context.Background(), t, "b")); err != nil {
		t.Fatal(err)
	}
	if rd.Attempts() != 1 {
		t.Errorf("second Do: Attempts() = %d, want 1 (counts only the last Do)", rd.Attempts())
	}
}

func TestSleepCtx(t *testing.T) {
	if err := sleepCtx(context.Background(), time.Millisecond); err != nil {
		t.Errorf("sleepCtx: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := sleepCtx(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("sleepCtx past the deadline: %v, want DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("sleepCtx ignored the deadline: %s", elapsed)
	}
}
