// Package source fetches the raw status object of a pipeline run: from a
// file or stdin, from the Kubernetes API (in-cluster or kubeconfig, through
// client-go's plain REST client: generated clientsets would add 14 MB to the
// binary and refuse objects from newer versions), or from Argo Server's REST
// API for installations that offload node status to a database, through
// the client pkg/httpclient sets up. It returns bytes; decoding is the
// engines' job (pkg/engine/argo, pkg/engine/tekton), so every source goes
// through the same lenient decoder.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/step-metrics/step-metrics/pkg/httpclient"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// MaxObjectSize bounds what a source reads (Kubernetes objects are at most
// ~1.5 MiB in etcd, but a hydrated Argo Server answer can be larger).
const MaxObjectSize = 256 << 20

// ReadFile reads a workflow object from path, or from stdin if path is "-".
func ReadFile(path string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
		path = "stdin"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read workflow: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("read workflow from %s: %w", path, err)
	}
	if len(b) > MaxObjectSize {
		return nil, fmt.Errorf("read workflow from %s: larger than %d MiB", path, MaxObjectSize>>20)
	}
	return b, nil
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

// GetWorkflow returns the Workflow namespace/name as JSON.
func (k Kubernetes) GetWorkflow(ctx context.Context, namespace, name string) ([]byte, error) {
	rc, err := k.rawClient(schema.GroupVersion{Group: "argoproj.io", Version: "v1alpha1"})
	if err != nil {
		return nil, err
	}
	// Raw bytes, not the typed Get: the lenient decoder then reads objects
	// from newer Argo versions that the typed client would refuse. Do and
	// Raw, not DoRaw: DoRaw keeps an error answer's message only if it is
	// text/plain, so the apiserver's Status (who may not get what) is lost.
	res := rc.Get().
		Namespace(namespace).Resource("workflows").Name(name).Do(ctx)
	if err := res.Error(); err != nil {
		return nil, describeAPIError(err, namespace, name)
	}
	b, err := res.Raw()
	if err != nil {
		return nil, describeAPIError(err, namespace, name)
	}
	return b, nil
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

// GetWorkflow returns GET /api/v1/workflows/{namespace}/{name}.
func (a ArgoServer) GetWorkflow(ctx context.Context, namespace, name string) ([]byte, error) {
	base, err := url.Parse(strings.TrimRight(a.URL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("argo server URL %q is not an absolute URL", a.URL)
	}
	u := base.JoinPath("api/v1/workflows", namespace, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("argo server request: %w", err)
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
		// timeouts.
		client, err = httpclient.New(httpclient.Config{CAFile: a.CAFile, InsecureSkipVerify: a.InsecureSkipVerify})
		if err != nil {
			return nil, fmt.Errorf("argo server client: %w", err)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get workflow %s/%s from argo server: %w", namespace, name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("get workflow %s/%s from argo server: read body: %w", namespace, name, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 300 {
			msg = msg[:300] + "..."
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
		return nil, fmt.Errorf("get workflow %s/%s from argo server: HTTP %d%s: %s", namespace, name, resp.StatusCode, hint, msg)
	}
	if len(b) > MaxObjectSize {
		return nil, fmt.Errorf("get workflow %s/%s from argo server: answer larger than %d MiB", namespace, name, MaxObjectSize>>20)
	}
	return b, nil
}
