package main

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

const (
	pruneCronJob      = "../../templates/prune/cronjob/cronjob.yaml"
	pruneCronWorkflow = "../../templates/prune/cron-workflow/cron-workflow.yaml"
)

// cronWorkflowDoc is the part of the prune CronWorkflow the checks read.
type cronWorkflowDoc struct {
	Spec struct {
		Schedules              []string `json:"schedules"`
		FailedJobsHistoryLimit *int32   `json:"failedJobsHistoryLimit"`
		WorkflowSpec           struct {
			Metrics struct {
				Prometheus []struct {
					Name  string `json:"name"`
					When  string `json:"when"`
					Gauge *struct {
						Value string `json:"value"`
					} `json:"gauge"`
				} `json:"prometheus"`
			} `json:"metrics"`
			Arguments struct {
				Parameters []struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				} `json:"parameters"`
			} `json:"arguments"`
			Templates []struct {
				Name          string `json:"name"`
				RetryStrategy *struct {
					Limit      string `json:"limit"`
					Expression string `json:"expression"`
				} `json:"retryStrategy"`
				Container struct {
					Image   string   `json:"image"`
					Command []string `json:"command"`
					Args    []string `json:"args"`
					Env     []struct {
						Name, Value string
					} `json:"env"`
				} `json:"container"`
			} `json:"templates"`
		} `json:"workflowSpec"`
	} `json:"spec"`
}

// renderCronWorkflow returns the prune container's args and environment
// with the parameters' defaults, as Argo would run them.
func renderCronWorkflow(t *testing.T, override map[string]string) (image string, args []string, env map[string]string) {
	t.Helper()
	var doc cronWorkflowDoc
	readYAML(t, pruneCronWorkflow, &doc)
	params := map[string]string{}
	for _, p := range doc.Spec.WorkflowSpec.Arguments.Parameters {
		params[p.Name] = p.Value
	}
	for k, v := range override {
		params[k] = v
	}
	if len(doc.Spec.WorkflowSpec.Templates) != 1 {
		t.Fatalf("want one template, got %d", len(doc.Spec.WorkflowSpec.Templates))
	}
	c := doc.Spec.WorkflowSpec.Templates[0].Container
	if !reflect.DeepEqual(c.Command, []string{"/step-metrics"}) {
		t.Errorf("command %q", c.Command)
	}
	ref := regexp.MustCompile(`\{\{workflow\.parameters\.([a-z-]+)\}\}`)
	render := func(s string) string {
		out := ref.ReplaceAllStringFunc(s, func(m string) string {
			name := ref.FindStringSubmatch(m)[1]
			v, ok := params[name]
			if !ok {
				t.Errorf("%s: no parameter %s", pruneCronWorkflow, name)
			}
			return v
		})
		if strings.Contains(out, "{{") {
			t.Errorf("unrendered variable in %q", out)
		}
		return out
	}
	for _, a := range c.Args {
		args = append(args, render(a))
	}
	env = map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = render(e.Value)
	}
	return c.Image, args, env
}

