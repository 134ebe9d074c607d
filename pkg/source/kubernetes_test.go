package source

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/limits"
)

const kubePath = "/apis/argoproj.io/v1alpha1/namespaces/" + testNamespace + "/workflows/" + testName

// kubeCluster is one cluster, user and context of a test kubeconfig, all
// three named name.
type kubeCluster struct {
	name     string
	server   string
	token    string
	caData   []byte // PEM, written inline as certificate-authority-data
	caFile   string // certificate-authority
	insecure bool   // insecure-skip-tls-verify
}

// writeKubeconfig writes a kubeconfig as kubectl keeps it and returns its
// path.
func writeKubeconfig(t *testing.T, current string, clusters ...kubeCluster) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n")
	for _, c := range clusters {
		fmt.Fprintf(&b, "- name: %s\n  cluster:\n    server: %s\n", c.name, c.server)
		if c.caData != nil {
			fmt.Fprintf(&b, "    certificate-authority-data: %s\n", base64.StdEncoding.EncodeToString(c.caData))
		}
		if c.caFile != "" {
			fmt.Fprintf(&b, "    certificate-authority: %s\n", c.caFile)
		}
		if c.insecure {
			b.WriteString("    insecure-skip-tls-verify: true\n")
		}
	}
	b.WriteString("users:\n")
	for _, c := range clusters {
		fmt.Fprintf(&b, "- name: %s\n  user:\n    token: %s\n", c.name, c.token)
	}
	b.WriteString("contexts:\n")
	for _, c := range clusters {
		fmt.Fprintf(&b, "- name: %s\n  context:\n    cluster: %s\n    user: %s\n    namespace: default\n", c.name, c.name, c.name)
	}
	fmt.Fprintf(&b, "current-context: %s\n", current)
	return writeTemp(t, "kubeconfig", []byte(b.String()))
}

// newKubeAPIServer starts a fake kube-apiserver over TLS that records every
// request and answers GET kubePath with the example Workflow; any other
// request gets the 404 Status a real apiserver sends.
func newKubeAPIServer(t *testing.T) (*httptest.Server, *recorder, []byte) {
	t.Helper()
	body := workflowJSON(t)
	rec := &recorder{}
	ts := newQuietTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		if r.Method != http.MethodGet || r.URL.Path != kubePath {
			writeStatus(w, http.StatusNotFound, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(ts.Close)
	return ts, rec, body
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, status)
}

func TestKubernetesGetWorkflow(t *testing.T) {
	// The three ways a kubeconfig trusts an apiserver's certificate.
	tests := []struct {
		name  string
		trust func(t *testing.T, ts *httptest.Server) kubeCluster
	}{
		{"certificate-authority-data", func(t *testing.T, ts *httptest.Server) kubeCluster {
			return kubeCluster{caData: serverCAPEM(ts)}
		}},
		{"certificate-authority file", func(t *testing.T, ts *httptest.Server) kubeCluster {
			return kubeCluster{caFile: writeTemp(t, "ca.crt", serverCAPEM(ts))}
		}},
		{"insecure-skip-tls-verify", func(t *testing.T, ts *httptest.Server) kubeCluster {
			return kubeCluster{insecure: true}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, rec, want := newKubeAPIServer(t)
			c := tt.trust(t, ts)
			c.name, c.server, c.token = "kind-ml", ts.URL, "sa-token-123"
			k := Kubernetes{Kubeconfig: writeKubeconfig(t, "kind-ml", c)}

			got, err := k.GetWorkflow(context.Background(), testNamespace, testName)
			if err != nil {
				t.Fatalf("GetWorkflow: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("GetWorkflow returned %d bytes, want the apiserver's %d bytes unchanged", len(got), len(want))
			}
			req := rec.only(t)
			if req.Method != http.MethodGet || req.Path != kubePath {
				t.Errorf("request %s %s, want GET %s", req.Method, req.Path, kubePath)
			}
			if req.Authorization != "Bearer sa-token-123" {
				t.Errorf("Authorization: %q, want the kubeconfig's token", req.Authorization)
			}
			if !strings.Contains(req.Accept, "application/json") {
				t.Errorf("Accept: %q, want application/json", req.Accept)
			}
			if req.UserAgent != "step-metrics" {
				t.Errorf("User-Agent: %q, want step-metrics", req.UserAgent)
			}
		})
	}
}

func TestKubernetesUntrustedServer(t *testing.T) {
	// Neither a CA nor insecure-skip-tls-verify: the test certificate is not
	// trusted, which is what the CA cases above fix.
	ts, _, _ := newKubeAPIServer(t)
	k := Kubernetes{Kubeconfig: writeKubeconfig(t, "c", kubeCluster{name: "c", server: ts.URL, token: "t"})}
	_, err := k.GetWorkflow(context.Background(), testNamespace, testName)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("GetWorkflow without a CA: error %v, want x509.UnknownAuthorityError", err)
	}
	if !strings.Contains(err.Error(), testWorkflow) {
		t.Errorf("error %q does not name the workflow %s", err, testWorkflow)
	}
}

// The Status bodies a kube-apiserver sends for a workflow it will not give.
const (
	status401 = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`
	status403 = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"workflows.argoproj.io \"train-x7k2p\" is forbidden: User \"system:serviceaccount:ml:default\" cannot get resource \"workflows\" in API group \"argoproj.io\" in the namespace \"ml\"","reason":"Forbidden","details":{"name":"train-x7k2p","group":"argoproj.io","kind":"workflows"},"code":403}`
	status404 = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"workflows.argoproj.io \"train-x7k2p\" not found","reason":"NotFound","details":{"name":"train-x7k2p","group":"argoproj.io","kind":"workflows"},"code":404}`
	status500 = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Internal error occurred: etcdserver: leader changed","reason":"InternalError","details":{"causes":[{"message":"etcdserver: leader changed"}]},"code":500}`
	status504 = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: request did not complete within requested timeout - context deadline exceeded","reason":"Timeout","details":{},"code":504}`
)

