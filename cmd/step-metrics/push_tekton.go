package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/step-metrics/step-metrics/pkg/workflow"
)

// Tekton's $(tasks.status) values that Argo's {{workflow.status}} lacks.
const (
	tektonStatusCompleted = "Completed"
	tektonStatusNone      = "None"
)

// checkStatus checks --status against the engine, once it is known:
// Error is Argo's only, Completed Tekton's only.
func (o *pushOptions) checkStatus(tekton, known bool) error {
	switch {
	case !known:
	case tekton && o.status == "Error":
		return errors.New("--status Error is Argo's {{workflow.status}}; Tekton's $(tasks.status) is Succeeded, Failed, Completed or None")
	case !tekton && o.status == tektonStatusCompleted:
		return errors.New("--status Completed is Tekton's $(tasks.status); Argo's {{workflow.status}} is Succeeded, Failed or Error")
	}
	return nil
}

// readTektonRun decodes a Tekton PipelineRun and its TaskRuns (read by
// read: data, or the read error err) into a run, as readRun does for Argo:
// a file that is not readable is exit 3; when the API cannot be read, the
// outcome from the arguments ($(context.pipelineRun.name), namespace, uid,
// $(tasks.status)) is still pushed and the read error returned.
func (o *pushOptions) readTektonRun(ctx context.Context, log *slog.Logger, data []byte, fromFile bool, err error) (*workflow.Run, int, error) {
	if err == nil {
		if serr := o.checkStatus(true, true); serr != nil {
			log.Error("bad flags", "err", serr)
			return nil, exitUsage, serr
		}
		var tr *workflow.TektonRun
		var warnings []string
		tr, warnings, err = workflow.DecodeTekton(data)
		if err == nil {
			for _, w := range warnings {
				log.Warn(w)
			}
			return workflow.FromTekton(tr, workflow.TektonOptions{Status: o.status, SelfTaskRun: o.taskRun}), exitOK, nil
		}
	}
	if fromFile {
		log.Error("cannot read the pipeline run", "err", err)
		return nil, exitBadInput, err
	}
	level := slog.LevelWarn
	if o.strict {
		level = slog.LevelError
	}
	log.Log(ctx, level, "cannot read the pipeline run; pushing its outcome from the arguments only", "err", err)
	return workflow.TektonRunFromArguments(o.pipelineRun, o.namespace, o.workflowUID, o.status), exitOK, err
}
