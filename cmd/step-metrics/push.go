package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
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
	maxSeries          int

	// Where it goes.
	pushgateway pushgatewayURL
	dryRun      bool
	timeout     time.Duration
	retries     int
	strict      bool
	hook        bool
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
	fs.IntVar(&o.maxSeries, "max-series", defaultMaxSeries, "series budget of the run, custom metrics apart: above it, step series fall back to template aggregates (then none) with a warning and pipeline_run_series_limited; 0: no budget")

	fs.Var(&o.pushgateway, "pushgateway", "Pushgateway base URL, e.g. http://pushgateway.monitoring:9091")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the metrics in the text format instead of pushing")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "one deadline for the whole process: reading the workflow and computing the metrics (at most 3/4 of it, so the push keeps the rest), then the push with its retries")
	fs.IntVar(&o.retries, "retries", 4, "retries after a failed push attempt (network errors and 5xx; 4xx is final)")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when the workflow cannot be read or the push fails, and exit 2 on a bad flag with --hook (default: warn and exit 0 so metrics never fail a pipeline)")
	fs.BoolVar(&o.hook, "hook", false, "running as a pipeline's exit handler or finally task (the templates set it): a bad or unknown flag is warned about and its default used, instead of exit 2, unless --strict")
	o.client.addFlags(fs)

	o.logging.addFlags(fs)
}

// defaultMaxSeries is --max-series' default: 10,000 series keep a run's
// group near 20 MiB in the Pushgateway (about 2 KiB a series: 360k series
// of one 50,000-node run took ~750 MiB) and its scrape small, yet hold
// node mode for runs of up to ~2,500 steps (about four series a step);
// wider runs fall back to template aggregates, a few series per template.
const defaultMaxSeries = 10000

// validate checks the flags that need no I/O: the first problem found.
func (o *pushOptions) validate() error {
	if ps := o.check(); len(ps) > 0 {
		return ps[0].err
	}
	return nil
}

// flagProblem is one thing check finds wrong with the flags, and how an
// exit handler (--hook) repairs it: flag is reset to its default, or fix
// drops the bad items of a repeatable flag. Neither: nothing can stand in
// (no run named, no Pushgateway).
type flagProblem struct {
	err  error
	flag string
	fix  func()
}

// check returns what is wrong with the flags, in the order validate
// reports it, and sets what they parse to (stepMode, staticLabels, status).
func (o *pushOptions) check() []flagProblem {
	var ps []flagProblem
	add := func(flag string, err error) { ps = append(ps, flagProblem{err: err, flag: flag}) }
	sources := 0
	for _, set := range []bool{o.example, o.workflowFile != "", o.workflowName != "", o.pipelineRun != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		add("", errors.New("say which run: --workflow-file FILE, --workflow NAME --namespace NS, --pipeline-run NAME --namespace NS, or --example"))
	case sources > 1:
		add("", errors.New("--example, --workflow-file, --workflow and --pipeline-run exclude each other"))
	case o.workflowName != "" && o.namespace == "":
		add("", errors.New("--workflow needs --namespace"))
	case o.pipelineRun != "" && o.namespace == "":
		add("", errors.New("--pipeline-run needs --namespace"))
	case o.pipelineRun != "" && o.argoServer != "":
		add("argo-server", errors.New("--argo-server reads Argo Workflows; --pipeline-run reads from the Kubernetes API"))
	case o.taskRun != "" && (o.example || o.workflowName != ""):
		add("task-run", errors.New("--task-run is for Tekton runs (--pipeline-run, or a Tekton --workflow-file)"))
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
		add("status", fmt.Errorf("--status %q: want Succeeded, Failed or Error (Running and Pending mean: from the status), or Tekton's Succeeded, Failed, Completed or None", o.status))
	}
	if err := o.checkStatus(o.pipelineRun != "", o.pipelineRun != "" || o.example || o.workflowName != ""); err != nil {
		add("status", err)
	}
	if mode, err := schema.ParseStepMode(o.steps); err != nil {
		add("steps", fmt.Errorf("--steps: %w", err))
	} else {
		o.stepMode = mode
	}
	o.staticLabels = o.staticLabels[:0]
	var badLabels []int
	var labelErr error
	for i, l := range o.labels {
		name, value, err := schema.ParseLabel(l)
		if err == nil {
			err = metrics.CheckUserLabelName(name)
		}
		if err != nil {
			if labelErr == nil {
				labelErr = fmt.Errorf("--label: %w", err)
			}
			badLabels = append(badLabels, i)
			continue
		}
		o.staticLabels = append(o.staticLabels, schema.Label{Name: name, Value: value})
	}
	if labelErr != nil {
		ps = append(ps, flagProblem{err: labelErr, fix: func() { o.labels = dropIndexes(o.labels, badLabels) }})
	}
	if keep, err := checkWorkflowLabelKeys(o.labelsFromWorkflow); err != nil {
		ps = append(ps, flagProblem{err: fmt.Errorf("--label-from-workflow: %w", err), fix: func() { o.labelsFromWorkflow = keep }})
	}
	if o.job == "" {
		add("job", errors.New("--job is empty"))
	}
	if o.maxSeries < 0 {
		add("max-series", errors.New("--max-series must be 0 (no budget) or more"))
	}
	if !o.dryRun {
		if !o.pushgateway.given() {
			add("", errors.New("no Pushgateway: give --pushgateway URL (or $PUSHGATEWAY_URL), or --dry-run"))
		} else if err := o.pushgateway.check(); err != nil {
			add("", err)
		}
	}
	if o.timeout <= 0 {
		add("timeout", errors.New("--timeout must be positive"))
	}
	if o.retries < 0 || o.retries > 20 {
		add("retries", errors.New("--retries must be between 0 and 20"))
	}
	if err := o.client.validate(); err != nil {
		// The bad headers were never added: forget the error.
		ps = append(ps, flagProblem{err: err, fix: func() { o.client.headers.err = nil }})
	}
	return ps
}

