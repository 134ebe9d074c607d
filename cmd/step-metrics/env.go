package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// envName is the environment variable that backs a flag:
// --ca-file -> STEP_METRICS_CA_FILE.
func envName(flag string) string {
	return "STEP_METRICS_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envRules say how a subcommand's flags fall back to the environment.
type envRules struct {
	// aliases are variables besides STEP_METRICS_<FLAG>, by flag name:
	// PUSHGATEWAY_URL for --pushgateway.
	aliases map[string][]string
	// exclusive flags are alternatives (push's sources of the run): once
	// the command line gives one, the environment gives none of the
	// others. A step's environment may well hold STEP_METRICS_WORKFLOW
	// (pkg/step reads it) when its command line says --example.
	exclusive []string
}

// applyEnv sets every flag not given on the command line from its
// environment variable (or from an alias such as PUSHGATEWAY_URL), but
// for the alternatives to an exclusive flag the command line gives.
// Repeatable flags (--label, --header) take one item per line, so values
// may hold commas; --label-from-workflow takes a comma-separated list.
func applyEnv(fs *pflag.FlagSet, rules envRules) error {
	if errs := applyEnvAll(fs, rules); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// applyEnvAll is applyEnv going on past a bad value: it applies every
// variable it can and returns an error for each one it cannot (the flag
// then keeps its default, see resetFlag), for an exit handler to warn
// about.
func applyEnvAll(fs *pflag.FlagSet, rules envRules) []error {
	skip := map[string]bool{}
	for _, name := range rules.exclusive {
		if f := fs.Lookup(name); f != nil && f.Changed {
			for _, other := range rules.exclusive {
				skip[other] = true
			}
			break
		}
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || skip[f.Name] {
			return
		}
		names := append([]string{envName(f.Name)}, rules.aliases[f.Name]...)
		for _, n := range names {
			v, ok := os.LookupEnv(n)
			if !ok || v == "" {
				continue
			}
			if f.Value.Type() == "stringArray" {
				for _, item := range strings.Split(v, "\n") {
					if strings.TrimSpace(item) == "" {
						continue
					}
					if serr := fs.Set(f.Name, strings.TrimSpace(item)); serr != nil {
						errs = append(errs, fmt.Errorf("environment variable %s: %w", n, plainFlagError(serr)))
					}
				}
			} else if serr := fs.Set(f.Name, v); serr != nil {
				resetFlag(f)
				errs = append(errs, fmt.Errorf("environment variable %s: %w", n, plainFlagError(serr)))
			}
			return
		}
	})
	return errs
}

// annotateEnv appends the environment variable of each flag to its usage.
func annotateEnv(fs *pflag.FlagSet, rules envRules) {
	fs.VisitAll(func(f *pflag.Flag) {
		names := append([]string{envName(f.Name)}, rules.aliases[f.Name]...)
		f.Usage += " [$" + strings.Join(names, ", $") + "]"
	})
}

// parseFlags parses a subcommand's flags (no positional arguments), applies
// their environment fallbacks and validates them. When ok is false the
// subcommand stops with code: 0 for --help, exitUsage for anything wrong,
// said on stderr.
func parseFlags(cmd string, fs *pflag.FlagSet, args []string, rules envRules, validate func() error, stderr io.Writer) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK, false
		}
		if fe, ok := asFlagError(err); ok {
			fmt.Fprintf(stderr, "step-metrics %s: %v\n", cmd, fe)
			return exitUsage, false
		}
		fmt.Fprintf(stderr, "step-metrics %s: %v\nRun \"step-metrics %s --help\" for the flags.\n", cmd, err, cmd)
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "step-metrics %s: unexpected arguments %q\n", cmd, fs.Args())
		return exitUsage, false
	}
	if err := applyEnv(fs, rules); err != nil {
		fmt.Fprintf(stderr, "step-metrics %s: %v\n", cmd, err)
		return exitUsage, false
	}
	if err := validate(); err != nil {
		fmt.Fprintf(stderr, "step-metrics %s: %v\n", cmd, err)
		return exitUsage, false
	}
	return exitOK, true
}

// resetFlag puts a flag back to its default after a value that did not
// parse: pflag's numbers, booleans and durations store their zero value
// on a failed Set (a bad --timeout would be 0). A list flag is left as it
// is: its failed Set stores nothing, and its DefValue ("[]") is no value
// to set.
func resetFlag(f *pflag.Flag) {
	switch f.Value.Type() {
	case "stringSlice", "stringArray":
		return
	}
	_ = f.Value.Set(f.DefValue)
}
