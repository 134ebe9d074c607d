#!/usr/bin/env bash
# The real-cluster tier (make e2e-argo): builds the control plane once
# (cached outside the repo by build.sh), starts it in its own network
# namespace, installs templates/ with `kubectl apply -k`, and runs
# e2e_test.go (the example workflows, driven by Argo's real controller)
# inside the namespace. Stops everything on exit. Needs root (ip netns).
#
# STEPM_E2E_ARGO=v3|v4|both (default both): the same tests run against the
# v3 workflow-controller (ARGO_VERSION) and then, on a fresh cluster, against
# the v4 one (ARGO4_VERSION, test tier only, never shipped). Exit status is
# non-zero if either fails; both run regardless.
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

case "${STEPM_E2E_ARGO:-both}" in
  v3) majors=(v3); targets=(etcd kube kwok argo) ;;
  v4) majors=(v4); targets=(etcd kube kwok argo4) ;;
  both) majors=(v3 v4); targets=(etcd kube kwok argo argo4) ;;
  *) echo "e2e-argo: STEPM_E2E_ARGO must be v3, v4 or both (got '$STEPM_E2E_ARGO')" >&2; exit 2 ;;
esac

echo "e2e-argo: build control plane: ${targets[*]} (cached in ${STEP_METRICS_CACHE:-$HOME/.cache/step-metrics}/bin)" >&2
"$HERE/build.sh" "${targets[@]}" >"$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log" >&2; exit 1; }
echo "e2e-argo: build step-metrics and the test binary" >&2
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$OUT/step-metrics" ./cmd/step-metrics \
  && go vet -tags e2eargo ./test/e2e-argo \
  && go test -c -tags e2eargo -o "$OUT/e2e-argo.test" ./test/e2e-argo)
PGW=${PUSHGATEWAY_BIN:-$(command -v pushgateway || command -v prometheus-pushgateway)}
[ -x "$PGW" ] || { echo "e2e-argo: no Pushgateway binary (scripts/test-deps.sh)" >&2; exit 1; }
t_build=$((SECONDS - t0))

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  # down does not depend on the controller; cluster.sh accepts only v3|v4.
  STEPM_E2E_ARGO=v3 "$HERE/cluster.sh" down || true
  rm -rf "/etc/netns/$NETNS"
}
trap cleanup EXIT

# tier MAJOR: a fresh cluster with that Argo controller, templates/ applied
# as a user would, the test binary inside the netns, then down.
tier() {
  local major=$1 version record t1=$SECONDS t_up t_tests
  export STEPM_E2E_ARGO=$major
  if [ "$major" = v4 ]; then version=$ARGO4_VERSION; else version=$ARGO_VERSION; fi
  echo "e2e-argo: === Argo workflow-controller $version ===" >&2
  "$HERE/cluster.sh" down >/dev/null 2>&1 || true
  # One retry: once in a clean-clone run the apiserver exited at start with an
  # empty log and the next start was fine.
  if ! "$HERE/cluster.sh" up; then
    echo "e2e-argo: the control plane did not start; retrying once" >&2
    "$HERE/cluster.sh" down >/dev/null 2>&1 || true
    sleep 2
    "$HERE/cluster.sh" up || return 1
  fi
  # The examples push to http://pushgateway.monitoring.svc:9091: inside the
  # namespace that name is loopback, where the test starts a real Pushgateway.
  # (ip netns exec bind-mounts /etc/netns/NAME/hosts over /etc/hosts.)
  mkdir -p "/etc/netns/$NETNS"
  printf '127.0.0.1 localhost pushgateway.monitoring.svc\n::1 localhost\n' >"/etc/netns/$NETNS/hosts"

  kc create namespace ml || return 1
  # No kube-controller-manager runs, so nothing creates ServiceAccounts.
  kc -n ml create serviceaccount default || return 1
  # What a user runs:
  kc apply -k "$ROOT/templates" -n ml || return 1
  kc -n ml get role,rolebinding -o name || return 1
  t_up=$((SECONDS - t1))

  # Each finished workflow's status (at exit-handler time and at the end) is
  # written there; STEPM_E2E_RECORD_DIR=$ROOT/testdata/argo/recorded refreshes
  # the fixtures (testdata/argo/recorded/INDEX.md) from the v3 run. The v4
  # run records into STEPM_E2E_RECORD_DIR_V4 (default $OUT/recorded-$ARGO4_VERSION),
  # so it never overwrites the v3 fixtures.
  if [ "$major" = v4 ]; then
    record=${STEPM_E2E_RECORD_DIR_V4:-$OUT/recorded-$ARGO4_VERSION}
  else
    record=${STEPM_E2E_RECORD_DIR:-$OUT/recorded}
  fi
  local rc=0
  # E2E_ARGS is split on purpose (several -test.* flags).
  # shellcheck disable=SC2086
  (cd "$HERE" && ip netns exec "$NETNS" env KUBECONFIG="$RUN_DIR/kubeconfig" STEP_METRICS_BIN="$OUT/step-metrics" \
    PUSHGATEWAY_BIN="$PGW" PATH="$PATH" HOME="$HOME" \
    STEPM_E2E_RECORD_DIR="$record" STEPM_E2E_ARGO_VERSION="$version" \
    "$OUT/e2e-argo.test" -test.v -test.count=1 -test.timeout=15m ${E2E_ARGS:-}) || rc=$?
  t_tests=$((SECONDS - t1 - t_up))
  "$HERE/cluster.sh" down || true
  summary+=("Argo $version: $([ $rc -eq 0 ] && echo PASS || echo "FAIL (rc $rc)"), cluster up ${t_up}s, tests ${t_tests}s, down $((SECONDS - t1 - t_up - t_tests))s")
  return $rc
}

kc() { "$HERE/cluster.sh" kubectl "$@"; }
summary=()
failed=0
for major in "${majors[@]}"; do
  n=${#summary[@]}
  if ! tier "$major"; then
    failed=1
    [ ${#summary[@]} -gt "$n" ] || summary+=("STEPM_E2E_ARGO=$major: cluster or templates setup FAILED")
  fi
done
for line in "${summary[@]}"; do echo "e2e-argo: $line" >&2; done
echo "e2e-argo: build ${t_build}s, total $((SECONDS - t0))s" >&2
exit $failed
