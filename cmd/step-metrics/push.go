package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	dto "github.com/prometheus/client_model/go"
	"github.com/spf13/pflag"

	"github.com/step-metrics/step-metrics/internal/example"
	"github.com/step-metrics/step-metrics/pkg/custom"
	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/engine/argo"
	"github.com/step-metrics/step-metrics/pkg/engine/tekton"
	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/metrics"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
	"github.com/step-metrics/step-metrics/pkg/schema"
	"github.com/step-metrics/step-metrics/pkg/sink"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"
	"github.com/step-metrics/step-metrics/pkg/source"
)

// pushOptions are the flags of `step-metrics push`.
type pushOptions struct {
	// Where the run comes from.
	example       bool
	workflowFile  string
	workflowName  string
	namespace     string
	workflowUID   string
	status        string
	kubeconfig    string
	kubeContext   string
	argoServer    string
	argoTokenFile string
	argoCAFile    string
	argoInsecure  bool
	pipelineRun   string
	taskRun       string

	// What is pushed.
	steps              string
	labels             []string
	labelsFromWorkflow []string
	job                string

	// Where it goes.
	pushgateway pushgatewayURL
	dryRun      bool
	timeout     time.Duration
	retries     int
	strict      bool
	client      clientFlags

	logging logFlags

	// What validate parsed.
	stepMode     schema.StepMode
	staticLabels []schema.Label
}

var pushEnv = envRules{
	aliases: map[string][]string{
		"pushgateway": {"PUSHGATEWAY_URL"},
		"kubeconfig":  {"KUBECONFIG"},
	},
	// The run's source: the command line's wins over the environment's.
	exclusive: []string{"example", "workflow-file", "workflow", "pipeline-run"},
}

func (o *pushOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.example, "example", false, "read the bundled example run (an ML pipeline during its exit handler) instead of a real one")
	fs.StringVarP(&o.workflowFile, "workflow-file", "f", "", "read the Workflow from this YAML or JSON file (\"-\" for stdin) instead of the Kubernetes API")
	fs.StringVarP(&o.workflowName, "workflow", "w", "", "name of the Workflow to read from the Kubernetes API or Argo Server ({{workflow.name}})")
	fs.StringVarP(&o.namespace, "namespace", "n", "", "namespace of the Workflow ({{workflow.namespace}}); also a grouping label")
	fs.StringVar(&o.workflowUID, "workflow-uid", "", "UID of the Workflow ({{workflow.uid}}); the group's workflow_id, defaults to the object's UID")
	fs.StringVar(&o.status, "status", "", "pipeline outcome as Argo passes it to exit handlers ({{workflow.status}}: Succeeded, Failed, Error) or Tekton to finally tasks ($(tasks.status): Succeeded, Failed, Completed, None); default: from the status")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; default: in-cluster config, then ~/.kube/config")
	fs.StringVar(&o.kubeContext, "context", "", "kubeconfig context")
	fs.StringVar(&o.argoServer, "argo-server", "", "read the Workflow from this Argo Server URL (for offloaded node status) instead of the Kubernetes API")
	fs.StringVar(&o.argoTokenFile, "argo-token-file", "", "file holding the Argo Server bearer token")
	fs.StringVar(&o.argoCAFile, "argo-ca-file", "", "PEM CA bundle for Argo Server's certificate")
	fs.BoolVar(&o.argoInsecure, "argo-insecure-skip-verify", false, "do not check Argo Server's certificate")
	fs.StringVar(&o.pipelineRun, "pipeline-run", "", "name of the Tekton PipelineRun to read, with its TaskRuns, from the Kubernetes API ($(context.pipelineRun.name))")
	fs.StringVar(&o.taskRun, "task-run", "", "Tekton TaskRun to leave out of the metrics: step-metrics' own finally task ($(context.taskRun.name))")

	fs.StringVar(&o.steps, "steps", "node", "step series: node (one per step attempt), template (count/sum/max per template, for big fan-outs) or none")
	fs.StringArrayVarP(&o.labels, "label", "l", nil, "extra label name=value on every series (repeatable)")
	fs.StringSliceVar(&o.labelsFromWorkflow, "label-from-workflow", nil, "workflow label or annotation keys to copy onto every series, comma-separated (e.g. team,app.kubernetes.io/part-of)")
	fs.StringVar(&o.job, "job", "step-metrics", "job label of the Pushgateway group")

	fs.Var(&o.pushgateway, "pushgateway", "Pushgateway base URL, e.g. http://pushgateway.monitoring:9091")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the metrics in the text format instead of pushing")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "deadline for reading the workflow and for the push, each, retries included")
	fs.IntVar(&o.retries, "retries", 4, "retries after a failed push attempt (network errors and 5xx; 4xx is final)")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when the workflow cannot be read or the push fails (default: warn and exit 0 so metrics never fail a pipeline)")
	o.client.addFlags(fs)

	o.logging.addFlags(fs)
}

