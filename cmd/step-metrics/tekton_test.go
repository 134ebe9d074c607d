package main

// Tekton through the CLI: files (auto-detected), the Kubernetes API
// (--pipeline-run, against a fake apiserver), the fallback when it cannot
// be read, and the flags' checks. The real binary, as in e2e_test.go.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

const (
	tektonFixture = "../../testdata/tekton/generated/ml-pipeline-in-finally.yaml"
	tektonSelf    = "ml-pipeline-run-x7k2p-step-metrics"
	tektonRunName = "ml-pipeline-run-x7k2p"
	tektonUID     = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
)

// tektonItems returns the fixture's List items as JSON objects.
func tektonItems(t *testing.T) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(tektonFixture)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := yaml.Unmarshal(b, &list); err != nil || len(list.Items) < 3 {
		t.Fatalf("fixture list: %v (%d items)", err, len(list.Items))
	}
	return list.Items
}

// seriesWith returns the samples of name whose labels include want.
func seriesWith(fams map[string]float64, name string, want map[string]string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range fams {
		if !strings.HasPrefix(k, name+"{") {
			continue
		}
		ok := true
		for l, lv := range want {
			if !strings.Contains(k, l+"="+lv+",") && !strings.HasSuffix(k, l+"="+lv+"}") {
				ok = false
			}
		}
		if ok {
			out[k] = v
		}
	}
	return out
}

func TestTektonFromFile(t *testing.T) {
	r := runCLI(t, nil, nil, "push", "-f", tektonFixture, "--task-run", tektonSelf, "--dry-run")
	r.want(t, 0)
	s := allSeries(parseText(t, r.stdout))
	for _, c := range []struct {
		name string
		want map[string]string
		v    float64
	}{
		{"pipeline_run_result", map[string]string{"engine": "tekton", "pipeline": "ml-pipeline", "workflow": tektonRunName, "result": "success", "phase": "Completed"}, 1},
		{"pipeline_run_duration_seconds", map[string]string{"engine": "tekton"}, 1620},
		{"pipeline_run_retries", map[string]string{"engine": "tekton"}, 1},
		{"pipeline_step_retries", map[string]string{"step": "train", "template": "train-model"}, 1},
		{"pipeline_step_result", map[string]string{"step": "register-model", "result": "skip"}, 1},
		{"pipeline_step_duration_seconds", map[string]string{"step": "preprocess/transform", "template": "preprocess"}, 98},
		{"pipeline_custom_accuracy", map[string]string{"step": "evaluate", "engine": "tekton"}, 0.931},
		{"pipeline_custom_train_seconds", map[string]string{"step": "train", "attempt": "1"}, 880},
	} {
		got := seriesWith(s, c.name, c.want)
		if len(got) != 1 {
			t.Errorf("%s%v: %d series, want 1", c.name, c.want, len(got))
			continue
		}
		for _, v := range got {
			if v != c.v {
				t.Errorf("%s%v = %v, want %v", c.name, c.want, v, c.v)
			}
		}
	}
	if got := seriesWith(s, "pipeline_step_result", map[string]string{"node_id": tektonSelf}); len(got) != 0 {
		t.Errorf("our own TaskRun is in the metrics: %v", got)
	}

	// The same from stdin, as JSON, and the flags from the environment;
	// --status Completed is $(tasks.status).
	items := tektonItems(t)
	list, _ := json.Marshal(map[string]any{"kind": "List", "apiVersion": "v1", "items": items})
	r2 := runCLI(t, list, []string{"STEP_METRICS_TASK_RUN=" + tektonSelf, "STEP_METRICS_STATUS=Completed"}, "push", "-f", "-", "--dry-run")
	r2.want(t, 0)
	if r2.stdout != r.stdout {
		t.Errorf("stdin JSON gives other metrics than the YAML file:\n%s\nvs\n%s", r2.stdout, r.stdout)
	}
}

