package source

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/engine/tekton"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

const (
	tektonPRPath = "/apis/tekton.dev/v1/namespaces/" + testNamespace + "/pipelineruns/" + testName
	tektonTRPath = "/apis/tekton.dev/v1/namespaces/" + testNamespace + "/taskruns"
)

// A PipelineRun and a TaskRunList as the apiserver sends them; the second
// item has no apiVersion and kind, which GetPipelineRun fills in.
const (
	tektonPRJSON = `{"apiVersion":"tekton.dev/v1","kind":"PipelineRun","metadata":{"name":"train-x7k2p","namespace":"ml","uid":"u-1"},
"status":{"conditions":[{"type":"Succeeded","status":"Unknown","reason":"Running"}],"startTime":"2026-01-01T00:00:00Z",
"childReferences":[{"kind":"TaskRun","name":"train-x7k2p-a","pipelineTaskName":"a"},{"kind":"TaskRun","name":"train-x7k2p-b","pipelineTaskName":"b"}],
"pipelineSpec":{"tasks":[{"name":"a"},{"name":"b"}]}}}`
	tektonTRListJSON = `{"apiVersion":"tekton.dev/v1","kind":"TaskRunList","metadata":{"resourceVersion":"9"},"items":[
{"apiVersion":"tekton.dev/v1","kind":"TaskRun","metadata":{"name":"train-x7k2p-a","labels":{"tekton.dev/pipelineRun":"train-x7k2p"}},
 "status":{"conditions":[{"type":"Succeeded","status":"True","reason":"Succeeded"}],"startTime":"2026-01-01T00:00:01Z","completionTime":"2026-01-01T00:00:30Z"}},
{"metadata":{"name":"train-x7k2p-b","labels":{"tekton.dev/pipelineRun":"train-x7k2p"}},
 "status":{"conditions":[{"type":"Succeeded","status":"True","reason":"Succeeded"}],"startTime":"2026-01-01T00:00:31Z","completionTime":"2026-01-01T00:01:00Z"}}]}`
)

// tektonRequest is what the fake apiserver saw of one request.
type tektonRequest struct {
	Path, Query, Authorization, UserAgent string
}

type tektonRecorder struct {
	mu   sync.Mutex
	reqs []tektonRequest
}

func (r *tektonRecorder) record(req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, tektonRequest{req.URL.EscapedPath(), req.URL.RawQuery, req.Header.Get("Authorization"), req.Header.Get("User-Agent")})
}

func (r *tektonRecorder) all() []tektonRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tektonRequest(nil), r.reqs...)
}

// newTektonAPIServer answers the PipelineRun and the TaskRun list with
// prAnswer and trAnswer (status code and body), anything else with 404.
func newTektonAPIServer(t *testing.T, prCode int, prBody string, trCode int, trBody string) (Kubernetes, *tektonRecorder) {
	t.Helper()
	rec := &tektonRecorder{}
	ts := newQuietTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		switch {
		case r.Method == http.MethodGet && r.URL.Path == tektonPRPath:
			writeStatus(w, prCode, prBody)
		case r.Method == http.MethodGet && r.URL.Path == tektonTRPath:
			writeStatus(w, trCode, trBody)
		default:
			writeStatus(w, http.StatusNotFound, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}`)
		}
	}))
	t.Cleanup(ts.Close)
	k := Kubernetes{Kubeconfig: writeKubeconfig(t, "c", kubeCluster{name: "c", server: ts.URL, token: "sa-token", caData: serverCAPEM(ts)})}
	return k, rec
}

func TestKubernetesGetPipelineRun(t *testing.T) {
	k, rec := newTektonAPIServer(t, http.StatusOK, tektonPRJSON, http.StatusOK, tektonTRListJSON)
	got, err := k.GetPipelineRun(context.Background(), testNamespace, testName)
	if err != nil {
		t.Fatalf("GetPipelineRun: %v", err)
	}
	reqs := rec.all()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2: %+v", len(reqs), reqs)
	}
	if reqs[0].Path != tektonPRPath || reqs[0].Query != "" {
		t.Errorf("first request %s?%s, want GET %s", reqs[0].Path, reqs[0].Query, tektonPRPath)
	}
	if reqs[1].Path != tektonTRPath || reqs[1].Query != "labelSelector=tekton.dev%2FpipelineRun%3D"+testName {
		t.Errorf("second request %s?%s, want the TaskRuns labelled tekton.dev/pipelineRun=%s", reqs[1].Path, reqs[1].Query, testName)
	}
	for _, r := range reqs {
		if r.Authorization != "Bearer sa-token" || r.UserAgent != "step-metrics" {
			t.Errorf("request %s: Authorization %q, User-Agent %q", r.Path, r.Authorization, r.UserAgent)
		}
	}

	// One List: the PipelineRun first, then each TaskRun with its kind.
	var list struct {
		Kind  string `json:"kind"`
		Items []struct {
			APIVersion, Kind string
			Metadata         struct{ Name string }
		} `json:"items"`
	}
	if err := json.Unmarshal(got, &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "List" || len(list.Items) != 3 || list.Items[0].Kind != "PipelineRun" ||
		list.Items[2].Kind != "TaskRun" || list.Items[2].APIVersion != "tekton.dev/v1" || list.Items[2].Metadata.Name != "train-x7k2p-b" {
		t.Errorf("list = %+v", list)
	}
	// What the Tekton engine makes of it.
	run, warnings, err := tekton.Engine{}.Read(got, engine.Options{})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Read: %v %q", err, warnings)
	}
	if run.Name != testName || len(run.Steps) != 2 || run.Result != pipeline.ResultSuccess || run.Duration != time.Minute {
		t.Errorf("run = %s, %d steps, %q, %v", run.Name, len(run.Steps), run.Result, run.Duration)
	}
}

const (
	tekton403PR = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pipelineruns.tekton.dev \"train-x7k2p\" is forbidden: User \"system:serviceaccount:ml:default\" cannot get resource \"pipelineruns\" in API group \"tekton.dev\" in the namespace \"ml\"","reason":"Forbidden","details":{"name":"train-x7k2p","group":"tekton.dev","kind":"pipelineruns"},"code":403}`
	tekton403TR = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"taskruns.tekton.dev is forbidden: User \"system:serviceaccount:ml:default\" cannot list resource \"taskruns\" in API group \"tekton.dev\" in the namespace \"ml\"","reason":"Forbidden","details":{"group":"tekton.dev","kind":"taskruns"},"code":403}`
	tekton404PR = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pipelineruns.tekton.dev \"train-x7k2p\" not found","reason":"NotFound","details":{"name":"train-x7k2p","group":"tekton.dev","kind":"pipelineruns"},"code":404}`
)