// cronJobDoc is the part of the prune CronJob the checks read; readCronJob
// first decodes the file strictly as a batch/v1 CronJob.
type cronJobDoc struct {
	Kind string `json:"kind"`
	Spec struct {
		Schedule               string `json:"schedule"`
		ConcurrencyPolicy      string `json:"concurrencyPolicy"`
		FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit"`
		JobTemplate            struct {
			Spec struct {
				BackoffLimit            *int32 `json:"backoffLimit"`
				TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished"`
				PodFailurePolicy        *struct {
					Rules []struct {
						Action      string `json:"action"`
						OnExitCodes *struct {
							ContainerName string  `json:"containerName"`
							Operator      string  `json:"operator"`
							Values        []int32 `json:"values"`
						} `json:"onExitCodes"`
					} `json:"rules"`
				} `json:"podFailurePolicy"`
				Template struct {
					Spec struct {
						AutomountServiceAccountToken *bool `json:"automountServiceAccountToken"`
						SecurityContext              struct {
							RunAsNonRoot *bool `json:"runAsNonRoot"`
						} `json:"securityContext"`
						Containers []struct {
							Image   string   `json:"image"`
							Command []string `json:"command"`
							Args    []string `json:"args"`
							Env     []struct {
								Name, Value string
							} `json:"env"`
							SecurityContext struct {
								ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
								AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
							} `json:"securityContext"`
						} `json:"containers"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	} `json:"spec"`
}

func readCronJob(t *testing.T) *cronJobDoc {
	t.Helper()
	b, err := os.ReadFile(pruneCronJob)
	if err != nil {
		t.Fatal(err)
	}
	// Kubernetes' own types, strictly: an unknown or misspelt field fails.
	strict := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	if _, gvk, err := strict.Decode(b, nil, nil); err != nil || gvk.Kind != "CronJob" || gvk.Version != "v1" {
		t.Fatalf("%s is not a valid batch/v1 CronJob (%v): %v", pruneCronJob, gvk, err)
	}
	var cj cronJobDoc
	readYAML(t, pruneCronJob, &cj)
	return &cj
}

// TestPruneTemplates: the CronJob decodes strictly as a batch/v1 CronJob,
// runs without a service account token as non-root, and both templates'
// arguments are accepted by prune with the same defaults.
func TestPruneTemplates(t *testing.T) {
	cj := readCronJob(t)
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if cj.Spec.Schedule == "" || cj.Spec.ConcurrencyPolicy != "Forbid" {
		t.Errorf("schedule %q, concurrency %q", cj.Spec.Schedule, cj.Spec.ConcurrencyPolicy)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the prune pod needs no Kubernetes API: automountServiceAccountToken must be false")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("the CronJob's pod must run as non-root, read-only, without privilege escalation")
	}
	jobEnv := map[string]string{}
	for _, e := range c.Env {
		jobEnv[e.Name] = e.Value
	}

	wfImage, wfArgs, wfEnv := renderCronWorkflow(t, nil)
	if wfImage != c.Image {
		t.Errorf("images differ: CronWorkflow %s, CronJob %s", wfImage, c.Image)
	}
	parse := func(name string, args []string, env map[string]string) pruneOptions {
		t.Helper()
		if len(args) == 0 || args[0] != "prune" {
			t.Fatalf("%s: args %q do not run prune", name, args)
		}
		for k, v := range env {
			t.Setenv(k, v)
		}
		var o pruneOptions
		fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
		o.addFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := applyEnv(fs, pruneEnv); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k := range env {
			if fs.Lookup(strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "STEP_METRICS_"), "_", "-"))) == nil {
				t.Errorf("%s: environment variable %s belongs to no flag", name, k)
			}
		}
		if err := o.validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return o
	}
	job := parse("CronJob", c.Args, jobEnv)
	wf := parse("CronWorkflow", wfArgs, wfEnv)
	if job.pushgateway.String() != wf.pushgateway.String() || job.job != wf.job || job.maxAge != wf.maxAge || job.maxAgeUnfinished != wf.maxAgeUnfinished || job.concurrency != wf.concurrency {
		t.Errorf("defaults differ:\nCronJob      %+v\nCronWorkflow %+v", job, wf)
	}
	if job.dryRun || wf.dryRun {
		t.Error("the templates must prune for real by default")
	}
	if !job.strict || !wf.strict {
		t.Error("the templates must be strict by default: a prune that fails must fail its Job or workflow")
	}
}

// TestPruneTemplatesSurfaceFailures: a failed prune (exit 1) is retried,
// then fails its Job or workflow and stays visible; a usage error (exit 2)
// is not retried.
func TestPruneTemplatesSurfaceFailures(t *testing.T) {
	cj := readCronJob(t)
	js := cj.Spec.JobTemplate.Spec
	if cj.Spec.FailedJobsHistoryLimit == nil || *cj.Spec.FailedJobsHistoryLimit < 1 {
		t.Error("CronJob: failedJobsHistoryLimit must keep failed Jobs (and their pods' logs)")
	}
	if js.BackoffLimit == nil || *js.BackoffLimit < 1 {
		t.Error("CronJob: backoffLimit must retry a failed prune")
	}
	if js.TTLSecondsAfterFinished != nil {
		t.Error("CronJob: ttlSecondsAfterFinished would delete the failed Job before anyone sees it")
	}
	usageFails := false
	if pfp := js.PodFailurePolicy; pfp != nil {
		for _, r := range pfp.Rules {
			if c := r.OnExitCodes; r.Action == "FailJob" && c != nil && c.ContainerName == "prune" && c.Operator == "In" && reflect.DeepEqual(c.Values, []int32{exitUsage}) {
				usageFails = true
			}
		}
	}
	if !usageFails {
		t.Errorf("CronJob: podFailurePolicy must fail the Job at once on a usage error (exit %d)", exitUsage)
	}

	var wf cronWorkflowDoc
	readYAML(t, pruneCronWorkflow, &wf)
	if l := wf.Spec.FailedJobsHistoryLimit; l == nil || *l < 1 {
		t.Error("CronWorkflow: failedJobsHistoryLimit must keep failed workflows")
	}
	rs := wf.Spec.WorkflowSpec.Templates[0].RetryStrategy
	if rs == nil || rs.Limit == "" || rs.Expression != fmt.Sprintf("asInt(lastRetry.exitCode) == %d", exitFailed) {
		t.Errorf("CronWorkflow: retryStrategy %+v: want a limit and a retry of exit %d only", rs, exitFailed)
	}
	gauges := map[string]string{}
	for _, m := range wf.Spec.WorkflowSpec.Metrics.Prometheus {
		if m.Name == "step_metrics_prune_failed" && m.Gauge != nil {
			gauges[m.When] = m.Gauge.Value
		}
	}
	if want := map[string]string{"{{workflow.status}} != Succeeded": "1", "{{workflow.status}} == Succeeded": "0"}; !reflect.DeepEqual(gauges, want) {
		t.Errorf("CronWorkflow: gauge step_metrics_prune_failed by condition %v, want %v", gauges, want)
	}
}

// TestPruneTemplatesRun runs both templates' rendered arguments against a
// real Pushgateway: the CronWorkflow's as a dry run, the CronJob's for real.
func TestPruneTemplatesRun(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	seed(t, pg, []seedGroup{{job: "step-metrics", namespace: "ml", id: "recent"}, {job: "step-metrics", namespace: "prod", id: "recent"}})

	_, args, env := renderCronWorkflow(t, map[string]string{"pushgateway-url": pg.URL, "dry-run": "true", "selectors": "namespace=ml\n"})
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	r := runCLI(t, nil, envList, args...)
	r.want(t, 0)
	wantSummary(t, summary(t, r.stderr), map[string]int{"listed": 2, "matched": 1, "would_delete": 0, "kept": 1})

	cj := readCronJob(t)
	args = nil
	for _, a := range cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--pushgateway=") {
			a = "--pushgateway=" + pg.URL
		}
		args = append(args, a)
	}
	r = runCLI(t, nil, nil, args...)
	r.want(t, 0)
	wantSummary(t, summary(t, r.stderr), map[string]int{"listed": 2, "matched": 2, "deleted": 0, "failed": 0, "kept": 2})
}