func TestKubernetesAPIErrors(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		status string
		is     func(error) bool // the apimachinery check the error must still pass
		want   []string
	}{
		{
			name: "401", code: http.StatusUnauthorized, status: status401, is: apierrors.IsUnauthorized,
			want: []string{"unauthorized (401)", "token", "kubeconfig"},
		},
		{
			name: "403", code: http.StatusForbidden, status: status403, is: apierrors.IsForbidden,
			want: []string{
				"forbidden (403)", `verb "get"`, `resource "workflows"`, `API group "argoproj.io"`, `namespace "ml"`,
				// Which identity was refused: the fix is often to run the
				// exit handler as another service account, not more RBAC.
				`User "system:serviceaccount:ml:default" cannot get`,
			},
		},
		{
			name: "404", code: http.StatusNotFound, status: status404, is: apierrors.IsNotFound,
			want: []string{"not found (404)", "no such workflow", `workflows.argoproj.io "train-x7k2p" not found`},
		},
		{
			name: "500", code: http.StatusInternalServerError, status: status500, is: apierrors.IsInternalError,
			want: []string{"etcdserver: leader changed"},
		},
		{
			name: "504 server timeout", code: http.StatusGatewayTimeout, status: status504, is: apierrors.IsTimeout,
			want: []string{"timed out", "request did not complete within requested timeout"},
		},
	}
	// StreamWorkflow gets the error from client-go's Stream, which reads
	// and decodes the Status itself (not Result.Error as Do): the same
	// descriptions and reasons must come out.
	stream := func(k Kubernetes, ctx context.Context, ns, name string) ([]byte, error) {
		r, err := k.StreamWorkflow(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	for _, tt := range tests {
		for fname, get := range map[string]func(Kubernetes, context.Context, string, string) ([]byte, error){"GetWorkflow": Kubernetes.GetWorkflow, "StreamWorkflow": stream} {
			t.Run(tt.name+" "+fname, func(t *testing.T) {
				testKubernetesAPIError(t, tt.code, tt.status, tt.is, tt.want, get)
			})
		}
	}
}

// testKubernetesAPIError reads the workflow with get from an apiserver
// answering code and status, and checks the error.
func testKubernetesAPIError(t *testing.T, code int, status string, is func(error) bool, want []string, get func(Kubernetes, context.Context, string, string) ([]byte, error)) {
	t.Helper()
	rec := &recorder{}
	ts := newQuietTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		writeStatus(w, code, status)
	}))
	t.Cleanup(ts.Close)
	k := Kubernetes{Kubeconfig: writeKubeconfig(t, "c", kubeCluster{name: "c", server: ts.URL, token: "t", insecure: true})}

	got, err := get(k, context.Background(), testNamespace, testName)
	if err == nil {
		t.Fatalf("reading on %d = %d bytes, nil error; want an error", code, len(got))
	}
	if got != nil {
		t.Errorf("reading returned %d bytes with its error, want none", len(got))
	}
	if req := rec.only(t); req.Path != kubePath {
		t.Errorf("request path %s, want %s", req.Path, kubePath)
	}
	for _, w := range append([]string{"get workflow " + testWorkflow}, want...) {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not contain %q", err, w)
		}
	}
	if !is(err) {
		t.Errorf("error %q lost its *StatusError: callers cannot tell the reason", err)
	}
}

