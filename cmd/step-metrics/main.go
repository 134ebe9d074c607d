// Command step-metrics turns a finished (or finishing) pipeline run into
// per-step and per-pipeline Prometheus metrics and pushes them to a
// Pushgateway, grouped by run. Run `step-metrics help` for usage.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/step-metrics/step-metrics/pkg/limits"
)

// Exit codes, documented in the README.
const (
	exitOK       = 0 // done, or only the metrics delivery failed (fail-safe)
	exitFailed   = 1 // reading or pushing failed and --strict was given
	exitUsage    = 2 // bad flags
	exitBadInput = 3 // the workflow file is not a readable Workflow
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// The garbage collector's soft limit below the container's memory
	// limit (unless GOMEMLIMIT is set): an OOM-killed exit handler fails
	// the workflow.
	limits.Apply()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "push":
		return runPush(ctx, args[1:], stdin, stdout, stderr)
	case "run":
		return runRun(ctx, args[1:], stdin, stdout, stderr)
	case "prune":
		return runPrune(ctx, args[1:], stdout, stderr)
	case "install":
		return runInstall(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "step-metrics %s\n", version)
		return exitOK
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "step-metrics: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `step-metrics: pipeline run metrics for the Prometheus Pushgateway

Usage:
  step-metrics push [flags]     read a workflow's status and push its metrics
  step-metrics run [flags] -- COMMAND [ARGS...]
                                run a step's command, record its time, CPU, memory
                                and exit code (plus what it writes to $STEP_METRICS_FILE)
  step-metrics prune [flags]    delete the Pushgateway groups of runs older than --max-age
  step-metrics install DIR      copy this binary to DIR/step-metrics (for an initContainer)
  step-metrics version          print the version
  step-metrics help             this text

Run "step-metrics push --help", "step-metrics run --help" or
"step-metrics prune --help" for the flags.
`)
}
