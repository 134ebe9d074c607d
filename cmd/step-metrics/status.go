package main

import (
	"errors"
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
