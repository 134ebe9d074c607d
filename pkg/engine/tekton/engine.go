package tekton

import (
	"github.com/step-metrics/step-metrics/pkg/engine"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// Name is the engine label value of Tekton runs.
const Name = "tekton"

// Engine reads Tekton PipelineRuns with their TaskRuns as an engine.Engine.
type Engine struct{}

var _ engine.Engine = Engine{}

// Name returns "tekton".
func (Engine) Name() string { return Name }

// Detect reports whether data is Tekton input: a PipelineRun or TaskRun
// (by kind, or by fields only they have), or a list holding one. It reads
// only as much as it needs; undecodable input is not Tekton.
func (Engine) Detect(data []byte) bool { return detect(data) }

// Read decodes a PipelineRun and its TaskRuns (one object, a
// multi-document stream or a List) into a run; without a PipelineRun, a
// TaskRun that belongs to none is a run of one task. opts.Status is
// $(tasks.status) (None or empty: from the TaskRuns); opts.Self is
// $(context.taskRun.name), step-metrics' own finally TaskRun, left out of
// the steps, the outcome and the duration.
func (Engine) Read(data []byte, opts engine.Options) (*pipeline.Run, []string, error) {
	objs, warnings, err := decode(data)
	if err != nil {
		return nil, warnings, err
	}
	return fromObjects(objs, options{Status: opts.Status, SelfTaskRun: opts.Self}), warnings, nil
}

// FromArguments returns RunFromArguments(name, namespace, uid, status).
func (Engine) FromArguments(name, namespace, uid, status string) *pipeline.Run {
	return RunFromArguments(name, namespace, uid, status)
}
