// Package argo reads Argo Workflows, and so Kubeflow Pipelines runs, which
// Kubeflow compiles to Argo, into the engine-neutral pipeline.Run.
//
// Reading is split in two: Decode turns bytes (YAML or JSON, as `kubectl
// get wf -o yaml` or `argo get -o json` print them) into Argo's own
// v1alpha1.Workflow, leniently (fields of a newer Argo are ignored, a field
// of the wrong type is skipped with a warning, status.compressedNodes is
// inflated within a bound), and FromWorkflow turns that into a Run with the
// exit handler's view of time: while the handler runs the workflow is still
// Running, so the outcome and end come from the root node. Engine puts both
// behind the engine.Engine interface. Neither does I/O (package source
// fetches the bytes), so both are cheap to test and fuzz.
//
//	wf, warnings, err := argo.Decode(data)
//	run := argo.FromWorkflow(wf, argo.Options{Status: "Failed"})
//	for _, s := range run.Steps {
//		fmt.Println(s.Name, s.Result, s.Duration)
//	}
package argo