// validate checks the flags that need no I/O.
func (o *pushOptions) validate() error {
	sources := 0
	for _, set := range []bool{o.example, o.workflowFile != "", o.workflowName != "", o.pipelineRun != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		return errors.New("say which run: --workflow-file FILE, --workflow NAME --namespace NS, --pipeline-run NAME --namespace NS, or --example")
	case sources > 1:
		return errors.New("--example, --workflow-file, --workflow and --pipeline-run exclude each other")
	case o.workflowName != "" && o.namespace == "":
		return errors.New("--workflow needs --namespace")
	case o.pipelineRun != "" && o.namespace == "":
		return errors.New("--pipeline-run needs --namespace")
	case o.pipelineRun != "" && o.argoServer != "":
		return errors.New("--argo-server reads Argo Workflows; --pipeline-run reads from the Kubernetes API")
	case o.taskRun != "" && (o.example || o.workflowName != ""):
		return errors.New("--task-run is for Tekton runs (--pipeline-run, or a Tekton --workflow-file)")
	}
	switch wfv1.NodePhase(o.status) {
	case wfv1.NodeSucceeded, wfv1.NodeFailed, wfv1.NodeError:
	case "", wfv1.NodeRunning, wfv1.NodePending, tektonStatusNone:
		// Not an outcome: {{workflow.status}} outside an exit handler (a
		// step-level hook, a plain step), or Tekton's None. The status
		// decides.
		o.status = ""
	case tektonStatusCompleted:
	default:
		return fmt.Errorf("--status %q: want Succeeded, Failed or Error (Running and Pending mean: from the status), or Tekton's Succeeded, Failed, Completed or None", o.status)
	}
	if err := o.checkStatus(o.pipelineRun != "", o.pipelineRun != "" || o.example || o.workflowName != ""); err != nil {
		return err
	}
	mode, err := schema.ParseStepMode(o.steps)
	if err != nil {
		return fmt.Errorf("--steps: %w", err)
	}
	o.stepMode = mode
	o.staticLabels = o.staticLabels[:0]
	for _, l := range o.labels {
		name, value, err := schema.ParseLabel(l)
		if err != nil {
			return fmt.Errorf("--label: %w", err)
		}
		o.staticLabels = append(o.staticLabels, schema.Label{Name: name, Value: value})
	}
	if o.job == "" {
		return errors.New("--job is empty")
	}
	if !o.dryRun {
		if !o.pushgateway.given() {
			return errors.New("no Pushgateway: give --pushgateway URL (or $PUSHGATEWAY_URL), or --dry-run")
		}
		if err := o.pushgateway.check(); err != nil {
			return err
		}
	}
	if o.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	if o.retries < 0 || o.retries > 20 {
		return errors.New("--retries must be between 0 and 20")
	}
	return o.client.validate()
}

