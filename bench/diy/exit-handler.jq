# The do-it-yourself Argo exit handler people write today: per-step
# durations and outcomes from `kubectl get wf -o json`, in the Prometheus
# text format, for `curl --data-binary @- -X PUT` to a Pushgateway (see
# exit-handler.sh). Steps are the nodes that did work (Pod, Container,
# Suspend, Skipped), minus the exit hook itself; a step's outcome is its
# phase mapped to success/failure/error/skip. Reads status.nodes only
# (status.compressedNodes would need `base64 -d | gunzip` first).
def ts: fromdateiso8601;
def result:
  if . == "Succeeded" then "success"
  elif . == "Failed" then "failure"
  elif . == "Error" then "error"
  elif . == "Skipped" or . == "Omitted" then "skip"
  else "" end;
def esc: tostring | gsub("\\\\"; "\\\\") | gsub("\""; "\\\"") | gsub("\n"; "\\n");

.metadata.name as $wf
| (.status.nodes // {}) as $nodes
| ($nodes[$wf] // {}) as $root
| "workflow=\"\($wf|esc)\"" as $rl
| [ $nodes[]
    | select(.type == "Pod" or .type == "Container" or .type == "Suspend" or .type == "Skipped")
    | select((.nodeFlag.hooked // false) | not)
    | select(.name | endswith(".onExit") | not) ] as $steps
| "# TYPE pipeline_run_result gauge",
  "pipeline_run_result{\($rl),result=\"\($root.phase // "" | result)\"} 1",
  "# TYPE pipeline_run_duration_seconds gauge",
  (select($root.finishedAt != null and .status.startedAt != null)
   | "pipeline_run_duration_seconds{\($rl)} \(($root.finishedAt | ts) - (.status.startedAt | ts))"),
  "# TYPE pipeline_step_duration_seconds gauge",
  ($steps[]
   | select(.type != "Skipped" and .startedAt != null and .finishedAt != null)
   | "pipeline_step_duration_seconds{\($rl),step=\"\(.displayName | esc)\",template=\"\(.templateName // "" | esc)\",node_id=\"\(.id)\"} \((.finishedAt | ts) - (.startedAt | ts))"),
  "# TYPE pipeline_step_result gauge",
  ($steps[]
   | (.phase // "" | result) as $r
   | select($r != "")
   | "pipeline_step_result{\($rl),step=\"\(.displayName | esc)\",template=\"\(.templateName // "" | esc)\",node_id=\"\(.id)\",result=\"\($r)\"} 1")
