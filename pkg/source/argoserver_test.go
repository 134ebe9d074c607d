package source

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
)

const argoPath = "/api/v1/workflows/" + testNamespace + "/" + testName

// newArgoServer starts a fake Argo Server that records every request and
// answers the example workflow at argoPath, 404 elsewhere.
func newArgoServer(t *testing.T, start func(http.Handler) *httptest.Server) (*httptest.Server, *recorder, []byte) {
	t.Helper()
	body := workflowJSON(t)
	rec := &recorder{}
	ts := start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		if r.Method != http.MethodGet || r.URL.Path != argoPath && r.URL.Path != "/argo"+argoPath {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"code":5,"message":"Not Found"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(ts.Close)
	return ts, rec, body
}

func TestArgoServerGetWorkflow(t *testing.T) {
	tests := []struct {
		name      string
		token     *string // token file content; nil: no TokenFile
		urlSuffix string  // appended to the server's URL
		wantPath  string
		wantAuth  string
	}{
		{name: "no token", wantPath: argoPath, wantAuth: ""},
		{name: "token with trailing newline", token: ptr("v2:abc.def\n"), wantPath: argoPath, wantAuth: "Bearer v2:abc.def"},
		{name: "token with spaces and CRLF", token: ptr("  v2:abc.def \r\n"), wantPath: argoPath, wantAuth: "Bearer v2:abc.def"},
		// `argo auth token` prints "Bearer v2:..."; saved to a file as is,
		// the prefix must not be doubled.
		{name: "argo auth token output", token: ptr("Bearer v2:abc.def\n"), wantPath: argoPath, wantAuth: "Bearer v2:abc.def"},
		{name: "base URL with trailing slash", urlSuffix: "/", wantPath: argoPath},
		// Argo Server behind an ingress path (--basehref /argo/).
		{name: "base URL with a path", urlSuffix: "/argo/", wantPath: "/argo" + argoPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, rec, want := newArgoServer(t, httptest.NewServer)
			a := ArgoServer{URL: ts.URL + tt.urlSuffix}
			if tt.token != nil {
				a.TokenFile = writeTemp(t, "token", []byte(*tt.token))
			}
			got, err := a.GetWorkflow(context.Background(), testNamespace, testName)
			if err != nil {
				t.Fatalf("GetWorkflow: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("GetWorkflow returned %d bytes, want the server's %d bytes unchanged", len(got), len(want))
			}
			req := rec.only(t)
			if req.Method != http.MethodGet || req.Path != tt.wantPath {
				t.Errorf("request %s %s, want GET %s", req.Method, req.Path, tt.wantPath)
			}
			if req.Authorization != tt.wantAuth {
				t.Errorf("Authorization: %q, want %q", req.Authorization, tt.wantAuth)
			}
			if req.Accept != "application/json" {
				t.Errorf("Accept: %q, want application/json", req.Accept)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestArgoServerTLS(t *testing.T) {
	ts, _, want := newArgoServer(t, newQuietTLSServer)
	caFile := writeTemp(t, "ca.pem", serverCAPEM(ts))

	t.Run("CA file", func(t *testing.T) {
		got, err := ArgoServer{URL: ts.URL, CAFile: caFile}.GetWorkflow(context.Background(), testNamespace, testName)
		if err != nil {
			t.Fatalf("GetWorkflow with the server's CA: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("GetWorkflow returned %d bytes, want %d", len(got), len(want))
		}
	})
	t.Run("insecure skip verify", func(t *testing.T) {
		if _, err := (ArgoServer{URL: ts.URL, InsecureSkipVerify: true}).GetWorkflow(context.Background(), testNamespace, testName); err != nil {
			t.Fatalf("GetWorkflow with InsecureSkipVerify: %v", err)
		}
	})
	t.Run("no CA", func(t *testing.T) {
		// The system roots do not trust the test certificate: this is what
		// the CA file case above is a fix for.
		_, err := ArgoServer{URL: ts.URL}.GetWorkflow(context.Background(), testNamespace, testName)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("GetWorkflow without the CA: error %v, want x509.UnknownAuthorityError", err)
		}
		if !strings.Contains(err.Error(), testWorkflow) {
			t.Errorf("error %q does not name the workflow %s", err, testWorkflow)
		}
	})
	t.Run("CA file without PEM", func(t *testing.T) {
		bad := writeTemp(t, "ca.der", ts.Certificate().Raw) // DER, not PEM
		_, err := ArgoServer{URL: ts.URL, CAFile: bad}.GetWorkflow(context.Background(), testNamespace, testName)
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "no PEM certificate") {
			t.Fatalf("GetWorkflow with a DER CA file: error %v, want one naming %s and saying it holds no PEM certificate", err, bad)
		}
	})
	t.Run("CA file missing", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "ca.pem")
		_, err := ArgoServer{URL: ts.URL, CAFile: missing}.GetWorkflow(context.Background(), testNamespace, testName)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Fatalf("GetWorkflow with a missing CA file: error %v, want one naming %s", err, missing)
		}
	})
}

func TestArgoServerErrorStatus(t *testing.T) {
	long := `{"code":2,"message":"` + strings.Repeat("x", 400) + `"}`
	tests := []struct {
		status int
		body   string // as Argo Server's grpc-gateway writes errors
		want   []string
		notIn  string // must not appear in the error
	}{
		{
			status: http.StatusUnauthorized,
			body:   `{"code":16,"message":"token not valid. see https://argo-workflows.readthedocs.io/en/latest/faq/"}`,
			want:   []string{"HTTP 401", "token missing or not accepted", "token not valid"},
		},
		{
			status: http.StatusForbidden,
			body:   `{"code":7,"message":"workflows.argoproj.io \"train-x7k2p\" is forbidden: User \"system:serviceaccount:argo:argo-server\" cannot get resource \"workflows\" in API group \"argoproj.io\" in the namespace \"ml\""}`,
			want:   []string{"HTTP 403", "get on workflows.argoproj.io", `User \"system:serviceaccount:argo:argo-server\" cannot get`},
		},
		{
			status: http.StatusNotFound,
			body:   `{"code":5,"message":"workflows.argoproj.io \"train-x7k2p\" not found"}` + "\n",
			want:   []string{"HTTP 404", "no such workflow", `workflows.argoproj.io \"train-x7k2p\" not found"}`},
		},
		{
			status: http.StatusInternalServerError,
			body:   `{"code":2,"message":"failed to hydrate workflow: offload node status: connection refused"}`,
			want:   []string{"HTTP 500", "failed to hydrate workflow"},
		},
		{
			// A long answer (an HTML error page, say) is cut short.
			status: http.StatusBadGateway,
			body:   long,
			want:   []string{"HTTP 502", long[:300] + "..."},
			notIn:  long[:301],
		},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			t.Cleanup(ts.Close)
			got, err := ArgoServer{URL: ts.URL}.GetWorkflow(context.Background(), testNamespace, testName)
			if err == nil {
				t.Fatalf("GetWorkflow on HTTP %d = %d bytes, nil error; want an error", tt.status, len(got))
			}
			if got != nil {
				t.Errorf("GetWorkflow on HTTP %d returned %d bytes with its error, want none", tt.status, len(got))
			}
			for _, want := range append([]string{testWorkflow, "argo server"}, tt.want...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
			if tt.notIn != "" && strings.Contains(err.Error(), tt.notIn) {
				t.Errorf("error holds the server's whole answer (%d bytes), want it cut at 300", len(tt.body))
			}
		})
	}
}

func TestArgoServerUnreachable(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close() // nothing listens on url now

	_, err := ArgoServer{URL: url}.GetWorkflow(context.Background(), testNamespace, testName)
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("GetWorkflow on a closed port: error %v, want a *net.OpError", err)
	}
	if !strings.Contains(err.Error(), testWorkflow) || !strings.Contains(err.Error(), "argo server") {
		t.Errorf("error %q does not name the workflow %s and the argo server", err, testWorkflow)
	}
}

