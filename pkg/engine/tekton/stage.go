package tekton

import (
	"strings"

	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// assignStages sets the stage and item of every step. A TaskRun's stage is
// its pipeline task (the step's Name). A matrix fans one pipeline task out
// into TaskRuns named <pipelinerun>-<task>-<i> (getNewRunNames in
// pkg/reconciler/pipelinerun/resources/pipelinerunresolution.go), so when
// several TaskRuns share a pipeline task, each is an item, its index the
// name's numeric suffix. Containers sit in their TaskRun's stage.
func assignStages(run *pipeline.Run) {
	runsOf := map[string]map[string]bool{}
	for i := range run.Steps {
		s := &run.Steps[i]
		if s.Type != kindTaskRun || s.Parent != "" || s.Kind == pipeline.KindSkip {
			continue
		}
		if runsOf[s.Name] == nil {
			runsOf[s.Name] = map[string]bool{}
		}
		runsOf[s.Name][taskRunOf(s)] = true
	}
	for i := range run.Steps {
		s := &run.Steps[i]
		if s.Parent != "" {
			continue
		}
		s.Stage = s.Name
		if len(runsOf[s.Name]) > 1 {
			s.Item = matrixIndex(taskRunOf(s))
		}
	}
	for i := range run.Retries {
		run.Retries[i].Stage = run.Retries[i].Name
	}
	run.InheritParentStages()
}

// taskRunOf is the name of the TaskRun a TaskRun step (an attempt or the
// current one) belongs to: attempts have IDs <TaskRun>/attempt-<i>.
func taskRunOf(s *pipeline.Step) string {
	if s.RetryID != "" {
		return s.RetryID
	}
	name, _, _ := strings.Cut(s.ID, "/")
	return name
}

// matrixIndex is the numeric suffix of a matrix TaskRun's name, or "".
func matrixIndex(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 {
		return ""
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return name[i+1:]
}
