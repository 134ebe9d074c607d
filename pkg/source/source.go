// Package source fetches the raw status object of a pipeline run: from a
// file or stdin, from the Kubernetes API (in-cluster or kubeconfig, through
// client-go's plain REST client: generated clientsets would add 14 MB to the
// binary and refuse objects from newer versions), or from Argo Server's REST
// API for installations that offload node status to a database, through
// the client pkg/httpclient sets up. It returns bytes, or a stream for a
// decoder that reads as the bytes arrive (OpenFile, StreamWorkflow);
// decoding is the engines' job (pkg/engine/argo, pkg/engine/tekton), so
// every source goes through the same lenient decoder.
//
// Every read is bounded by limits.Input(), a quarter of the memory the
// process may use (a *TooLargeError past it), and an error answer's body
// by limits.ErrorBody; no source follows a redirect (the credentials would
// go with it).
//
//	r, err := source.Kubernetes{}.StreamWorkflow(ctx, "ml", "train-x7k2p")
//	if err != nil { ... }
//	defer r.Close()
//	// decode r; a read error past the bound is a *source.TooLargeError
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/limits"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// OpenFile opens a workflow object at path, or stdin if path is "-", for
// a decoder to stream: the reader fails with a *TooLargeError once more
// than limits.Input() bytes were read (a file known to be larger fails
// here already), its other errors name the path. Close does not close
// stdin.
func OpenFile(path string, stdin io.Reader) (io.ReadCloser, error) {
	r, err := openFile(path, stdin)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func openFile(path string, stdin io.Reader) (*boundedReader, error) {
	limit := limits.Input()
	if path == "-" {
		return bounded(stdin, nil, limit, "read workflow from stdin"), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read workflow: %w", err)
	}
	what := "read workflow from " + path
	r := bounded(f, f, limit, what)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		if fi.Size() > limit {
			_ = f.Close()
			return nil, fmt.Errorf("%s: %w", what, &TooLargeError{Limit: limit})
		}
		r.size = fi.Size()
	}
	return r, nil
}

// ReadFile reads a workflow object from path, or from stdin if path is
// "-", as OpenFile bounds it.
func ReadFile(path string, stdin io.Reader) ([]byte, error) {
	r, err := openFile(path, stdin)
	if err != nil {
		return nil, err
	}
	return readAll(r)
}

// Kubernetes reads Workflows (and Tekton PipelineRuns) from the Kubernetes API.
type Kubernetes struct {
	// Kubeconfig is a kubeconfig path; empty means in-cluster config, then
	// the default loading rules ($KUBECONFIG, ~/.kube/config).
	Kubeconfig string
	// Context is the kubeconfig context; empty means current.
	Context string
}

// RESTConfig returns the client configuration.
func (k Kubernetes) RESTConfig() (*rest.Config, error) {
	if k.Kubeconfig == "" && k.Context == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.Kubeconfig != "" {
		rules.ExplicitPath = k.Kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config (not in a cluster, no usable kubeconfig): %w", err)
	}
	return cfg, nil
}