func TestArgoServerTimeout(t *testing.T) {
	ts := newSlowServer(t, httptest.NewServer)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := ArgoServer{URL: ts.URL}.GetWorkflow(ctx, testNamespace, testName)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("GetWorkflow took %v with a 100ms deadline", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetWorkflow on a slow server: error %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), testWorkflow) {
		t.Errorf("error %q does not name the workflow %s", err, testWorkflow)
	}
}

func TestArgoServerTruncatedAnswer(t *testing.T) {
	// The connection drops mid-answer: the status is 200, the body short.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, `{"kind":"Workflow",`)
	}))
	t.Cleanup(ts.Close)
	got, err := ArgoServer{URL: ts.URL}.GetWorkflow(context.Background(), testNamespace, testName)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("GetWorkflow on a cut answer = %q, %v; want io.ErrUnexpectedEOF", got, err)
	}
	if !strings.Contains(err.Error(), testWorkflow) || !strings.Contains(err.Error(), "read body") {
		t.Errorf("error %q does not name the workflow %s and say reading the body failed", err, testWorkflow)
	}
}

func TestArgoServerBadURL(t *testing.T) {
	for _, u := range []string{"", "argo-server.argo:2746", "/api/v1", "https://", "http://[::1"} {
		t.Run(u, func(t *testing.T) {
			_, err := ArgoServer{URL: u}.GetWorkflow(context.Background(), testNamespace, testName)
			if err == nil || !strings.Contains(err.Error(), "not an absolute URL") {
				t.Fatalf("GetWorkflow with URL %q: error %v, want \"not an absolute URL\"", u, err)
			}
		})
	}
}

