#!/usr/bin/env bash
# The real-cluster tier (make e2e-argo): builds the control plane once
# (cached outside the repo by build.sh), starts it in its own network
# namespace, installs templates/ with `kubectl apply -k`, and runs
# e2e_test.go (the example workflows, driven by Argo's real controller)
# inside the namespace. Stops everything on exit. Needs root (ip netns).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=versions.sh
. "$HERE/versions.sh"
NETNS=${STEPM_E2E_NETNS:-stepm-e2e}
RUN_DIR=${STEPM_E2E_RUN_DIR:-/tmp/stepm-e2e}
OUT=${STEP_METRICS_CACHE:-$HOME/.cache/step-metrics}/e2e
mkdir -p "$OUT"
t0=$SECONDS

echo "e2e-argo: build control plane (cached in ${STEP_METRICS_CACHE:-$HOME/.cache/step-metrics}/bin)" >&2
"$HERE/build.sh" >"$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log" >&2; exit 1; }
echo "e2e-argo: build step-metrics and the test binary" >&2
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$OUT/step-metrics" ./cmd/step-metrics \
  && go vet -tags e2eargo ./test/e2e-argo \
  && go test -c -tags e2eargo -o "$OUT/e2e-argo.test" ./test/e2e-argo)
PGW=${PUSHGATEWAY_BIN:-$(command -v pushgateway || command -v prometheus-pushgateway)}
[ -x "$PGW" ] || { echo "e2e-argo: no Pushgateway binary (scripts/test-deps.sh)" >&2; exit 1; }
t_build=$((SECONDS - t0))

cleanup() {
  "$HERE/cluster.sh" down || true
  rm -rf "/etc/netns/$NETNS"
}
trap cleanup EXIT
"$HERE/cluster.sh" down >/dev/null 2>&1 || true
# One retry: once in a clean-clone run the apiserver exited at start with an
# empty log and the next start was fine.
if ! "$HERE/cluster.sh" up; then
  echo "e2e-argo: the control plane did not start; retrying once" >&2
  "$HERE/cluster.sh" down >/dev/null 2>&1 || true
  sleep 2
  "$HERE/cluster.sh" up
fi
# The examples push to http://pushgateway.monitoring.svc:9091: inside the
# namespace that name is loopback, where the test starts a real Pushgateway.
# (ip netns exec bind-mounts /etc/netns/NAME/hosts over /etc/hosts.)
mkdir -p "/etc/netns/$NETNS"
printf '127.0.0.1 localhost pushgateway.monitoring.svc\n::1 localhost\n' >"/etc/netns/$NETNS/hosts"

kc() { "$HERE/cluster.sh" kubectl "$@"; }
kc create namespace ml
# No kube-controller-manager runs, so nothing creates ServiceAccounts.
kc -n ml create serviceaccount default
# What a user runs:
kc apply -k "$ROOT/templates" -n ml
kc -n ml get role,rolebinding -o name
t_up=$((SECONDS - t0 - t_build))

cd "$HERE"
# Each finished workflow's status (at exit-handler time and at the end) is
# written there; STEPM_E2E_RECORD_DIR=$ROOT/testdata/argo/recorded refreshes
# the fixtures (testdata/argo/recorded/INDEX.md).
RECORD_DIR=${STEPM_E2E_RECORD_DIR:-$OUT/recorded}
ip netns exec "$NETNS" env KUBECONFIG="$RUN_DIR/kubeconfig" STEP_METRICS_BIN="$OUT/step-metrics" \
  PUSHGATEWAY_BIN="$PGW" PATH="$PATH" HOME="$HOME" \
  STEPM_E2E_RECORD_DIR="$RECORD_DIR" STEPM_E2E_ARGO_VERSION="$ARGO_VERSION" \
  "$OUT/e2e-argo.test" -test.v -test.count=1 -test.timeout=15m ${E2E_ARGS:-}
echo "e2e-argo: build ${t_build}s, cluster up ${t_up}s, tests $((SECONDS - t0 - t_build - t_up))s, total $((SECONDS - t0))s" >&2
