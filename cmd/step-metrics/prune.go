package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/schema"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway/prune"
)

// pruneOptions are the flags of `step-metrics prune`.
type pruneOptions struct {
	// Which groups.
	job              string
	selectors        []string
	maxAge           time.Duration
	maxAgeUnfinished time.Duration

	// How.
	pushgateway pushgatewayURL
	dryRun      bool
	concurrency int
	timeout     time.Duration
	retries     int
	strict      bool
	client      clientFlags

	logging logFlags

	// What validate parsed.
	sel map[string]string
}

var pruneEnv = envRules{aliases: map[string][]string{
	"pushgateway": {"PUSHGATEWAY_URL"},
}}

func (o *pruneOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.job, "job", "step-metrics", "job label of the groups to prune; groups of other jobs are never touched")
	fs.StringArrayVarP(&o.selectors, "selector", "s", nil, "only groups with this label name=value, e.g. namespace=ml (repeatable; all must match)")
	fs.DurationVar(&o.maxAge, "max-age", 7*24*time.Hour, "delete a finished run's groups once its last push is older than this")
	fs.DurationVar(&o.maxAgeUnfinished, "max-age-unfinished", 30*24*time.Hour, "delete the groups of a run still in progress when last pushed only once older than this")

	fs.Var(&o.pushgateway, "pushgateway", "Pushgateway base URL, e.g. http://pushgateway.monitoring:9091")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the groups it would delete, one per line, and delete nothing")
	fs.IntVar(&o.concurrency, "concurrency", 8, "deletions in flight at once")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "deadline for the whole prune: listing and every deletion, retries included")
	fs.IntVar(&o.retries, "retries", 4, "retries after a failed request (network errors, 5xx, 429; 4xx is final)")
	fs.BoolVar(&o.strict, "strict", true, "exit 1 when the groups cannot be listed or a group is not deleted, so that the CronJob's Job or the CronWorkflow's workflow fails; --strict=false warns and exits 0 instead (for a prune inside a pipeline its failure must not fail)")
	o.client.addFlags(fs)

	o.logging.addFlags(fs)
}

// validate checks the flags that need no I/O.
func (o *pruneOptions) validate() error {
	if o.job == "" {
		return errors.New("--job is empty")
	}
	sel, err := o.selector()
	if err != nil {
		return err
	}
	o.sel = sel
	switch {
	case o.maxAge <= 0:
		return errors.New("--max-age must be positive")
	case o.maxAgeUnfinished < o.maxAge:
		return fmt.Errorf("--max-age-unfinished (%v) must be at least --max-age (%v): runs in progress are kept longer, never shorter", o.maxAgeUnfinished, o.maxAge)
	}
	if !o.pushgateway.given() {
		return errors.New("no Pushgateway: give --pushgateway URL (or $PUSHGATEWAY_URL)")
	}
	if err := o.pushgateway.check(); err != nil {
		return err
	}
	if o.concurrency < 1 || o.concurrency > 256 {
		return errors.New("--concurrency must be between 1 and 256")
	}
	if o.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	if o.retries < 0 || o.retries > 20 {
		return errors.New("--retries must be between 0 and 20")
	}
	return o.client.validate()
}

// selector parses --selector. Any valid label name may be selected on,
// the reserved ones (namespace, workflow_id) above all.
func (o *pruneOptions) selector() (map[string]string, error) {
	sel := map[string]string{}
	for _, s := range o.selectors {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" || schema.SanitizeLabelName(name) != name {
			return nil, fmt.Errorf("--selector %q: want name=value with a valid label name", s)
		}
		if name == "job" {
			return nil, errors.New("--selector job=...: use --job")
		}
		if prev, dup := sel[name]; dup && prev != value {
			return nil, fmt.Errorf("--selector %s given twice with different values: no group can match", name)
		}
		sel[name] = value
	}
	return sel, nil
}

