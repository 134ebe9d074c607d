// Package engine is the seam between pipeline engines and the rest of
// step-metrics: each engine (package engine/argo for Argo Workflows and
// Kubeflow Pipelines, engine/tekton for Tekton Pipelines) turns the bytes
// of its status objects into one engine-neutral pipeline.Run behind the
// Engine interface, so reading, metrics and sinks never branch on the
// engine.
//
//	e := engine.Detect(data, argo.Engine{}, tekton.Engine{}) // by the objects' kind
//	run, warnings, err := e.Read(data, engine.Options{Status: "Failed"})
//
// The adapters do no I/O (package source fetches the bytes), keep their
// decode types private, and never panic on any input: every parser of
// outside input here has a fuzz target.
package engine

import (
	"regexp"
	"strings"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// Options are what the caller knows about a run besides its status object.
type Options struct {
	// Status is the outcome the engine passes to exit handlers or finally
	// tasks (Argo's {{workflow.status}}, Tekton's $(tasks.status)); empty
	// means "take it from the status object".
	Status string
	// Self names the unit of work that is step-metrics itself (Tekton: our
	// own finally TaskRun), left out of the steps.
	Self string
}

// Engine reads one engine's status objects. Implementations are stateless
// values, safe for concurrent use.
type Engine interface {
	// Name is the engine label value: "argo" or "tekton".
	Name() string
	// Detect reports whether data looks like this engine's objects (by
	// kind), without decoding all of it.
	Detect(data []byte) bool
	// Read decodes data (YAML or JSON, one object, a multi-document stream
	// or a List, as kubectl prints them) into a run. The warnings are
	// about the input (fields ignored, objects skipped), one line each; the
	// run's own Warnings are about what it says. The error is one line.
	Read(data []byte, opts Options) (run *pipeline.Run, warnings []string, err error)
	// FromArguments is the run as far as an exit handler's arguments tell
	// it (name, namespace, uid, status), for when the status object cannot
	// be read: pipeline-level outcome only, StepsUnavailable set.
	FromArguments(name, namespace, uid, status string) *pipeline.Run
}

// Detect returns the first of engines that recognises data, or fallback
// when none does (its Read then says what is wrong with the input).
func Detect(data []byte, fallback Engine, engines ...Engine) Engine {
	for _, e := range engines {
		if e.Detect(data) {
			return e
		}
	}
	return fallback
}

// generatedSuffix matches what Kubernetes appends to a generateName (five
// characters of its alphabet) and what a CronWorkflow appends to its name
// (the scheduled Unix time).
var generatedSuffix = regexp.MustCompile(`-(?:[bcdfghjklmnpqrstvwxz2456789]{5}|[0-9]{9,11})$`)

// PipelineFromName guesses a run's pipeline from its name alone: the name
// without a generated suffix (train-x7k2p -> train), or the name itself.
func PipelineFromName(name string) string {
	if p := generatedSuffix.ReplaceAllString(name, ""); p != "" {
		return p
	}
	return name
}

// PipelineFromGenerateName is the pipeline of a run object that names none
// (no template label, no template reference): its generateName stem
// without the trailing "-" or ".", else its name.
func PipelineFromGenerateName(generateName, name string) string {
	if g := strings.TrimRight(generateName, "-."); g != "" {
		return g
	}
	return name
}

// OneLine makes s fit one log line: newlines become spaces, at most 300
// bytes are kept.
func OneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return Truncate(s, 300)
}

// Truncate cuts s to n bytes and marks the cut with "...".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// OrUnknown names an empty phase in messages.
func OrUnknown(phase string) string {
	if phase == "" {
		return "without a phase"
	}
	return phase
}