func TestKubernetesGetPipelineRunErrors(t *testing.T) {
	tests := []struct {
		name           string
		prCode, trCode int
		prBody, trBody string
		is             func(error) bool
		want           []string
	}{
		{
			name: "pipelinerun 403", prCode: 403, prBody: tekton403PR, trCode: 200, trBody: tektonTRListJSON, is: apierrors.IsForbidden,
			want: []string{"get pipelinerun ml/train-x7k2p: forbidden (403)", `verb "get"`, `resource "pipelineruns"`, `API group "tekton.dev"`, `namespace "ml"`,
				"templates/tekton/", `User "system:serviceaccount:ml:default" cannot get`},
		},
		{
			name: "taskruns 403", prCode: 200, prBody: tektonPRJSON, trCode: 403, trBody: tekton403TR, is: apierrors.IsForbidden,
			want: []string{"list taskruns of pipelinerun ml/train-x7k2p: forbidden (403)", `verb "list"`, `resource "taskruns"`, `API group "tekton.dev"`,
				`User "system:serviceaccount:ml:default" cannot list`},
		},
		{
			name: "pipelinerun 404", prCode: 404, prBody: tekton404PR, is: apierrors.IsNotFound,
			want: []string{"not found (404)", "no such pipelinerun", `pipelineruns.tekton.dev "train-x7k2p" not found`},
		},
		{
			name: "401", prCode: 401, prBody: status401, is: apierrors.IsUnauthorized,
			want: []string{"unauthorized (401)", "token"},
		},
		{
			name: "taskruns not a list", prCode: 200, prBody: tektonPRJSON, trCode: 200, trBody: `[1,2]`, is: func(error) bool { return true },
			want: []string{"list taskruns of pipelinerun ml/train-x7k2p: the answer is not a list"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _ := newTektonAPIServer(t, tt.prCode, tt.prBody, tt.trCode, tt.trBody)
			got, err := k.GetPipelineRun(context.Background(), testNamespace, testName)
			if err == nil {
				t.Fatalf("GetPipelineRun = %d bytes, nil error", len(got))
			}
			if got != nil {
				t.Errorf("bytes returned with the error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if !tt.is(err) {
				t.Errorf("error %q lost its *StatusError", err)
			}
		})
	}
}

func TestKubernetesGetPipelineRunTimeout(t *testing.T) {
	ts := newSlowServer(t, newQuietTLSServer)
	k := Kubernetes{Kubeconfig: writeKubeconfig(t, "c", kubeCluster{name: "c", server: ts.URL, token: "t", caData: serverCAPEM(ts)})}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := k.GetPipelineRun(ctx, testNamespace, testName)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "get pipelinerun ml/train-x7k2p: timed out") {
		t.Fatalf("error %v, want a timeout naming the pipelinerun", err)
	}
}

// TestKubernetesGetPipelineRunTooLarge: the PipelineRun and its TaskRuns
// share the one bound, limits.Input(); past it the read fails and names
// the bound, where Do read both answers whole.
func TestKubernetesGetPipelineRunTooLarge(t *testing.T) {
	limit := smallMemory(t)
	// Each answer alone fits; together they do not.
	half := `{"apiVersion":"tekton.dev/v1","kind":"TaskRunList","metadata":{"x":"` + strings.Repeat("x", int(limit/2)) + `"},"items":[]}`
	pr := `{"apiVersion":"tekton.dev/v1","kind":"PipelineRun","metadata":{"name":"train-x7k2p","x":"` + strings.Repeat("x", int(limit/2)+100) + `"}}`
	k, _ := newTektonAPIServer(t, http.StatusOK, pr, http.StatusOK, half)
	got, err := k.GetPipelineRun(context.Background(), testNamespace, testName)
	var tl *TooLargeError
	if !errors.As(err, &tl) || got != nil {
		t.Fatalf("GetPipelineRun of %d bytes in all = %d bytes, %v; want a *TooLargeError", len(pr)+len(half), len(got), err)
	}
	if want := "list taskruns of pipelinerun " + testWorkflow + ": read the answer: larger than 8 MiB, a quarter of the memory limit"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}

	k, _ = newTektonAPIServer(t, http.StatusOK, tektonPRJSON, http.StatusOK, half)
	if _, err := k.GetPipelineRun(context.Background(), testNamespace, testName); err != nil {
		t.Errorf("GetPipelineRun within the bound: %v", err)
	}
}
