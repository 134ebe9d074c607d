// Package tekton reads a Tekton PipelineRun and its TaskRuns into the
// engine-neutral pipeline.Run, so a Tekton pipeline gives the same metrics
// as an Argo one: each TaskRun (and each retry attempt in its
// retriesStatus) a step, skipped tasks as skipped steps, the outcome from
// the PipelineRun's Succeeded condition or, inside a finally task, from
// $(tasks.status), with step-metrics' own finally TaskRun left out.
//
//	run, warnings, err := tekton.Engine{}.Read(data, engine.Options{
//		Status: "Succeeded",                // $(tasks.status)
//		Self:   "train-x7k2p-step-metrics", // $(context.taskRun.name)
//	})
//
// The input is one object, a multi-document YAML stream or a List, as
// `kubectl get pipelinerun,taskrun -o yaml` prints it, in tekton.dev/v1 or
// v1beta1 (whose status.taskRuns embeds the TaskRun statuses). A TaskRun
// created on its own (no tekton.dev/pipelineRun label, no PipelineRun
// owner), given without a PipelineRun, is read as a run of one task.
//
// The objects are decoded into small private types holding the fields
// step-metrics reads, not into tektoncd/pipeline's: that module pulls ~470
// packages (knative, cel-go) into a tool that needs a dozen fields, and its
// types refuse real objects in a strict decode (v1 PipelineRuns still
// carrying v1beta1 fields such as spec.serviceAccountName).
package tekton
