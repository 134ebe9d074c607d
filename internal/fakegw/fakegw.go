// Package fakegw is an httptest Pushgateway for unit tests of clients: it
// records every request (method, escaped path, headers, body, TLS server
// name and client certificate) and answers as told. It plays only the HTTP
// surface a client sees; tests of what a real Pushgateway accepts run
// against the real one (internal/testenv).
package fakegw

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	dto "github.com/prometheus/client_model/go"

	"github.com/prometheus/common/expfmt"
)

// Request is one request as the fake Pushgateway saw it.
type Request struct {
	Method string
	// Path is the path exactly as sent (not unescaped).
	Path   string
	Header http.Header
	Body   []byte
	// ServerName is the TLS server name the client asked for (SNI).
	ServerName string
	// PeerCN is the common name of the client certificate, if any.
	PeerCN string
}

// Gateway is an httptest Pushgateway that records every request and
// answers with respond (n counts requests from 1). Handlers run on server
// goroutines: they record and never call t.Fatal.
type Gateway struct {
	Respond func(n int, r *http.Request) (int, string)

	mu   sync.Mutex
	reqs []Request
}

// OK answers as a Pushgateway does: 200 to PUT, 202 to DELETE.
func OK(_ int, r *http.Request) (int, string) {
	if r.Method == http.MethodDelete {
		return http.StatusAccepted, ""
	}
	return http.StatusOK, ""
}

// Statuses answers the nth request with codes[n-1] and repeats the last
// code after that; the body names the code so errors can be checked.
func Statuses(codes ...int) func(int, *http.Request) (int, string) {
	return func(n int, _ *http.Request) (int, string) {
		c := codes[min(n, len(codes))-1]
		if c < 300 {
			return c, ""
		}
		return c, "gateway says " + http.StatusText(c)
	}
}

// ServeHTTP records the request and answers it.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := Request{Method: r.Method, Path: r.RequestURI, Header: r.Header.Clone(), Body: body}
	if r.TLS != nil {
		rec.ServerName = r.TLS.ServerName
		if len(r.TLS.PeerCertificates) > 0 {
			rec.PeerCN = r.TLS.PeerCertificates[0].Subject.CommonName
		}
	}
	g.mu.Lock()
	g.reqs = append(g.reqs, rec)
	n := len(g.reqs)
	g.mu.Unlock()
	respond := g.Respond
	if respond == nil {
		respond = OK
	}
	code, msg := respond(n, r)
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

// Requests returns the requests seen so far.
func (g *Gateway) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Request(nil), g.reqs...)
}

// New starts a plain-HTTP fake Pushgateway for the test.
func New(t *testing.T, respond func(int, *http.Request) (int, string)) (*httptest.Server, *Gateway) {
	t.Helper()
	gw := &Gateway{Respond: respond}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv, gw
}

// DecodeBody decodes a pushed body in the format its Content-Type names.
func DecodeBody(t *testing.T, header http.Header, body []byte) []*dto.MetricFamily {
	t.Helper()
	format := expfmt.ResponseFormat(header)
	if format.FormatType() == expfmt.TypeUnknown {
		t.Fatalf("Content-Type %q: unknown exposition format", header.Get("Content-Type"))
	}
	dec := expfmt.NewDecoder(bytes.NewReader(body), format)
	var out []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decode pushed body: %v", err)
		}
		out = append(out, mf)
	}
}

// Grouping parses a Pushgateway path (/metrics/job/J/name/value...) into
// its components as sent (encoded) and as meant (decoded: @base64 and
// percent escapes undone), failing the test on a malformed path.
func Grouping(t *testing.T, path string) (encoded, decoded map[string]string) {
	t.Helper()
	rest, ok := strings.CutPrefix(path, "/metrics/")
	if !ok {
		t.Fatalf("path %q does not start with /metrics/", path)
	}
	parts := strings.Split(rest, "/")
	if len(parts)%2 != 0 {
		t.Fatalf("path %q: odd number of components", path)
	}
	if parts[0] != "job" && parts[0] != "job@base64" {
		t.Fatalf("path %q: first component %q, want the job", path, parts[0])
	}
	encoded, decoded = map[string]string{}, map[string]string{}
	for i := 0; i < len(parts); i += 2 {
		name, value := parts[i], parts[i+1]
		if _, dup := encoded[name]; dup {
			t.Fatalf("path %q: %s twice", path, name)
		}
		encoded[name] = value
		var plain string
		if base, ok := strings.CutSuffix(name, "@base64"); ok {
			b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(value, "="))
			if err != nil {
				t.Fatalf("path %q: %s: %v", path, name, err)
			}
			name, plain = base, string(b)
		} else {
			var err error
			if plain, err = url.QueryUnescape(value); err != nil {
				t.Fatalf("path %q: %s: %v", path, name, err)
			}
		}
		decoded[name] = plain
	}
	return encoded, decoded
}

// Registry holds one metric of each common type, with fixed values.
func Registry(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	retries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "test_step_retries_total", Help: "Retries of a step.",
	}, []string{"step"})
	retries.WithLabelValues("train").Add(2)
	retries.WithLabelValues("evaluate").Add(0)
	duration := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "test_pipeline_duration_seconds", Help: "Wall time of the run.",
	})
	duration.Set(512.25)
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "test_step_duration_seconds", Help: "Step durations.", Buckets: []float64{1, 60, 3600},
	})
	hist.Observe(30)
	hist.Observe(90)
	reg.MustRegister(retries, duration, hist)
	return reg
}
