package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/schema"
	"github.com/step-metrics/step-metrics/pkg/step"

	"github.com/spf13/pflag"

	"github.com/step-metrics/step-metrics/pkg/custom"
	"github.com/step-metrics/step-metrics/pkg/sink"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"
)

// Exit codes of `step-metrics run` besides the command's own, as env(1),
// nice(1) and timeout(1) have them.
const (
	exitRunUsage   = 125 // run's own flags are wrong; the command did not run
	exitCannotExec = 126 // the command exists but cannot be executed
	exitNotFound   = 127 // the command was not found
)

// metricsFileEnv is the variable that tells the command where to append
// its own metrics.
const metricsFileEnv = "STEP_METRICS_FILE"

// The wrapper's own metrics, without schema.CustomPrefix (the exit handler, or
// the push, adds it).
const (
	metricDuration  = "command_duration_seconds"
	metricCPUUser   = "command_cpu_user_seconds"
	metricCPUSystem = "command_cpu_system_seconds"
	metricMaxRSS    = "command_max_rss_bytes"
	metricExitCode  = "command_exit_code"
)

var runMetricHelp = map[string]string{
	metricDuration:  "Wall time of the command run by step-metrics run, on the monotonic clock.",
	metricCPUUser:   "User CPU time of the command and the children it waited for.",
	metricCPUSystem: "System CPU time of the command and the children it waited for.",
	metricMaxRSS:    "Peak resident set size of the command, or of its largest waited-for child.",
	metricExitCode:  "Exit code of the command: 128+N when signal N killed it, 126 or 127 when it could not be started.",
}

// forwardedSignals reach the command: what Kubernetes (TERM), a terminal
// (INT, QUIT, and WINCH on a resize) or a supervisor (HUP, USR1, USR2: a
// reload, a log reopen, a dump) sends the wrapper. The Unix-only ones are
// in userSignals.
var forwardedSignals = append([]os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT}, userSignals...)

// runOptions are the flags of `step-metrics run`.
type runOptions struct {
	outputFile  string
	pushgateway pushgatewayURL
	job         string
	workflow    string
	workflowUID string
	namespace   string
	step        string

	timeout time.Duration
	retries int
	strict  bool
	client  clientFlags

	logging logFlags
}

var runEnv = envRules{aliases: map[string][]string{
	"pushgateway": {"PUSHGATEWAY_URL"},
}}

func (o *runOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.outputFile, "output-file", "o", "", "write the metrics here for the exit handler (the path of an output parameter named step-metrics); merged with what the file holds")
	fs.Var(&o.pushgateway, "pushgateway", "also push the metrics to this Pushgateway, in the step's own group (job, namespace, workflow_id, step)")
	fs.StringVar(&o.job, "job", schema.DefaultJob, "job label of the step's Pushgateway group")
	fs.StringVar(&o.workflow, "workflow", "", "workflow name, a label of pushed series ({{workflow.name}}; default $ARGO_WORKFLOW_NAME)")
	fs.StringVar(&o.workflowUID, "workflow-uid", "", "workflow UID, the group's workflow_id ({{workflow.uid}}; default $ARGO_WORKFLOW_UID, else the workflow name)")
	fs.StringVarP(&o.namespace, "namespace", "n", "", "namespace, a grouping label ({{workflow.namespace}}; default $POD_NAMESPACE, else the service account's)")
	fs.StringVar(&o.step, "step", "", "step name, a grouping label (default $ARGO_NODE_ID, else the pod name)")

	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "deadline for the push, retries included")
	fs.IntVar(&o.retries, "retries", 4, "retries after a failed push attempt (network errors and 5xx; 4xx is final)")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when the command succeeded but its metrics could not be written or pushed (default: warn; metrics never change the exit code)")
	o.client.addFlags(fs)

	o.logging.addFlags(fs)
}

func runRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o runOptions
	fs := pflag.NewFlagSet("step-metrics run", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	// The command's own flags are not ours: stop at the first argument
	// that is not a flag, as at "--".
	fs.SetInterspersed(false)
	o.addFlags(fs)
	annotateEnv(fs, runEnv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: step-metrics run [flags] -- COMMAND [ARGS...]

Runs COMMAND with stdin, stdout and stderr untouched, forwards SIGTERM, SIGINT,
SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH to it, and exits with its exit
code (128+N when signal N killed it; 126 or 127 when it cannot be started, 125
for a usage error of run). As PID 1 (a container without an init) it also
reaps the orphaned processes COMMAND leaves.
Records its wall time, CPU time, peak RSS and exit code; COMMAND may append its
own metrics to the file $%s names ("accuracy 0.93" lines, or a JSON
object). Writes them all to --output-file and/or pushes them to --pushgateway.
Metrics trouble is a warning and never changes the exit code (see --strict).
Every flag falls back to the environment variable in brackets.

Flags:
%s`, metricsFileEnv, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		if fe, ok := asFlagError(err); ok {
			fmt.Fprintf(stderr, "step-metrics run: %v\n", fe)
			return exitRunUsage
		}
		fmt.Fprintf(stderr, "step-metrics run: %v\nRun \"step-metrics run --help\" for the flags.\n", err)
		return exitRunUsage
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintf(stderr, "step-metrics run: no command: step-metrics run [flags] -- COMMAND [ARGS...]\n")
		return exitRunUsage
	}
	// --log-level and --log-format are checked as they are set; what is
	// wrong with the Pushgateway flags is metrics trouble, said when
	// pushing: the command runs regardless.
	if err := applyEnv(fs, runEnv); err != nil {
		fmt.Fprintf(stderr, "step-metrics run: %v\n", err)
		return exitRunUsage
	}
	log := o.logging.newLogger(stderr)
	log.Debug("starting", "version", version, "command", argv[0])
	return o.run(ctx, log, argv, stdin, stdout, stderr)
}

func (o *runOptions) run(ctx context.Context, log *slog.Logger, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := os.Environ()
	childFile, cleanup := newMetricsFile(log)
	defer cleanup()
	if childFile != "" {
		env = append(withoutVar(env, metricsFileEnv), metricsFileEnv+"="+childFile)
	}

	// As PID 1 the wrapper inherits every orphan of the command's: reap
	// them until it exits, the push included.
	reap := newReaper(log)
	defer reap.stop()
	res := execute(argv, env, stdin, stdout, stderr, reap)
	if res.startErr != nil {
		log.Error("cannot run the command", "command", argv[0], "err", res.startErr, "exit_code", res.code)
	}

	st := step.New(o.stepInfo())
	st.Logger = log
	// The wrapper's own series first: should the text outgrow what the
	// exit handler reads, WriteFile keeps the series set first.
	for name, help := range runMetricHelp {
		st.Describe(name, help)
	}
	if res.state != nil {
		_ = st.Set(metricDuration, res.wall.Seconds())
		_ = st.Set(metricCPUUser, res.state.UserTime().Seconds())
		_ = st.Set(metricCPUSystem, res.state.SystemTime().Seconds())
		if rss, ok := maxRSSBytes(res.state); ok {
			_ = st.Set(metricMaxRSS, rss)
		}
	}
	_ = st.Set(metricExitCode, float64(res.code))
	if childFile != "" {
		addChildMetrics(log, st, childFile)
	}

	if !o.deliver(ctx, log, st, res.code) && o.strict && res.code == exitOK {
		log.Error("exiting 1 (--strict): the command succeeded but its metrics were not delivered")
		return exitFailed
	}
	return res.code
}

// commandResult is how the command ended.
type commandResult struct {
	code     int
	state    *os.ProcessState // nil when it did not start
	wall     time.Duration
	startErr error
}

// execute runs argv with the given standard streams (an *os.File is handed
// to the command as is) and environment, forwarding signals to it, and
// returns its exit code as a shell would. reap (nil when the process
// inherits no orphans) reaps every other child meanwhile.
func execute(argv, env []string, stdin io.Reader, stdout, stderr io.Writer, reap *reaper) commandResult {
	cmd := exec.Command(argv[0], argv[1:]...)
	if errors.Is(cmd.Err, exec.ErrDot) {
		// Found through a relative PATH entry: a shell runs it, so do we.
		cmd.Err = nil
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.Env = env

	// Listen before the command starts, so no signal slips between.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return commandResult{code: startFailureCode(cmd, err), startErr: err}
	}
	reap.watch(cmd.Process.Pid)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	reap.waited()
	close(done)
	if cmd.ProcessState == nil {
		// Not an exit status: Wait itself failed. Say so, as a shell would.
		return commandResult{code: exitCannotExec, wall: wall, startErr: err}
	}
	return commandResult{code: exitCode(cmd.ProcessState), state: cmd.ProcessState, wall: wall}
}

// exitCode is the process's exit code, or 128+N when signal N killed it.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ps.ExitCode(); c >= 0 {
		return c
	}
	return exitFailed
}

// startFailureCode maps a failure to start to a shell's codes: 127 when
// the command is not there, 126 when it is but cannot be executed (no x
// bit, a directory, not a binary, a missing #! interpreter).
func startFailureCode(cmd *exec.Cmd, err error) int {
	if errors.Is(err, exec.ErrNotFound) {
		return exitNotFound
	}
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(cmd.Path); serr == nil {
			return exitCannotExec // the file is there: its interpreter is not
		}
		return exitNotFound
	}
	return exitCannotExec
}

// newMetricsFile creates the empty file the command may append its metrics
// to. Without one (no writable temporary directory) the command runs
// without STEP_METRICS_FILE.
func newMetricsFile(log *slog.Logger) (string, func()) {
	dir, err := os.MkdirTemp("", "step-metrics-run-")
	if err != nil {
		log.Warn("no temporary directory; the command gets no "+metricsFileEnv, "err", err)
		return "", func() {}
	}
	path := filepath.Join(dir, "metrics.prom")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		log.Warn("cannot create the command's metrics file; the command gets no "+metricsFileEnv, "err", err)
		_ = os.RemoveAll(dir)
		return "", func() {}
	}
	return path, func() { _ = os.RemoveAll(dir) }
}

func withoutVar(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// addChildMetrics reads what the command wrote to its metrics file, as the
// exit handler reads it (same limits and rules), into step. The wrapper's
// own series are not the command's to set.
func addChildMetrics(log *slog.Logger, st *step.Step, path string) {
	f, err := openRegular(path)
	if err != nil {
		log.Warn("cannot read the metrics the command wrote", "file", path, "err", err)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(custom.DefaultLimits.MaxBytes)+1))
	f.Close()
	if err != nil {
		log.Warn("cannot read the metrics the command wrote", "file", path, "err", err)
		return
	}
	samples, warnings := custom.Parse(data, custom.DefaultLimits, schema.IsReservedLabel)
	for _, w := range warnings {
		log.Warn("metrics the command wrote: " + w)
	}
	for _, smp := range samples {
		if _, own := runMetricHelp[smp.Name]; own {
			log.Warn("metrics the command wrote: "+smp.Name+" is the wrapper's own; the command's value is dropped", "metric", smp.Name)
			continue
		}
		labels := make(map[string]string, len(smp.Labels))
		for _, l := range smp.Labels {
			labels[l.Name] = l.Value
		}
		if st.SetWithLabels(smp.Name, labels, smp.Value) == nil && smp.Help != "" {
			st.Describe(smp.Name, smp.Help)
		}
	}
}

// openRegular opens path for reading, and refuses what is not a regular
// file. The open does not block: with O_NONBLOCK, a FIFO without a writer
// (which the command may leave as its $STEP_METRICS_FILE) or a device
// opens at once, and is then refused by its type, as Fstat sees it.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlock, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notRegular(path, fi.Mode())
	}
	return f, nil
}

// checkRegular refuses a path that is there and is not a regular file (a
// FIFO, a device, a socket), without opening it: step.WriteFile reads the
// file before it replaces it, and the open of a FIFO blocks until a writer
// comes. A path that is not there is fine: WriteFile creates it.
func checkRegular(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().IsRegular() {
		return nil // not there, or WriteFile says what is wrong
	}
	return notRegular(path, fi.Mode())
}

func notRegular(path string, mode fs.FileMode) error {
	kind := "not a regular file"
	switch {
	case mode&fs.ModeNamedPipe != 0:
		kind = "a FIFO"
	case mode&fs.ModeSocket != 0:
		kind = "a socket"
	case mode&fs.ModeCharDevice != 0:
		kind = "a character device"
	case mode&fs.ModeDevice != 0:
		kind = "a device"
	case mode.IsDir():
		kind = "a directory"
	}
	return fmt.Errorf("%s is %s, not a regular file; it is not read", path, kind)
}

// stepInfo is the step's identity: the flags (or their STEP_METRICS_
// variables), else what Argo and the downward API put in the environment.
func (o *runOptions) stepInfo() step.Info {
	info := step.InfoFromEnv(os.Getenv, os.ReadFile)
	for _, f := range []struct {
		flag string
		dst  *string
	}{
		{o.workflow, &info.Workflow}, {o.workflowUID, &info.WorkflowUID}, {o.namespace, &info.Namespace}, {o.step, &info.Step},
	} {
		if f.flag != "" {
			*f.dst = f.flag
		}
	}
	return info
}

// deliver writes and/or pushes the metrics and reports whether all went
// well. Every failure is a warning: the exit code stays the command's.
func (o *runOptions) deliver(ctx context.Context, log *slog.Logger, st *step.Step, code int) bool {
	ok := true
	var where []any
	if o.outputFile == "" && !o.pushgateway.given() {
		log.Warn("no --output-file and no --pushgateway: the command's metrics go nowhere")
		return false
	}
	if o.outputFile != "" {
		if err := checkRegular(o.outputFile); err != nil {
			log.Warn("metrics not written: --output-file must name a regular file", "file", o.outputFile, "err", err)
			ok = false
		} else if err := st.WriteFile(o.outputFile); err != nil {
			ok = false
		} else {
			where = append(where, "output_file", o.outputFile)
		}
	}
	if o.pushgateway.given() {
		if target, err := o.push(ctx, st); err != nil {
			ok = false
		} else {
			where = append(where, "pushgateway", o.pushgateway.redacted(), "group", pushgateway.Group(target))
		}
	}
	if len(where) > 0 {
		log.Info("command metrics delivered", append([]any{"exit_code", code, "series", len(st.Samples())}, where...)...)
	}
	if !ok {
		log.Warn("the exit code stays the command's: metrics never fail a step (use --strict to fail)", "exit_code", code)
	}
	return ok
}

func (o *runOptions) push(ctx context.Context, st *step.Step) (pushgateway.Target, error) {
	fail := func(msg string, err error) (pushgateway.Target, error) {
		log := st.Logger
		log.Warn(msg, "err", err)
		return pushgateway.Target{}, err
	}
	if err := o.pushgateway.check(); err != nil {
		return fail("metrics not pushed", err)
	}
	if o.timeout <= 0 {
		return fail("metrics not pushed", fmt.Errorf("--timeout %v must be positive (the default is 10s)", o.timeout))
	}
	if o.retries < 0 || o.retries > 20 {
		return fail("metrics not pushed", fmt.Errorf("--retries %d must be between 0 and 20", o.retries))
	}
	if err := o.client.validate(); err != nil {
		return fail("metrics not pushed", err)
	}
	client, err := httpclient.New(o.client.config())
	if err != nil {
		return fail("cannot set up the Pushgateway client; metrics not pushed", err)
	}
	st.URL, st.Job = o.pushgateway.String(), o.job
	target, err := st.Target()
	if err != nil {
		return fail("metrics not pushed", err)
	}
	fams, err := st.Gather()
	if err != nil {
		return fail("metrics not pushed", err)
	}
	// A forwarded SIGTERM cancels ctx; the push still gets its --timeout
	// (Kubernetes' grace period is 30s by default).
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.timeout)
	defer cancel()
	start := time.Now()
	var out sink.Sink = pushgateway.New(o.pushgateway.String(), client, retryOf(o.retries))
	if err := out.Write(pctx, target.Key(), fams); err != nil {
		return fail("step metrics not pushed; the step goes on", withHint(err))
	}
	st.Logger.Debug("step metrics pushed", "group", pushgateway.Group(target), "series", seriesCount(fams), "took", time.Since(start).Round(time.Millisecond).String())
	return target, nil
}
