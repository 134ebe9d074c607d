package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// In an exit handler (Argo) or a finally task (Tekton) a usage error would
// fail the pipeline the metrics are about: a template parameter typo
// (timeout: "30", strict: "yes") must not. The templates say --hook; push
// then parses its flags with parseHookFlags instead of parseFlags.

// hookMode reports whether push runs as a pipeline's exit handler or
// finally task: the last --hook on the command line (before "--"), else
// $STEP_METRICS_HOOK. It is read before the flags are parsed, since a
// flag that does not parse must not stop it. A value that is not a
// boolean counts as true: the side that does not fail the pipeline.
func hookMode(args []string) bool {
	hook, given := false, false
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--hook" {
			hook, given = true, true
		} else if v, ok := strings.CutPrefix(a, "--hook="); ok {
			b, err := strconv.ParseBool(v)
			hook, given = err != nil || b, true
		}
	}
	if given {
		return hook
	}
	if v := os.Getenv(envName("hook")); v != "" {
		b, err := strconv.ParseBool(v)
		return err != nil || b
	}
	return false
}

// parseHookFlags parses push's flags as an exit handler must: nothing in
// them fails the pipeline. A value that does not parse leaves its flag at
// the default; an unknown flag (a template newer than the image) and
// unexpected arguments are ignored; what validate would refuse is repaired
// by putting the flag back to its default, or by dropping the bad items of
// a repeatable flag (--label, --header, --label-from-workflow). It returns
// the options, an error for each thing it ignored or repaired, whether
// --help was asked, and the one problem nothing can stand in for (no run
// named, no Pushgateway) if any. The caller decides: exit 2 if --strict,
// else warn and go on.
func parseHookFlags(args []string, stderr io.Writer) (o *pushOptions, ignored []error, help bool, fatal error) {
	args = slices.Clone(args)
	var dropped []error
	var fs *pflag.FlagSet
	// Each round parses from scratch (repeatable flags would otherwise take
	// their values twice); a round that stops at an argument pflag cannot
	// get past drops it for the next.
	for {
		o, fs = newPushFlags(stderr)
		var bad []error
		err := fs.ParseAll(args, func(f *pflag.Flag, value string) error {
			if serr := fs.Set(f.Name, value); serr != nil {
				resetFlag(f)
				bad = append(bad, badValue(f, value, serr))
			}
			return nil
		})
		if errors.Is(err, pflag.ErrHelp) {
			return o, nil, true, nil
		}
		if err == nil {
			ignored = append(dropped, bad...)
			break
		}
		i, n := offendingArg(args, err)
		if i < 0 {
			// Cannot tell which argument: keep what was parsed.
			ignored = append(append(dropped, bad...), fmt.Errorf("%w; the arguments from there on are ignored", err))
			break
		}
		dropped = append(dropped, fmt.Errorf("%w; ignored", err))
		args = slices.Delete(args, i, i+n)
	}
	if fs.NArg() > 0 {
		ignored = append(ignored, fmt.Errorf("unexpected arguments %q; ignored", fs.Args()))
	}
	for _, err := range applyEnvAll(fs, pushEnv) {
		ignored = append(ignored, fmt.Errorf("%w; ignored", err))
	}
	// One problem at a time: a repair may settle the next one.
	for range 64 {
		ps := o.check()
		if len(ps) == 0 {
			return o, ignored, false, nil
		}
		p := ps[0]
		switch {
		case p.fix != nil:
			p.fix()
			ignored = append(ignored, fmt.Errorf("%w; the bad items are ignored", p.err))
		case p.flag != "":
			f := fs.Lookup(p.flag)
			if serr := f.Value.Set(f.DefValue); serr != nil {
				return o, ignored, false, fmt.Errorf("%w (and its default %q does not parse: %w)", p.err, f.DefValue, serr)
			}
			ignored = append(ignored, fmt.Errorf("%w; using the default %q", p.err, f.DefValue))
		default:
			return o, ignored, false, p.err
		}
	}
	return o, ignored, false, errors.New("the flags could not be repaired")
}

// badValue is the warning for a flag value that does not parse. The
// values that can fail are booleans, numbers, durations and the typed
// flags' (which never hold a secret; the URL and headers never fail).
func badValue(f *pflag.Flag, value string, err error) error {
	if fe, ok := asFlagError(err); ok {
		return fmt.Errorf("%w; using the default %q", fe, f.DefValue)
	}
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) && ive.Unwrap() != nil {
		err = ive.Unwrap()
	}
	return fmt.Errorf("--%s %q: %w; using the default %q", f.Name, value, err, f.DefValue)
}

// offendingArg finds the argument a pflag parse error is about: its index
// and how many arguments it spans (an unknown --flag takes the next one
// along when that is not a flag, as pflag's own allowlist does); -1 when
// it cannot tell.
func offendingArg(args []string, err error) (int, int) {
	var (
		notExist   *pflag.NotExistError
		needsValue *pflag.ValueRequiredError
		syntax     *pflag.InvalidSyntaxError
	)
	var long, short, exact string
	switch {
	case errors.As(err, &notExist):
		long, short = notExist.GetSpecifiedName(), notExist.GetSpecifiedShortnames()
	case errors.As(err, &needsValue):
		long, short = needsValue.GetSpecifiedName(), needsValue.GetSpecifiedShortnames()
	case errors.As(err, &syntax):
		exact = syntax.GetSpecifiedFlag()
	default:
		return -1, 0
	}
	for i, a := range args {
		switch {
		case a == "--":
			return -1, 0
		case exact != "":
			if a == exact {
				return i, 1
			}
		case short != "":
			if a == "-"+short || strings.HasPrefix(a, "-"+short+"=") {
				return i, 1
			}
		case a == "--"+long:
			if notExist != nil && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				return i, 2
			}
			return i, 1
		case strings.HasPrefix(a, "--"+long+"="):
			return i, 1
		}
	}
	return -1, 0
}
