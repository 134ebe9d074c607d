#!/usr/bin/env bash
# Benchmarks step-metrics against what users would write instead, end to
# end, on the same synthetic workflows and the same local Pushgateway:
#
#   bench/run.sh           # the full run (100 to 50,000 nodes): writes bench/results.md
#   bench/run.sh --quick   # the brief run CI does (make bench-quick): small sizes, < 1 minute
#
# It installs what it needs from Debian's packages when missing (jq, curl,
# prometheus-pushgateway; as root), builds the stripped static binary as
# `make build` does plus bench/naive and bench/harness, and runs the
# harness (bench/harness/main.go says what it measures and how). Inputs go
# to bench/out/ (generated, deterministic, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=""
out=bench/results.md
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
  esac
done

need=()
[ -x /usr/bin/time ] || need+=(time)   # GNU time: peak RSS of each run
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v curl >/dev/null 2>&1 || need+=(curl)
pgbin=${PUSHGATEWAY_BIN:-$(command -v prometheus-pushgateway || command -v pushgateway || true)}
[ -n "$pgbin" ] || need+=(prometheus-pushgateway)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "bench: need ${need[*]} (Debian packages) and not root" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "bench: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  pgbin=${PUSHGATEWAY_BIN:-$(command -v prometheus-pushgateway || command -v pushgateway)}
fi

GO=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
# The same flags as `make build`: what ships.
CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w -X main.version=$version" -o "$tmp/step-metrics" ./cmd/step-metrics
$GO build -o "$tmp/naive" ./bench/naive
$GO build -o "$tmp/harness" ./bench/harness

if [ -n "$quick" ]; then
  # CI: the Go benchmarks once each, then the end-to-end tables; writes
  # nothing into the tree.
  $GO test -run '^$' -bench . -benchtime 1x ./pkg/engine/argo ./pkg/metrics
  "$tmp/harness" -quick -sizes 100,1000 -reps 3 -bin "$tmp/step-metrics" -naive "$tmp/naive" \
    -pushgateway "$pgbin" -data "$tmp/data" -run-timeout 60s
else
  # Go benchmarks (decode, FromArgo, Families, WriteText, the pipeline) at
  # 100 to 50,000 nodes, 5 counts each: raw output in bench/gobench.txt.
  $GO test -run '^$' -bench . -count 5 ./pkg/engine/argo ./pkg/metrics -args -bench.large | tee bench/gobench.txt
  "$tmp/harness" -bin "$tmp/step-metrics" -naive "$tmp/naive" -pushgateway "$pgbin" -data bench/out -out "$out"
fi