func TestArgoServerTokenFileMissing(t *testing.T) {
	ts, rec, _ := newArgoServer(t, httptest.NewServer)
	missing := filepath.Join(t.TempDir(), "token")
	_, err := ArgoServer{URL: ts.URL, TokenFile: missing}.GetWorkflow(context.Background(), testNamespace, testName)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("GetWorkflow with a missing token file: error %v, want one naming %s", err, missing)
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("server saw %d requests, want none without the token", n)
	}
}

// roundTripFunc is an http.RoundTripper from a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestArgoServerClient(t *testing.T) {
	// Client replaces the built-in one, TLS options and all: the
	// InsecureSkipVerify below would matter only to the built-in client.
	var called bool
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		called = true
		if r.URL.String() != "https://argo-server.argo:2746"+argoPath {
			t.Errorf("request URL %s, want https://argo-server.argo:2746%s", r.URL, argoPath)
		}
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(`{"kind":"Workflow"}`)), Request: r}, nil
	})}
	got, err := ArgoServer{URL: "https://argo-server.argo:2746", InsecureSkipVerify: true, Client: client}.
		GetWorkflow(context.Background(), testNamespace, testName)
	if err != nil {
		t.Fatalf("GetWorkflow: %v", err)
	}
	if !called {
		t.Fatal("GetWorkflow did not use the Client it was given")
	}
	if string(got) != `{"kind":"Workflow"}` {
		t.Errorf("GetWorkflow = %q, want the client's answer", got)
	}
}

func TestArgoServerAnswerTooLarge(t *testing.T) {
	limit := smallMemory(t)
	// A generated body, so only GetWorkflow's buffer costs memory.
	body := &byteStream{n: 2 * limit}
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(body), Request: r}, nil
	})}
	got, err := ArgoServer{URL: "https://argo-server.argo:2746", Client: client}.GetWorkflow(context.Background(), testNamespace, testName)
	if err == nil {
		t.Fatalf("GetWorkflow on a %d-byte answer = %d bytes, nil error; want a size error", 2*limit, len(got))
	}
	var tl *TooLargeError
	if !strings.Contains(err.Error(), "larger than 8 MiB, a quarter of the memory limit") || !strings.Contains(err.Error(), testWorkflow) || !errors.As(err, &tl) {
		t.Errorf("error %q does not name the workflow and the 8 MiB limit", err)
	}
	if body.read > limit+1 {
		t.Errorf("GetWorkflow read %d bytes of the answer, want at most the limit + 1 = %d", body.read, limit+1)
	}
}

