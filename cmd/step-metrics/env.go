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

// applyEnv sets every flag not given on the command line from its
// environment variable (or from an alias such as PUSHGATEWAY_URL).
// Repeatable flags (--label, --header) take one item per line, so values
// may hold commas; --label-from-workflow takes a comma-separated list.
func applyEnv(fs *pflag.FlagSet, aliases map[string][]string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		names := append([]string{envName(f.Name)}, aliases[f.Name]...)
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
						err = fmt.Errorf("environment variable %s: %w", n, serr)
						return
					}
				}
			} else if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("environment variable %s: %w", n, serr)
			}
			return
		}
	})
	return err
}

// annotateEnv appends the environment variable of each flag to its usage.
func annotateEnv(fs *pflag.FlagSet, aliases map[string][]string) {
	fs.VisitAll(func(f *pflag.Flag) {
		names := append([]string{envName(f.Name)}, aliases[f.Name]...)
		f.Usage += " [$" + strings.Join(names, ", $") + "]"
	})
}

// parseFlags parses a subcommand's flags (no positional arguments), applies
// their environment fallbacks and validates them. When ok is false the
// subcommand stops with code: 0 for --help, exitUsage for anything wrong,
// said on stderr.
func parseFlags(cmd string, fs *pflag.FlagSet, args []string, aliases map[string][]string, validate func() error, stderr io.Writer) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK, false
		}
		fmt.Fprintf(stderr, "step-metrics %s: %v\nRun \"step-metrics %s --help\" for the flags.\n", cmd, err, cmd)
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "step-metrics %s: unexpected arguments %q\n", cmd, fs.Args())
		return exitUsage, false
	}
	if err := applyEnv(fs, aliases); err != nil {
		fmt.Fprintf(stderr, "step-metrics %s: %v\n", cmd, err)
		return exitUsage, false
	}
	if err := validate(); err != nil {
		fmt.Fprintf(stderr, "step-metrics %s: %v\n", cmd, err)
		return exitUsage, false
	}
	return exitOK, true
}