func TestKubernetesTimeout(t *testing.T) {
	ts := newSlowServer(t, newQuietTLSServer)
	k := Kubernetes{Kubeconfig: writeKubeconfig(t, "c", kubeCluster{name: "c", server: ts.URL, token: "t", caData: serverCAPEM(ts)})}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := k.GetWorkflow(ctx, testNamespace, testName)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("GetWorkflow took %v with a 200ms deadline", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetWorkflow on a slow apiserver: error %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "get workflow "+testWorkflow+": timed out") {
		t.Errorf("error %q does not say that getting workflow %s timed out", err, testWorkflow)
	}
}

func TestKubernetesUnreachable(t *testing.T) {
	ts := newQuietTLSServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close() // nothing listens on url now
	k := Kubernetes{Kubeconfig: writeKubeconfig(t, "c", kubeCluster{name: "c", server: url, token: "t", insecure: true})}

	start := time.Now()
	_, err := k.GetWorkflow(context.Background(), testNamespace, testName)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("GetWorkflow on a closed port took %v, want a prompt error", took)
	}
	if err == nil || !strings.Contains(err.Error(), testWorkflow) || !strings.Contains(err.Error(), strings.TrimPrefix(url, "https://")) {
		t.Fatalf("GetWorkflow on a closed port: error %v, want one naming the workflow %s and the server %s", err, testWorkflow, url)
	}
}

// TestKubernetesContext checks that Context picks the cluster and the
// credentials: two apiservers, one context each.
func TestKubernetesContext(t *testing.T) {
	prod, prodRec, _ := newKubeAPIServer(t)
	staging, stagingRec, _ := newKubeAPIServer(t)
	kubeconfig := writeKubeconfig(t, "prod",
		kubeCluster{name: "prod", server: prod.URL, token: "prod-token", caData: serverCAPEM(prod)},
		kubeCluster{name: "staging", server: staging.URL, token: "staging-token", caData: serverCAPEM(staging)},
	)
	tests := []struct {
		context    string
		want, idle *recorder
		wantAuth   string
	}{
		{context: "", want: prodRec, idle: stagingRec, wantAuth: "Bearer prod-token"}, // current-context
		{context: "staging", want: stagingRec, idle: prodRec, wantAuth: "Bearer staging-token"},
		{context: "prod", want: prodRec, idle: stagingRec, wantAuth: "Bearer prod-token"},
	}
	for _, tt := range tests {
		t.Run("context="+tt.context, func(t *testing.T) {
			tt.want.reset()
			tt.idle.reset()
			if _, err := (Kubernetes{Kubeconfig: kubeconfig, Context: tt.context}).GetWorkflow(context.Background(), testNamespace, testName); err != nil {
				t.Fatalf("GetWorkflow: %v", err)
			}
			if req := tt.want.only(t); req.Authorization != tt.wantAuth {
				t.Errorf("Authorization: %q, want %q", req.Authorization, tt.wantAuth)
			}
			if n := len(tt.idle.requests()); n != 0 {
				t.Errorf("the other context's server saw %d requests, want none", n)
			}
		})
	}

	t.Run("unknown context", func(t *testing.T) {
		_, err := Kubernetes{Kubeconfig: kubeconfig, Context: "dev"}.GetWorkflow(context.Background(), testNamespace, testName)
		if err == nil || !strings.Contains(err.Error(), `"dev"`) {
			t.Fatalf("GetWorkflow with context dev: error %v, want one naming the context", err)
		}
	})
}

func TestKubernetesKubeconfigMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "kubeconfig")
	_, err := Kubernetes{Kubeconfig: missing}.GetWorkflow(context.Background(), testNamespace, testName)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("GetWorkflow with a missing kubeconfig: error %v, want one naming %s", err, missing)
	}
}

// TestKubernetesKUBECONFIG checks the fallback chain when no kubeconfig is
// given: not in a cluster, so $KUBECONFIG. (In-cluster config itself reads
// fixed paths under /var/run/secrets and is not tested here.)
func TestKubernetesKUBECONFIG(t *testing.T) {
	a, aRec, _ := newKubeAPIServer(t)
	b, bRec, _ := newKubeAPIServer(t)
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a cluster, even if the tests run in one
	t.Setenv("KUBECONFIG", writeKubeconfig(t, "a",
		kubeCluster{name: "a", server: a.URL, token: "ta", insecure: true},
		kubeCluster{name: "b", server: b.URL, token: "tb", insecure: true},
	))

	if _, err := (Kubernetes{}).GetWorkflow(context.Background(), testNamespace, testName); err != nil {
		t.Fatalf("GetWorkflow from $KUBECONFIG: %v", err)
	}
	aRec.only(t)
	if _, err := (Kubernetes{Context: "b"}).GetWorkflow(context.Background(), testNamespace, testName); err != nil {
		t.Fatalf("GetWorkflow from $KUBECONFIG, context b: %v", err)
	}
	bRec.only(t)
}

