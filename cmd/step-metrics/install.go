package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/step-metrics/step-metrics/internal/atomicfile"

	"github.com/spf13/pflag"
)

// installName is the file `step-metrics install DIR` creates in DIR.
const installName = "step-metrics"

// runInstall copies the running binary to DIR/step-metrics, mode 0755, so
// that an initContainer of the step-metrics image can hand it to a step's
// main container of any image through a shared emptyDir, as Argo's own
// emissary executor does:
//
//	initContainers:
//	  - {name: step-metrics, image: ghcr.io/step-metrics/step-metrics:v0.1.0,
//	     command: [/step-metrics, install, /var/run/step-metrics], ...}
//
// The binary is static (CGO_ENABLED=0), so it runs in any Linux image of
// the same architecture.
func runInstall(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("step-metrics install", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: step-metrics install DIR

Copies this binary to DIR/%s (mode 0755, replaced atomically; DIR is
created if missing), for an initContainer that shares it with a step's main
container through an emptyDir. Exit codes: 0 installed, 1 failed, 2 usage.
`, installName)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "step-metrics install: %v\n", err)
		return exitUsage
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		fmt.Fprintln(stderr, "step-metrics install: want one argument, the directory: step-metrics install DIR")
		return exitUsage
	}
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		fmt.Fprintf(stderr, "step-metrics install: cannot find this binary: %v\n", err)
		return exitFailed
	}
	dst := filepath.Join(fs.Arg(0), installName)
	if err := installBinary(self, dst); err != nil {
		fmt.Fprintf(stderr, "step-metrics install: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "installed %s (step-metrics %s)\n", dst, version)
	return exitOK
}

// installBinary copies src to dst through a temporary file in dst's
// directory, renamed over dst once complete, so a reader (a container
// starting early, or a second initContainer) never runs half a binary.
func installBinary(src, dst string) error {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	// World-executable: the step's container may run as any user.
	if err := atomicfile.Write(dst, in, 0o755); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}