// TestArgoServerStreamWorkflow: the stream gives the answer as it is, and
// fails once more than limits.Input() bytes came from a real server.
func TestArgoServerStreamWorkflow(t *testing.T) {
	limit := smallMemory(t)
	ts, _, want := newArgoServer(t, httptest.NewServer)
	r, err := ArgoServer{URL: ts.URL}.StreamWorkflow(context.Background(), testNamespace, testName)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("StreamWorkflow: %d bytes, %v; want the server's %d bytes", len(got), err, len(want))
	}

	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, &byteStream{n: 3 * limit})
	}))
	t.Cleanup(big.Close)
	r, err = ArgoServer{URL: big.URL}.StreamWorkflow(context.Background(), testNamespace, testName)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n, err := io.Copy(io.Discard, r)
	var tl *TooLargeError
	if !errors.As(err, &tl) || n != limit || !strings.Contains(err.Error(), "get workflow "+testWorkflow+" from argo server: read body: larger than 8 MiB") {
		t.Errorf("StreamWorkflow of %d bytes: %d read, error %v; want %d and a *TooLargeError", 3*limit, n, err, limit)
	}
}

// TestArgoServerRedirect: a redirect is refused, not followed: the server
// it points to gets nothing (not the token), and the error says where it
// pointed.
func TestArgoServerRedirect(t *testing.T) {
	other, otherRec, _ := newArgoServer(t, httptest.NewServer)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path+"?token=s3cr3t", http.StatusFound)
	}))
	t.Cleanup(ts.Close)
	a := ArgoServer{URL: ts.URL, TokenFile: writeTemp(t, "token", []byte("s3cr3t-token"))}
	_, err := a.GetWorkflow(context.Background(), testNamespace, testName)
	var re *httpclient.RedirectError
	if !errors.As(err, &re) {
		t.Fatalf("GetWorkflow on a redirect: error %v, want a *httpclient.RedirectError", err)
	}
	if n := len(otherRec.requests()); n != 0 {
		t.Errorf("the server redirected to got %d requests, want none: %+v", n, otherRec.requests())
	}
	for _, want := range []string{testWorkflow, "302", "a redirect to " + other.URL + argoPath, "use the URL it points to"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %q shows a secret", err)
	}
}

// TestArgoServerURLNotEchoed: an Argo Server URL with credentials or a
// query is refused, and no error shows the password or the query value.
func TestArgoServerURLNotEchoed(t *testing.T) {
	ts, rec, _ := newArgoServer(t, httptest.NewServer)
	host := strings.TrimPrefix(ts.URL, "http://")
	for _, tc := range []struct{ url, want string }{
		{"http://u:PASS@" + host, "put no credentials in the URL"},
		{"http://PASS@" + host, "put no credentials in the URL"},
		{"u:PASS@" + host, `"` + host + `" is not an absolute URL`},
		{ts.URL + "/?access_token=PASS", "put no query in the URL"},
		{"http://u:PA/SS@" + host, "not an absolute URL"},
	} {
		_, err := ArgoServer{URL: tc.url}.GetWorkflow(context.Background(), testNamespace, testName)
		switch {
		case err == nil:
			t.Errorf("GetWorkflow with URL %q succeeded", tc.url)
		case strings.Contains(err.Error(), "PASS") || strings.Contains(err.Error(), "SS@"):
			t.Errorf("GetWorkflow with URL %q: error shows the secret: %v", tc.url, err)
		case !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "argo server URL"):
			t.Errorf("GetWorkflow with URL %q: error %v, want %q", tc.url, err, tc.want)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

// TestArgoServerErrorBodyBounded: a 500 with a 50 MB body gives a short
// error, and the client stops reading early (the server could not write
// it all).
func TestArgoServerErrorBodyBounded(t *testing.T) {
	const size = 50 << 20
	written := make(chan int64, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		n, _ := io.Copy(w, &byteStream{n: size})
		written <- n
	}))
	t.Cleanup(ts.Close)
	_, err := ArgoServer{URL: ts.URL}.GetWorkflow(context.Background(), testNamespace, testName)
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("GetWorkflow on a 500: %v", err)
	}
	if len(err.Error()) > 500 {
		t.Errorf("error of %d bytes, want a short one", len(err.Error()))
	}
	select {
	case n := <-written:
		if n >= size {
			t.Errorf("the server wrote all %d bytes: the client read the whole error body", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server is still writing: the client did not hang up")
	}
}