// kubeServer starts an apiserver over TLS that answers every request with
// h, and returns a Kubernetes source for it with token.
func kubeServer(t *testing.T, token string, h http.HandlerFunc) Kubernetes {
	t.Helper()
	ts := newQuietTLSServer(h)
	t.Cleanup(ts.Close)
	return Kubernetes{Kubeconfig: writeKubeconfig(t, "c", kubeCluster{name: "c", server: ts.URL, token: token, caData: serverCAPEM(ts)})}
}

// TestKubernetesStreamWorkflow: the stream gives the apiserver's answer
// as it is; an answer larger than limits.Input() fails after the bound
// (GetWorkflow too), where Do read it whole: a 1 GB answer was GBs of RSS.
func TestKubernetesStreamWorkflow(t *testing.T) {
	limit := smallMemory(t)
	ts, _, want := newKubeAPIServer(t)
	k := Kubernetes{Kubeconfig: writeKubeconfig(t, "c", kubeCluster{name: "c", server: ts.URL, token: "t", caData: serverCAPEM(ts)})}
	r, err := k.StreamWorkflow(context.Background(), testNamespace, testName)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("StreamWorkflow: %d bytes, %v; want the apiserver's %d bytes", len(got), err, len(want))
	}

	written := make(chan int64, 2)
	big := kubeServer(t, "t", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		n, _ := io.Copy(w, &byteStream{n: 16 * limit})
		written <- n
	})
	r, err = big.StreamWorkflow(context.Background(), testNamespace, testName)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	r.Close()
	var tl *TooLargeError
	if !errors.As(err, &tl) || n != limit || !strings.Contains(err.Error(), "get workflow "+testWorkflow+": read the answer: larger than 8 MiB, a quarter of the memory limit") {
		t.Errorf("StreamWorkflow of %d bytes: %d read, error %v; want %d and a *TooLargeError", 16*limit, n, err, limit)
	}
	got, err = big.GetWorkflow(context.Background(), testNamespace, testName)
	if !errors.As(err, &tl) || got != nil {
		t.Errorf("GetWorkflow of %d bytes = %d bytes, %v; want a *TooLargeError", 16*limit, len(got), err)
	}
	for i := range 2 {
		select {
		case n := <-written:
			if n >= 16*limit {
				t.Errorf("read %d: the apiserver wrote all %d bytes", i+1, n)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("read %d: the apiserver is still writing: the client did not hang up", i+1)
		}
	}
}

// TestKubernetesErrorBodyBounded: client-go reads an error answer whole
// to decode its Status; a 403 with a 50 MB body is cut at
// limits.ErrorBody, and still reads as forbidden.
func TestKubernetesErrorBodyBounded(t *testing.T) {
	const size = 50 << 20
	written := make(chan int64, 1)
	k := kubeServer(t, "t", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		n, _ := io.Copy(w, &byteStream{n: size})
		written <- n
	})
	_, err := k.GetWorkflow(context.Background(), testNamespace, testName)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "forbidden (403)") {
		t.Fatalf("GetWorkflow on a 403: %v, want forbidden", err)
	}
	if len(err.Error()) > 2*limits.ErrorBody+1024 {
		t.Errorf("error of %d bytes", len(err.Error()))
	}
	select {
	case n := <-written:
		if n >= size {
			t.Errorf("the apiserver wrote all %d bytes: the client read the whole error answer", n)
		}
		t.Logf("the apiserver wrote %d of %d bytes before the client hung up", n, size)
	case <-time.After(10 * time.Second):
		t.Fatal("the apiserver is still writing: the client did not hang up")
	}
}

// TestKubernetesRedirect: an apiserver answering with a redirect (to a
// second server) is not followed: client-go's bearer round tripper would
// send the service account token to it.
func TestKubernetesRedirect(t *testing.T) {
	other, otherRec, _ := newKubeAPIServer(t)
	k := kubeServer(t, "sa-s3cr3t-token", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	_, err := k.GetWorkflow(context.Background(), testNamespace, testName)
	for _, r := range otherRec.requests() {
		t.Errorf("the server redirected to got %s %s with Authorization %q", r.Method, r.Path, r.Authorization)
	}
	var re *httpclient.RedirectError
	if !errors.As(err, &re) || re.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("GetWorkflow on a redirect: %v, want a *httpclient.RedirectError", err)
	}
	if !strings.Contains(err.Error(), "get workflow "+testWorkflow) || !strings.Contains(err.Error(), "a redirect to "+other.URL) {
		t.Errorf("error %q does not name the workflow and where the redirect pointed", err)
	}
}