// checkWorkflowLabelKeys checks --label-from-workflow's keys without a
// run: none may become a reserved label, no two the same label. It returns
// the keys that can stay.
func checkWorkflowLabelKeys(keys []string) ([]string, error) {
	var keep []string
	var first error
	for _, k := range keys {
		_, err := schema.WorkflowLabels(append(slices.Clone(keep), k), nil, nil)
		if name := schema.SanitizeLabelName(strings.TrimSpace(k)); err == nil && strings.TrimSpace(k) != "" && metrics.CheckUserLabelName(name) != nil {
			err = fmt.Errorf("workflow label %q becomes label %q, which is reserved by step-metrics", k, name)
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		keep = append(keep, k)
	}
	return keep, first
}

// dropIndexes returns s without the items at the (ascending) indexes.
func dropIndexes(s []string, idx []int) []string {
	out := make([]string, 0, len(s))
	for i, v := range s {
		if len(idx) > 0 && idx[0] == i {
			idx = idx[1:]
			continue
		}
		out = append(out, v)
	}
	return out
}

// newPushFlags returns push's options and their flag set, nothing parsed.
func newPushFlags(stderr io.Writer) (*pushOptions, *pflag.FlagSet) {
	o := &pushOptions{}
	fs := pflag.NewFlagSet("step-metrics push", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	o.addFlags(fs)
	annotateEnv(fs, pushEnv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: step-metrics push [flags]\n\nReads a pipeline run and pushes its metrics to a Pushgateway, one group per run.\nEvery flag falls back to the environment variable in brackets.\n\nFlags:\n%s", fs.FlagUsages())
	}
	return o, fs
}

func runPush(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if !hookMode(args) {
		o, fs := newPushFlags(stderr)
		if code, ok := parseFlags("push", fs, args, pushEnv, o.validate, stderr); !ok {
			return code
		}
		log := o.logging.newLogger(stderr)
		log.Debug("starting", "version", version)
		return o.run(ctx, log, stdin, stdout)
	}
	// In an exit handler a usage error would fail the workflow: warn, use
	// the defaults, push; unless strict.
	o, ignored, help, fatal := parseHookFlags(args, stderr)
	if help {
		return exitOK
	}
	if o.strict && (len(ignored) > 0 || fatal != nil) {
		for _, err := range append(ignored, fatal) {
			if err != nil {
				fmt.Fprintf(stderr, "step-metrics push: %v\n", err)
			}
		}
		return exitUsage
	}
	log := o.logging.newLogger(stderr)
	log.Debug("starting", "version", version)
	for _, err := range ignored {
		log.Warn("bad flag in the exit handler, ignored (fix the template parameter; with strict \"true\" it fails the step)", "err", err)
	}
	if fatal != nil {
		log.Warn("bad flags in the exit handler, nothing to push; exiting 0 so the pipeline is not failed by its metrics (fix the template; with strict \"true\" this fails the step)", "err", fatal)
		return exitOK
	}
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

// readGrace is how long push waits, once the read-and-compute share of
// --timeout is over, for that work to return of itself (the checks
// between its phases see the deadline) before it pushes without it.
const readGrace = 100 * time.Millisecond

// readDeadline is when reading the run and computing its metrics must end:
// at 3/4 of --timeout, so the push keeps at least a quarter of it and a
// run read too slowly still gets its outcome, from the arguments, pushed.
func (o *pushOptions) readDeadline(start time.Time) time.Time {
	return start.Add(o.timeout * 3 / 4)
}

// prepared is a run's metrics, ready to write. A nil run means: exit with
// code.
type prepared struct {
	run  *pipeline.Run
	fams []*dto.MetricFamily
	key  schema.GroupingKey
	// readErr is why the run's status could not be read (the run is then
	// the arguments' outcome); reason says why its metrics are incomplete.
	readErr error
	reason  string
	code    int
}

func (o *pushOptions) run(ctx context.Context, log *slog.Logger, stdin io.Reader, stdout io.Writer) int {
	start := time.Now()
	// One deadline for the whole process: read, decode, compute, push and
	// its retries.
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	p := o.prepareWithin(ctx, log, stdin, start)
	if p.run == nil {
		return p.code
	}
	if o.dryRun {
		log.Info("dry run: not pushing", append([]any{"version", version, "group", p.key.String(), "series", seriesCount(p.fams)}, p.incompleteAttr()...)...)
		if err := metrics.WriteText(stdout, p.fams); err != nil {
			log.Error("cannot write metrics", "err", err)
			return exitFailed
		}
		if p.readErr != nil && o.strict {
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
	pushStart := time.Now()
	var out sink.Sink = pushgateway.New(o.pushgateway.String(), client, retryOf(o.retries))
	if err := out.Write(ctx, p.key, p.fams); err != nil {
		return o.failSafe(log, "metrics not pushed", withHint(err))
	}
	if p.readErr != nil && o.strict {
		log.Error("pushed pipeline-level metrics only; exiting 1 (--strict) because the workflow could not be read", "err", p.readErr, "reason", p.reason)
		return exitFailed
	}
	log.Info("pushed", append([]any{"version", version, "pushgateway", o.pushgateway.redacted(), "group", p.key.String(),
		"workflow", p.run.Name, "result", string(p.run.Result), "steps", len(p.run.Steps), "series", seriesCount(p.fams),
		"took", time.Since(pushStart).Round(time.Millisecond).String()}, p.incompleteAttr()...)...)
	return exitOK
}

// incompleteAttr is the log attribute saying why the metrics are
// incomplete, if they are.
func (p *prepared) incompleteAttr() []any {
	if p.reason == "" {
		return nil
	}
	return []any{"incomplete", p.reason}
}

// prepareWithin reads the run and computes its metrics by readDeadline.
// The decoder checks no context, so the work runs on its own goroutine:
// when the deadline passes first, push stops waiting for it (it ends with
// the process) and pushes the arguments' outcome instead.
func (o *pushOptions) prepareWithin(ctx context.Context, log *slog.Logger, stdin io.Reader, start time.Time) *prepared {
	rctx, cancel := context.WithDeadline(ctx, o.readDeadline(start))
	defer cancel()
	type result struct {
		p   *prepared
		err error
	}
	done := make(chan result, 1)
	go func() {
		// A panic here (a bug, or an input no test foresaw) must not
		// crash the exit handler, which would fail the workflow: it is
		// this run's read error, and the outcome is pushed from the
		// arguments.
		defer func() {
			if v := recover(); v != nil {
				done <- result{err: &internalError{value: v, stack: debug.Stack()}}
			}
		}()
		if prepareHook != nil {
			prepareHook()
		}
		p, err := o.prepare(rctx, log, stdin, start)
		done <- result{p, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-rctx.Done():
		select {
		case r = <-done:
		case <-time.After(readGrace):
			r.err = rctx.Err()
		}
	}
	if r.err == nil {
		return r.p
	}
	var ie *internalError
	if errors.As(r.err, &ie) {
		log.Error("internal error while reading the run and computing its metrics (a bug: please report it with this log)",
			"panic", engine.OneLine(fmt.Sprint(ie.value)), "stack", string(ie.stack))
		return o.fromArguments(ctx, log, r.err, schema.IncompleteUnreadable, start)
	}
	return o.timedOut(ctx, log, r.err, start)
}

// prepareHook, when set (tests), runs first in prepareWithin's goroutine.
var prepareHook func()

// internalError is a panic while reading the run and computing its
// metrics, with where it happened.
type internalError struct {
	value any
	stack []byte
}

func (e *internalError) Error() string {
	return "internal error: " + engine.OneLine(fmt.Sprint(e.value))
}

// prepare reads the run and computes its metrics. It checks ctx between
// its phases (read and decode, run series, custom series): a cheap check
// that stops work whose result would come too late; the error is then
// ctx's.
func (o *pushOptions) prepare(ctx context.Context, log *slog.Logger, stdin io.Reader, start time.Time) (*prepared, error) {
	run, code, readErr := o.readRun(ctx, log, stdin)
	if run == nil {
		return &prepared{code: code}, nil
	}
	if err := ctx.Err(); err != nil && readErr == nil {
		return nil, err
	}
	reason := ""
	switch {
	case readErr != nil:
		reason = incompleteReason(readErr)
	case run.StepsUnavailable:
		reason = stepsUnavailableReason(run)
	}
	p, err := o.metricsOf(ctx, log, run, reason, start)
	if p != nil {
		p.readErr = readErr
	}
	return p, err
}

// timedOut is push's answer to a read or computation that did not end by
// readDeadline: for a run read from an API, the outcome its arguments give
// with pipeline_run_metrics_incomplete{reason="timeout"}; for a file, a
// warning and nothing (exit 0 unless --strict).
func (o *pushOptions) timedOut(ctx context.Context, log *slog.Logger, err error, start time.Time) *prepared {
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("interrupted while reading the run and computing its metrics: %w", err)
	} else {
		err = fmt.Errorf("reading the run and computing its metrics took more than %v of --timeout %v: %w", o.readDeadline(start).Sub(start).Round(time.Millisecond), o.timeout, err)
	}
	return o.fromArguments(ctx, log, err, schema.IncompleteTimeout, start)
}

// fromArguments pushes the run's outcome from the exit handler's arguments
// with reason, when reading or computing failed with err; for a file (no
// name in the arguments), a warning and nothing (exit 0 unless --strict).
func (o *pushOptions) fromArguments(ctx context.Context, log *slog.Logger, err error, reason string, start time.Time) *prepared {
	var eng engine.Engine = argo.Engine{}
	name := o.workflowName
	if o.pipelineRun != "" {
		eng, name = tekton.Engine{}, o.pipelineRun
	}
	if name == "" {
		return &prepared{code: o.failSafe(log, "metrics not pushed", err)}
	}
	level := slog.LevelWarn
	if o.strict {
		level = slog.LevelError
	}
	log.Log(ctx, level, "cannot read the run; pushing its outcome from the arguments only", "err", err)
	p, merr := o.metricsOf(ctx, log, eng.FromArguments(name, o.namespace, o.workflowUID, o.status), reason, start)
	if merr != nil {
		return &prepared{code: o.failSafe(log, "metrics not pushed", merr)}
	}
	if p.run != nil {
		p.readErr = err
	}
	return p
}

// metricsOf computes the run's metric families (reason says why they are
// incomplete, if they are) and its group.
func (o *pushOptions) metricsOf(ctx context.Context, log *slog.Logger, run *pipeline.Run, reason string, start time.Time) (*prepared, error) {
	for _, w := range run.Warnings {
		log.Warn(w, "workflow", run.Name)
	}
	labels, err := o.seriesLabels(run)
	if err != nil {
		// check has vetted the keys; this cannot happen, and must not
		// fail the pipeline if it does.
		return &prepared{code: o.failSafe(log, "metrics not pushed: bad labels", err)}, nil
	}
	mopts := metrics.Options{Steps: o.stepMode, Labels: labels, Incomplete: reason, HandlerTime: start, MaxSeries: o.maxSeries}
	fams, lim, err := metrics.Build(run, mopts)
	if err != nil {
		return &prepared{code: o.failSafe(log, "metrics not pushed: cannot build them", err)}, nil
	}
	if lim.Kept != "" {
		log.Warn("the run has more series than --max-series: step series cut down, see pipeline_run_series_limited (raise --max-series, or use --steps template)",
			"workflow", run.Name, "series", lim.Wanted, "max_series", o.maxSeries, "kept", lim.Kept, "pushed", lim.Series)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// What the steps published about themselves (untrusted text).
	customFams, warnings := metrics.CustomFamilies(run, mopts, custom.DefaultLimits)
	for _, w := range warnings {
		log.Warn(w, "workflow", run.Name)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &prepared{run: run, fams: append(fams, customFams...), key: o.groupingKey(log, run), reason: reason}, nil
}

// readRun reads and decodes the run with its engine: Tekton for
// --pipeline-run or a file of Tekton objects, Argo otherwise. When the
// run cannot be read from an API (no permission, API down), it falls back
// to what the arguments say (name, namespace, uid, status), so the run's
// outcome is still pushed, and returns the read error. A nil run means:
// exit with code.
func (o *pushOptions) readRun(ctx context.Context, log *slog.Logger, stdin io.Reader) (*pipeline.Run, int, error) {
	// The read's own deadline, also over the decoding of a stream.
	rctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	in, fromFile, err := o.open(rctx, stdin)
	if in.closer != nil {
		defer in.closer.Close()
	}
	var eng engine.Engine = argo.Engine{}
	if o.pipelineRun != "" || (err == nil && in.stream == nil && fromFile && (tekton.Engine{}).Detect(in.data)) {
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
		opts := engine.Options{Status: o.status, Self: o.taskRun}
		if sr, ok := eng.(engine.StreamReader); ok && in.stream != nil {
			run, warnings, err = sr.ReadStream(in.stream, opts)
		} else {
			run, warnings, err = eng.Read(in.data, opts)
		}
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

// input is a run's status object: its bytes, or (an Argo Workflow in
// JSON) a stream the engine decodes as it reads, so that the object is
// never held whole. closer closes the source.
type input struct {
	data   []byte
	stream io.Reader
	closer io.Closer
}

// sniffSize is how much of a stream is looked at to tell an Argo
// Workflow in JSON (streamed) from anything else (read whole, bounded).
const sniffSize = 64 << 10

// open opens the run's source; fromFile says whether a failure is the
// user's input (a file) rather than an outage (an API).
func (o *pushOptions) open(ctx context.Context, stdin io.Reader) (input, bool, error) {
	var rc io.ReadCloser
	var err error
	fromFile, workflow := false, false // workflow: the source gives an Argo Workflow
	switch {
	case o.example:
		return input{data: example.Workflow}, true, nil
	case o.workflowFile != "":
		fromFile = true
		rc, err = source.OpenFile(o.workflowFile, stdin)
	case o.pipelineRun != "":
		b, err := source.Kubernetes{Kubeconfig: o.kubeconfig, Context: o.kubeContext}.GetPipelineRun(ctx, o.namespace, o.pipelineRun)
		return input{data: b}, false, err
	case o.argoServer != "":
		workflow = true
		rc, err = source.ArgoServer{URL: o.argoServer, TokenFile: o.argoTokenFile, CAFile: o.argoCAFile, InsecureSkipVerify: o.argoInsecure}.
			StreamWorkflow(ctx, o.namespace, o.workflowName)
	default:
		workflow = true
		rc, err = source.Kubernetes{Kubeconfig: o.kubeconfig, Context: o.kubeContext}.StreamWorkflow(ctx, o.namespace, o.workflowName)
	}
	if err != nil {
		return input{}, fromFile, err
	}
	in := input{closer: rc}
	br := bufio.NewReaderSize(rc, sniffSize)
	prefix, perr := br.Peek(sniffSize)
	if perr != nil && !errors.Is(perr, io.EOF) && !errors.Is(perr, bufio.ErrBufferFull) {
		return in, fromFile, perr
	}
	if head := bytes.TrimLeft(prefix, " \t\r\n"); len(head) > 0 && head[0] == '{' {
		api, kind := engine.SniffJSON(head)
		if workflow || kind == "Workflow" || strings.HasPrefix(api, "argoproj.io/") {
			in.stream = br
			return in, fromFile, nil
		}
	}
	// YAML, Tekton objects, or JSON that does not say what it is: whole
	// (the source bounds it).
	in.data, err = io.ReadAll(br)
	return in, fromFile, err
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
