# The least an exit handler computes: each step's duration in seconds, from
# `kubectl get wf -o json` (status.nodes: the Pod nodes that finished). The
# speed target compares `step-metrics push --dry-run` with this.
.status.nodes // {}
| to_entries[]
| .value
| select(.type == "Pod" and .startedAt != null and .finishedAt != null)
| "\(.displayName) \((.finishedAt | fromdateiso8601) - (.startedAt | fromdateiso8601))"
