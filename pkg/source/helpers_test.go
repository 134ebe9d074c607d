package source

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/internal/example"
	"github.com/step-metrics/step-metrics/pkg/limits"
)

// The bundled example run: namespace ml, name train-x7k2p.
const (
	testNamespace = "ml"
	testName      = "train-x7k2p"
	testWorkflow  = testNamespace + "/" + testName
)

// workflowJSON is the example Workflow as an API server sends it.
func workflowJSON(t *testing.T) []byte {
	t.Helper()
	b, err := yaml.YAMLToJSON(example.Workflow)
	if err != nil {
		t.Fatalf("example workflow to JSON: %v", err)
	}
	return b
}

// writeTemp writes content to a new file in a per-test directory and
// returns its path.
func writeTemp(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverCAPEM returns a TLS test server's self-signed certificate as PEM,
// the CA bundle a client needs to trust it.
func serverCAPEM(ts *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
}

// seenRequest is what a test server recorded of one request.
type seenRequest struct {
	Method, Path, Authorization, Accept, UserAgent string
}

// recorder records requests; handlers run on server goroutines, so it locks.
type recorder struct {
	mu   sync.Mutex
	reqs []seenRequest
}

func (r *recorder) record(req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, seenRequest{
		Method:        req.Method,
		Path:          req.URL.EscapedPath(),
		Authorization: req.Header.Get("Authorization"),
		Accept:        req.Header.Get("Accept"),
		UserAgent:     req.Header.Get("User-Agent"),
	})
}

func (r *recorder) requests() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seenRequest(nil), r.reqs...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

// only returns the one recorded request, failing the test if there was not
// exactly one.
func (r *recorder) only(t *testing.T) seenRequest {
	t.Helper()
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1: %+v", len(reqs), reqs)
	}
	return reqs[0]
}

// smallMemory sets the runtime's memory limit (as GOMEMLIMIT would) to
// 32 MiB for the test and returns limits.Input() under it, 8 MiB: the
// bound every source reads up to.
func smallMemory(t *testing.T) int64 {
	t.Helper()
	t.Cleanup(limits.Set(32 << 20))
	limit := limits.Input()
	if limit != 8<<20 {
		t.Fatalf("limits.Input() = %d with a 32 MiB memory limit, want 8 MiB", limit)
	}
	return limit
}

// newQuietTLSServer is httptest.NewTLSServer without the server's log of
// refused handshakes, which the untrusted-certificate tests cause on purpose.
func newQuietTLSServer(h http.Handler) *httptest.Server {
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	return ts
}

// newSlowServer starts a server (httptest.NewServer or newQuietTLSServer) that
// answers only when the client gives up or the test ends: slower than any
// timeout.
func newSlowServer(t *testing.T, start func(http.Handler) *httptest.Server) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	ts := start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		case <-time.After(5 * time.Second): // a client that ignores its deadline fails, not hangs
		}
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(release) }) // cleanups run last-in first-out: release, then Close
	return ts
}