// GetWorkflow returns the Workflow namespace/name as JSON, read as
// StreamWorkflow bounds it.
func (k Kubernetes) GetWorkflow(ctx context.Context, namespace, name string) ([]byte, error) {
	r, err := k.streamWorkflow(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return readAll(r)
}

// StreamWorkflow returns the Workflow namespace/name as a JSON stream for
// a decoder to read as it arrives: it fails with a *TooLargeError once
// more than limits.Input() bytes were read. Errors say what a 401, 403 or
// 404 means, as GetWorkflow's do. The caller closes it.
func (k Kubernetes) StreamWorkflow(ctx context.Context, namespace, name string) (io.ReadCloser, error) {
	r, err := k.streamWorkflow(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (k Kubernetes) streamWorkflow(ctx context.Context, namespace, name string) (*boundedReader, error) {
	limit := limits.Input()
	rc, err := k.rawClient(schema.GroupVersion{Group: "argoproj.io", Version: "v1alpha1"})
	if err != nil {
		return nil, err
	}
	// Raw bytes, not the typed Get: the lenient decoder then reads objects
	// from newer Argo versions that the typed client would refuse. Stream,
	// not Do: Do reads the whole answer into memory. For an answer that is
	// not 2xx, Stream returns the error Do's Result.Error would (the
	// apiserver's Status decoded, so who may not get what), read from a
	// body apiTransport cut to limits.ErrorBody.
	body, err := rc.Get().Namespace(namespace).Resource("workflows").Name(name).Stream(ctx)
	if err != nil {
		return nil, describeAPIError(err, namespace, name)
	}
	return bounded(body, body, limit, fmt.Sprintf("get workflow %s/%s: read the answer", namespace, name)), nil
}

func describeAPIError(err error, namespace, name string) error {
	what := fmt.Sprintf("workflow %s/%s", namespace, name)
	switch {
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("get %s: unauthorized (401): the service account token or kubeconfig credentials were not accepted: %w", what, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("get %s: forbidden (403): the service account needs verb \"get\" on resource \"workflows\" in API group \"argoproj.io\" in namespace %q (kubectl apply -k templates/rbac/ -n NAMESPACE): %w", what, namespace, err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("get %s: not found (404): no such workflow (deleted, or wrong namespace?): %w", what, err)
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("get %s: timed out: %w", what, err)
	}
	return fmt.Errorf("get %s: %w", what, err)
}

// ArgoServer reads Workflows from Argo Server's REST API, which hydrates
// node status offloaded to its database.
type ArgoServer struct {
	// URL is the server's base URL, e.g. https://argo-server.argo:2746.
	URL string
	// TokenFile holds a bearer token (an Argo Server or service account token).
	TokenFile string
	// CAFile is a PEM CA bundle for a private CA, trusted in addition to
	// the system's.
	CAFile string
	// InsecureSkipVerify disables certificate checks.
	InsecureSkipVerify bool
	// Client overrides the HTTP client (tests); nil means one from
	// httpclient.New with CAFile and InsecureSkipVerify.
	Client *http.Client
}

// GetWorkflow returns GET /api/v1/workflows/{namespace}/{name}, read as
// StreamWorkflow bounds it.
func (a ArgoServer) GetWorkflow(ctx context.Context, namespace, name string) ([]byte, error) {
	r, err := a.streamWorkflow(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return readAll(r)
}

// StreamWorkflow returns GET /api/v1/workflows/{namespace}/{name} as a
// JSON stream for a decoder to read as it arrives: it fails with a
// *TooLargeError once more than limits.Input() bytes were read. The URL
// is checked by httpclient.CheckURL (no credentials, no query: the token
// is read from TokenFile) and shown only through httpclient.RedactURL; a
// redirect is an error, never followed, as for the Pushgateway. The
// caller closes the stream.
func (a ArgoServer) StreamWorkflow(ctx context.Context, namespace, name string) (io.ReadCloser, error) {
	r, err := a.streamWorkflow(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (a ArgoServer) streamWorkflow(ctx context.Context, namespace, name string) (*boundedReader, error) {
	limit := limits.Input()
	base, err := httpclient.CheckURL(strings.TrimRight(a.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("argo server URL %w", err)
	}
	what := fmt.Sprintf("get workflow %s/%s from argo server", namespace, name)
	u := base.JoinPath("api/v1/workflows", namespace, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("argo server request: %w", httpclient.RedactError(err))
	}
	req.Header.Set("Accept", "application/json")
	if a.TokenFile != "" {
		tok, err := os.ReadFile(a.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("read argo server token: %w", err)
		}
		t := strings.TrimSpace(string(tok))
		// Argo CLI tokens are printed as "Bearer xxx".
		t = strings.TrimPrefix(t, "Bearer ")
		req.Header.Set("Authorization", "Bearer "+t)
	}
	client := a.Client
	if client == nil {
		// The one client set-up of step-metrics: the CA is added to the
		// system pool, with dial, TLS handshake and response-header
		// timeouts, and redirects are not followed.
		client, err = httpclient.New(httpclient.Config{CAFile: a.CAFile, InsecureSkipVerify: a.InsecureSkipVerify})
		if err != nil {
			return nil, fmt.Errorf("argo server client: %w", err)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, httpclient.RedactError(err))
	}
	if rerr := httpclient.Redirected(resp); rerr != nil {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%s: %w", what, rerr)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, limits.ErrorBody))
		if err != nil {
			return nil, fmt.Errorf("%s: HTTP %d: read body: %w", what, resp.StatusCode, err)
		}
		msg := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
		if len(msg) > 300 {
			msg = strings.ToValidUTF8(msg[:300], "") + "..."
		}
		hint := ""
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			hint = " (token missing or not accepted)"
		case http.StatusForbidden:
			hint = " (the token's account needs get on workflows.argoproj.io)"
		case http.StatusNotFound:
			hint = " (no such workflow)"
		}
		return nil, fmt.Errorf("%s: HTTP %d%s: %s", what, resp.StatusCode, hint, msg)
	}
	r := bounded(resp.Body, resp.Body, limit, what+": read body")
	r.size = resp.ContentLength
	return r, nil
}
