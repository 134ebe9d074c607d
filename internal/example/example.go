// Package example holds the bundled example run that `step-metrics push
// --example` reads: an ML training pipeline caught while its exit handler
// runs, the normal timing of a step-metrics push.
package example

import _ "embed"

// Workflow is the example Argo Workflow, as `kubectl get wf -o yaml` prints it.
//
//go:embed ml-pipeline-running-exit-handler.yaml
var Workflow []byte