func runPrune(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o pruneOptions
	fs := pflag.NewFlagSet("step-metrics prune", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	o.addFlags(fs)
	annotateEnv(fs, pruneEnv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: step-metrics prune [flags]

Deletes the Pushgateway groups of runs whose last push is older than
--max-age (--max-age-unfinished for runs still in progress when they were
last pushed), only of --job and the --selector labels. A run's groups (its
own and its steps') are kept or deleted together; a run pushed again while
prune runs is kept (each round of deletions re-lists first).
Exit codes: 0 pruned; 1 the groups could not be listed or a group was not
deleted (0 with --strict=false); 2 usage error.
Every flag falls back to the environment variable in brackets.

Flags:
%s`, fs.FlagUsages())
	}
	if code, ok := parseFlags("prune", fs, args, pruneEnv, o.validate, stderr); !ok {
		return code
	}
	log := o.logging.newLogger(stderr)
	log.Debug("starting", "version", version)
	return o.run(ctx, log, stdout)
}

// failSafe logs err and returns the exit code: 1, or 0 with
// --strict=false.
//
// Unlike push and run, prune is strict by default: it runs on its own, as
// a CronJob or a CronWorkflow, not as a pipeline's exit handler, so its
// failure fails nothing but itself, and a failed Job or workflow is how
// Kubernetes and Argo make a failure visible (kube-state-metrics'
// kube_job_failed, Argo's Failed workflows). Exit 0 after a failure
// would leave the Pushgateway growing with nobody told.
func (o *pruneOptions) failSafe(log *slog.Logger, msg string, err error) int {
	if o.strict {
		log.Error(msg, "err", err)
		return exitFailed
	}
	log.Warn(msg+"; exiting 0 (--strict=false)", "err", err)
	return exitOK
}

// maxFailureLines caps the per-group failure lines; the summary counts all.
const maxFailureLines = 5

func (o *pruneOptions) run(ctx context.Context, log *slog.Logger, stdout io.Writer) int {
	start := time.Now()
	cfg := o.client.config()
	cfg.MaxIdleConns = o.concurrency
	client, err := httpclient.New(cfg)
	if err != nil {
		return o.failSafe(log, "cannot set up the Pushgateway client", err)
	}
	pctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	retry := retryOf(o.retries)

	// Ages are measured from before the listing: a slow answer never makes
	// a group look older than it was.
	now := time.Now()
	groups, err := prune.List(pctx, o.pushgateway.String(), client, retry)
	if err != nil {
		return o.failSafe(log, "cannot list the Pushgateway's groups; nothing deleted", withHint(err))
	}
	policy := prune.Policy{Job: o.job, Selector: o.sel, MaxAge: o.maxAge, MaxAgeUnfinished: o.maxAgeUnfinished, Now: now}
	plan := prune.Select(groups, policy)
	log.Debug("listed", "groups", plan.Listed, "matched", plan.Matched, "stale", len(plan.Delete), "took", time.Since(start).Round(time.Millisecond).String())
	summary := []any{"version", version, "pushgateway", o.pushgateway.redacted(), "job", o.job,
		"listed", plan.Listed, "matched", plan.Matched, "kept", plan.Kept, "kept_unfinished", plan.KeptUnfinished}

	if o.dryRun {
		for _, c := range plan.Delete {
			state := "finished"
			if c.Unfinished {
				state = "unfinished"
			}
			fmt.Fprintf(stdout, "%s last_push=%s age=%s %s\n", c.Key(), c.LastPush().UTC().Format(time.RFC3339), c.Age.Round(time.Second), state)
		}
		log.Info("dry run: deleted nothing", append(summary, "would_delete", len(plan.Delete), "took", time.Since(start).Round(time.Millisecond).String())...)
		return exitOK
	}

	res := prune.Delete(pctx, o.pushgateway.String(), policy, plan.Delete, client, retry, o.concurrency)
	for i, f := range res.Failed {
		if i == maxFailureLines {
			log.Warn("more groups not deleted", "count", len(res.Failed)-maxFailureLines)
			break
		}
		log.Warn("group not deleted", "group", f.Group.Key(), "err", withHint(f.Err))
	}
	summary = append(summary, "deleted", res.Deleted, "repushed", res.Repushed, "gone", res.Gone, "failed", len(res.Failed), "took", time.Since(start).Round(time.Millisecond).String())
	if len(res.Failed) > 0 {
		if o.strict {
			log.Error("pruned, with failures", summary...)
			return exitFailed
		}
		log.Warn("pruned, with failures; exiting 0 (--strict=false)", summary...)
		return exitOK
	}
	log.Info("pruned", summary...)
	return exitOK
}