// TestTektonPromtool: every Tekton input in every step mode gives an
// exposition promtool accepts.
func TestTektonPromtool(t *testing.T) {
	promtool := testenv.NeedBinary(t, func() (string, error) { return exec.LookPath("promtool") })
	files, _ := filepath.Glob("../../testdata/tekton/generated/*.yaml")
	for _, f := range append(files, "../../testdata/tekton/01-pipelinerun-succeeded-childrefs.yaml", "../../testdata/tekton/06-docs-pipelinerun-succeeded.yaml") {
		for _, mode := range []string{"node", "template", "none"} {
			r := runCLI(t, nil, nil, "push", "-f", f, "--dry-run", "--steps", mode, "--label-from-workflow", "team")
			r.want(t, 0)
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = strings.NewReader(r.stdout)
			if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
				t.Errorf("%s --steps %s: promtool check metrics: %v\n%s", filepath.Base(f), mode, err, out)
			}
		}
	}
}

// newTektonAPIServer is a kube-apiserver that serves the fixture's
// PipelineRun and TaskRuns (or refuses them with code), and a kubeconfig
// for it.
func newTektonAPIServer(t *testing.T, code int) (kubeconfig string, hits *atomic.Int32) {
	t.Helper()
	items := tektonItems(t)
	hits = new(atomic.Int32)
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if code != http.StatusOK {
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pipelineruns.tekton.dev %q is forbidden: User \"system:serviceaccount:ml:default\" cannot get resource \"pipelineruns\" in API group \"tekton.dev\" in the namespace \"ml\"","reason":"Forbidden","code":%d}`, tektonRunName, code)
			return
		}
		switch {
		case r.URL.Path == "/apis/tekton.dev/v1/namespaces/ml/pipelineruns/"+tektonRunName:
			_, _ = w.Write(items[0])
		case r.URL.Path == "/apis/tekton.dev/v1/namespaces/ml/taskruns" && r.URL.Query().Get("labelSelector") == "tekton.dev/pipelineRun="+tektonRunName:
			b, _ := json.Marshal(map[string]any{"kind": "TaskRunList", "apiVersion": "tekton.dev/v1", "items": items[1:]})
			_, _ = w.Write(b)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
		}
	}))
	t.Cleanup(ts.Close)
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, ts.URL)
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig, hits
}

// TestTektonFinallyPush is the finally task's call, as templates/tekton
// renders it, against a fake apiserver and a real Pushgateway.
func TestTektonFinallyPush(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	kubeconfig, hits := newTektonAPIServer(t, http.StatusOK)
	r := runCLI(t, nil, nil, "push", "--pipeline-run", tektonRunName, "--namespace", "ml", "--workflow-uid", tektonUID,
		"--task-run", tektonSelf, "--status", "Completed", "--kubeconfig", kubeconfig, "--pushgateway", pg.URL)
	r.want(t, 0)
	if n := hits.Load(); n != 2 {
		t.Errorf("apiserver saw %d requests, want 2 (the PipelineRun, its TaskRuns)", n)
	}
	group := groupSeries(pg.Scrape(t), "ml", tektonUID)
	want := map[string]float64{
		`pipeline_run_result{engine=tekton,phase=Completed,pipeline=ml-pipeline,result=success,workflow=ml-pipeline-run-x7k2p}`: 1,
		`pipeline_run_duration_seconds{engine=tekton,pipeline=ml-pipeline,workflow=ml-pipeline-run-x7k2p}`:                      1620,
		`pipeline_run_steps_unfinished{engine=tekton,pipeline=ml-pipeline,workflow=ml-pipeline-run-x7k2p}`:                      2,
	}
	for k, v := range want {
		if got, ok := group[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if len(group) < 50 {
		t.Errorf("group holds %d series", len(group))
	}
}

// TestTektonUnreadableStillPushesOutcome: without the right to read the
// PipelineRun, the outcome $(tasks.status) gives is still pushed, with the
// 403 explained; exit 0, 1 with --strict.
func TestTektonUnreadableStillPushesOutcome(t *testing.T) {
	kubeconfig, _ := newTektonAPIServer(t, http.StatusForbidden)
	args := []string{"push", "--pipeline-run", tektonRunName, "--namespace", "ml", "--workflow-uid", "uid-1",
		"--status", "Failed", "--task-run", tektonSelf, "--kubeconfig", kubeconfig, "--dry-run", "--timeout", "5s"}
	r := runCLI(t, nil, nil, args...)
	r.want(t, 0)
	for _, w := range []string{"cannot read the pipeline run", `verb \"get\" on resource \"pipelineruns\" in API group \"tekton.dev\"`} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	s := allSeries(parseText(t, r.stdout))
	if got := seriesWith(s, "pipeline_run_result", map[string]string{"engine": "tekton", "result": "failure", "pipeline": "ml-pipeline-run", "workflow": tektonRunName}); len(got) != 1 {
		t.Errorf("outcome from the arguments: %v\n%s", got, r.stdout)
	}
	if strings.Contains(r.stdout, "pipeline_run_duration_seconds") || strings.Contains(r.stdout, "pipeline_step_") {
		t.Error("durations or steps without the run's status")
	}
	runCLI(t, nil, nil, append(args, "--strict")...).want(t, 1)
}