func runPush(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o pushOptions
	fs := pflag.NewFlagSet("step-metrics push", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	o.addFlags(fs)
	annotateEnv(fs, pushEnv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: step-metrics push [flags]\n\nReads a pipeline run and pushes its metrics to a Pushgateway, one group per run.\nEvery flag falls back to the environment variable in brackets.\n\nFlags:\n%s", fs.FlagUsages())
	}
	if code, ok := parseFlags("push", fs, args, pushEnv, o.validate, stderr); !ok {
		return code
	}
	log := o.logging.newLogger(stderr)
	log.Debug("starting", "version", version)
	return o.run(ctx, log, stdin, stdout)
}

// failSafe logs err and returns the exit code: 0 unless --strict.
func (o *pushOptions) failSafe(log *slog.Logger, msg string, err error) int {
	if o.strict {
		log.Error(msg, "err", err)
		return exitFailed
	}
	log.Warn(msg+"; exiting 0 so the pipeline is not failed by its metrics (use --strict to fail)", "err", err)
	return exitOK
}

func (o *pushOptions) run(ctx context.Context, log *slog.Logger, stdin io.Reader, stdout io.Writer) int {
	run, code, readErr := o.readRun(ctx, log, stdin)
	if run == nil {
		return code
	}
	for _, w := range run.Warnings {
		log.Warn(w, "workflow", run.Name)
	}

	labels, err := o.seriesLabels(run)
	if err != nil {
		log.Error("bad labels", "err", err)
		return exitUsage
	}
	mopts := metrics.Options{Steps: o.stepMode, Labels: labels}
	fams, err := metrics.Families(run, mopts)
	if err != nil {
		log.Error("cannot build metrics", "err", err)
		return exitUsage
	}
	// What the steps published about themselves (untrusted text).
	customFams, warnings := metrics.CustomFamilies(run, mopts, custom.DefaultLimits)
	for _, w := range warnings {
		log.Warn(w, "workflow", run.Name)
	}
	fams = append(fams, customFams...)
	key := o.groupingKey(log, run)
	if o.dryRun {
		log.Info("dry run: not pushing", "version", version, "group", key.String(), "series", seriesCount(fams))
		if err := metrics.WriteText(stdout, fams); err != nil {
			log.Error("cannot write metrics", "err", err)
			return exitFailed
		}
		if readErr != nil && o.strict {
			return exitFailed
		}
		return exitOK
	}

	client, err := httpclient.New(o.client.config())
	if err != nil {
		// A CA or token file that is not mounted: the pipeline still must
		// not fail for its metrics.
		return o.failSafe(log, "cannot set up the Pushgateway client", err)
	}
	pctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	start := time.Now()
	var out sink.Sink = pushgateway.New(o.pushgateway.String(), client, retryOf(o.retries))
	if err := out.Write(pctx, key, fams); err != nil {
		return o.failSafe(log, "metrics not pushed", withHint(err))
	}
	if readErr != nil && o.strict {
		log.Error("pushed pipeline-level metrics only; exiting 1 (--strict) because the workflow could not be read", "err", readErr)
		return exitFailed
	}
	log.Info("pushed", "version", version, "pushgateway", o.pushgateway.redacted(), "group", key.String(),
		"workflow", run.Name, "result", string(run.Result), "steps", len(run.Steps), "series", seriesCount(fams),
		"took", time.Since(start).Round(time.Millisecond).String())
	return exitOK
}

// readRun reads and decodes the run with its engine: Tekton for
// --pipeline-run or a file of Tekton objects, Argo otherwise. When the
// run cannot be read from an API (no permission, API down), it falls back
// to what the arguments say (name, namespace, uid, status), so the run's
// outcome is still pushed, and returns the read error. A nil run means:
// exit with code.
func (o *pushOptions) readRun(ctx context.Context, log *slog.Logger, stdin io.Reader) (*pipeline.Run, int, error) {
	data, fromFile, err := o.read(ctx, stdin)
	var eng engine.Engine = argo.Engine{}
	if o.pipelineRun != "" || (err == nil && fromFile && (tekton.Engine{}).Detect(data)) {
		eng = tekton.Engine{}
	}
	what, name := "workflow", o.workflowName
	if eng.Name() == tekton.Name {
		what, name = "pipeline run", o.pipelineRun
	}
	if err == nil {
		if serr := o.checkStatus(eng.Name() == tekton.Name, true); serr != nil {
			log.Error("bad flags", "err", serr)
			return nil, exitUsage, serr
		}
		var run *pipeline.Run
		var warnings []string
		run, warnings, err = eng.Read(data, engine.Options{Status: o.status, Self: o.taskRun})
		if err == nil {
			for _, w := range warnings {
				log.Warn(w)
			}
			return run, exitOK, nil
		}
	}
	if fromFile {
		log.Error("cannot read the "+what, "err", err)
		return nil, exitBadInput, err
	}
	level := slog.LevelWarn
	if o.strict {
		level = slog.LevelError
	}
	log.Log(ctx, level, "cannot read the "+what+"; pushing its outcome from the arguments only", "err", err)
	return eng.FromArguments(name, o.namespace, o.workflowUID, o.status), exitOK, err
}

// read returns the workflow bytes; fromFile says whether a failure is the
// user's input (a file) rather than an outage (an API).
func (o *pushOptions) read(ctx context.Context, stdin io.Reader) ([]byte, bool, error) {
	switch {
	case o.example:
		return example.Workflow, true, nil
	case o.workflowFile != "":
		b, err := source.ReadFile(o.workflowFile, stdin)
		return b, true, err
	}
	rctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if o.pipelineRun != "" {
		b, err := source.Kubernetes{Kubeconfig: o.kubeconfig, Context: o.kubeContext}.GetPipelineRun(rctx, o.namespace, o.pipelineRun)
		return b, false, err
	}
	if o.argoServer != "" {
		b, err := source.ArgoServer{URL: o.argoServer, TokenFile: o.argoTokenFile, CAFile: o.argoCAFile, InsecureSkipVerify: o.argoInsecure}.
			GetWorkflow(rctx, o.namespace, o.workflowName)
		return b, false, err
	}
	b, err := source.Kubernetes{Kubeconfig: o.kubeconfig, Context: o.kubeContext}.GetWorkflow(rctx, o.namespace, o.workflowName)
	return b, false, err
}

func (o *pushOptions) seriesLabels(run *pipeline.Run) (map[string]string, error) {
	out, err := schema.WorkflowLabels(o.labelsFromWorkflow, run.Labels, run.Annotations)
	if err != nil {
		return nil, fmt.Errorf("--label-from-workflow: %w", err)
	}
	for _, l := range o.staticLabels {
		out[l.Name] = l.Value // static labels win over copies
	}
	return out, nil
}

// groupingKey is the run's group: job, namespace, workflow_id.
func (o *pushOptions) groupingKey(log *slog.Logger, run *pipeline.Run) schema.GroupingKey {
	ns := o.namespace
	if ns == "" {
		ns = run.Namespace
	}
	id := o.workflowUID
	if id == "" {
		id = run.UID
	} else if run.UID != "" && run.UID != id {
		log.Warn("--workflow-uid differs from the object's UID (workflow re-created?); grouping by --workflow-uid", "flag", id, "object", run.UID)
	}
	if id == "" {
		id = run.Name
		log.Warn("the workflow has no UID; grouping by its name, so a later run of the same name replaces this group", "workflow", run.Name)
	}
	return schema.RunKey(o.job, ns, id)
}

// retryOf is the retry policy of --retries.
func retryOf(retries int) pushgateway.Retry {
	r := pushgateway.DefaultRetry
	r.MaxAttempts = retries + 1
	return r
}

func seriesCount(fams []*dto.MetricFamily) int {
	n := 0
	for _, f := range fams {
		n += len(f.GetMetric())
	}
	return n
}
