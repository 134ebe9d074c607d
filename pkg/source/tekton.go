package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	"github.com/step-metrics/step-metrics/pkg/limits"
)

// tektonGroupVersion is the Tekton API step-metrics reads.
var tektonGroupVersion = schema.GroupVersion{Group: "tekton.dev", Version: "v1"}

// rawClient is a REST client for one API group version that returns objects
// as raw bytes and decodes only metav1.Status (error answers). It stands in
// for generated clientsets, which would add megabytes to the binary and
// refuse objects from newer versions.
func (k Kubernetes) rawClient(gv schema.GroupVersion) (*rest.RESTClient, error) {
	cfg, err := k.RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "step-metrics"
	cfg.APIPath = "/apis"
	cfg.GroupVersion = &gv
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return apiTransport{next: rt} })
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s REST client: %w", gv.Group, err)
	}
	return rc, nil
}

// GetPipelineRun returns the Tekton PipelineRun namespace/name and its
// TaskRuns (those labelled tekton.dev/pipelineRun=name) as one JSON List,
// the form pkg/engine/tekton reads:
//
//	GET /apis/tekton.dev/v1/namespaces/{namespace}/pipelineruns/{name}
//	GET /apis/tekton.dev/v1/namespaces/{namespace}/taskruns?labelSelector=tekton.dev/pipelineRun={name}
//
// Both are raw requests through a plain REST client: Tekton's clientset
// (tektoncd/pipeline) is not a dependency, and raw bytes let the lenient
// decoder read objects from any Tekton version. The service account needs
// get on pipelineruns and list on taskruns in API group tekton.dev.
func (k Kubernetes) GetPipelineRun(ctx context.Context, namespace, name string) ([]byte, error) {
	rc, err := k.rawClient(tektonGroupVersion)
	if err != nil {
		return nil, err
	}

	// Stream, not Do, for the same reasons as StreamWorkflow; the two
	// answers share the one bound, limits.Input().
	limit := limits.Input()
	pr, err := readAPI(ctx, rc.Get().Namespace(namespace).Resource("pipelineruns").Name(name), limit, 0)
	if err != nil {
		return nil, describeTektonAPIError(err, "get", "pipelineruns", namespace, name)
	}
	trs, err := readAPI(ctx, rc.Get().Namespace(namespace).Resource("taskruns").
		Param("labelSelector", "tekton.dev/pipelineRun="+name), limit, int64(len(pr)))
	if err != nil {
		return nil, describeTektonAPIError(err, "list", "taskruns", namespace, name)
	}

	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(trs, &list); err != nil {
		return nil, fmt.Errorf("list taskruns of pipelinerun %s/%s: the answer is not a list: %w", namespace, name, err)
	}
	items := make([]json.RawMessage, 0, len(list.Items)+1)
	items = append(items, json.RawMessage(pr))
	for _, it := range list.Items {
		items = append(items, withKind(it, "TaskRun"))
	}
	out, err := json.Marshal(struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}{"v1", "List", items})
	if err != nil {
		return nil, fmt.Errorf("get pipelinerun %s/%s: %w", namespace, name, err)
	}
	return out, nil
}

// readAPI sends req and reads its answer: at most limit bytes, of which
// used were spent already.
func readAPI(ctx context.Context, req *rest.Request, limit, used int64) ([]byte, error) {
	body, err := req.Stream(ctx)
	if err != nil {
		return nil, err
	}
	r := bounded(body, body, limit, "read the answer")
	r.n = used
	return readAll(r)
}

// withKind sets apiVersion and kind on a list item that lacks them (list
// answers may leave them out of their items).
func withKind(item json.RawMessage, kind string) json.RawMessage {
	var tm metav1.TypeMeta
	if json.Unmarshal(item, &tm) != nil || tm.Kind != "" {
		return item
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(item, &obj) != nil {
		return item
	}
	obj["kind"], _ = json.Marshal(kind)
	if _, ok := obj["apiVersion"]; !ok {
		obj["apiVersion"], _ = json.Marshal(tektonGroupVersion.String())
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return item
	}
	return b
}

// describeTektonAPIError says what a failed read of a PipelineRun (verb
// get on pipelineruns) or of its TaskRuns (verb list on taskruns) needs,
// as describeAPIError does for Workflows.
func describeTektonAPIError(err error, verb, resource, namespace, name string) error {
	what := fmt.Sprintf("pipelinerun %s/%s", namespace, name)
	if resource == "taskruns" {
		what = "taskruns of " + what
	}
	switch {
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%s %s: unauthorized (401): the service account token or kubeconfig credentials were not accepted: %w", verb, what, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%s %s: forbidden (403): the service account needs verb %q on resource %q in API group %q in namespace %q (kubectl apply -k templates/tekton/ -n NAMESPACE): %w",
			verb, what, verb, resource, tektonGroupVersion.Group, namespace, err)
	case apierrors.IsNotFound(err) && resource == "pipelineruns":
		return fmt.Errorf("%s %s: not found (404): no such pipelinerun (deleted, wrong namespace, or a Tekton without the tekton.dev/v1 API?): %w", verb, what, err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s %s: not found (404): the apiserver does not serve tekton.dev/v1 taskruns: %w", verb, what, err)
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %s: timed out: %w", verb, what, err)
	}
	return fmt.Errorf("%s %s: %w", verb, what, err)
}