func TestTektonUsage(t *testing.T) {
	argoFile := "../../testdata/argo/04-dag-xfail.yaml"
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"pipeline-run without namespace", []string{"push", "--pipeline-run", "r", "--dry-run"}, 2, "--pipeline-run needs --namespace"},
		{"pipeline-run and workflow", []string{"push", "--pipeline-run", "r", "--workflow", "w", "-n", "ml", "--dry-run"}, 2, "exclude each other"},
		{"pipeline-run and argo server", []string{"push", "--pipeline-run", "r", "-n", "ml", "--argo-server", "https://a", "--dry-run"}, 2, "--argo-server"},
		{"task-run with an Argo workflow", []string{"push", "--example", "--task-run", "t", "--dry-run"}, 2, "--task-run is for Tekton"},
		{"Error for Tekton", []string{"push", "--pipeline-run", "r", "-n", "ml", "--status", "Error", "--dry-run"}, 2, "--status Error is Argo's"},
		{"Completed for Argo", []string{"push", "--example", "--status", "Completed", "--dry-run"}, 2, "--status Completed is Tekton's"},
		{"Completed for an Argo file", []string{"push", "-f", argoFile, "--status", "Completed", "--dry-run"}, 2, "--status Completed is Tekton's"},
		{"Error for a Tekton file", []string{"push", "-f", tektonFixture, "--status", "Error", "--dry-run"}, 2, "--status Error is Argo's"},
		{"unknown status", []string{"push", "-f", tektonFixture, "--status", "Done", "--dry-run"}, 2, "Tekton's Succeeded, Failed, Completed or None"},
		{"None is no outcome", []string{"push", "-f", tektonFixture, "--status", "None", "--task-run", tektonSelf, "--dry-run"}, 0, `phase="Completed"`},
		{"Failed wins over the TaskRuns", []string{"push", "-f", tektonFixture, "--status", "Failed", "--dry-run"}, 0, `phase="Failed",pipeline="ml-pipeline",result="failure"`},
		{"TaskRuns without their PipelineRun", []string{"push", "-f", "../../testdata/tekton/03-taskruns-status-only-for-02.yaml", "--dry-run"}, 3, "no PipelineRun in the input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, nil, nil, c.args...)
			r.want(t, c.code)
			if !strings.Contains(r.stdout+r.stderr, c.want) {
				t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", c.want, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "panic") {
				t.Errorf("panic:\n%s", r.stderr)
			}
		})
	}
}
