#!/usr/bin/env bash
# A throwaway Kubernetes control plane with a kwok fake node and Argo's
# workflow-controller, all inside a network namespace of its own, for the heavy
# e2e tier. Binaries come from build.sh's cache (run that first).
#
#   test/e2e-argo/cluster.sh up        start etcd, kube-apiserver, kube-scheduler, kwok,
#                                      workflow-controller (fresh state each time)
#   test/e2e-argo/cluster.sh down      stop them (only the pids this script started), delete the netns
#   test/e2e-argo/cluster.sh env       print shell exports (KUBECONFIG, netns, kubectl) for clients
#   test/e2e-argo/cluster.sh status    which components run
#   test/e2e-argo/cluster.sh smoke     submit a one-step Workflow and wait for it to be Succeeded
#   test/e2e-argo/cluster.sh exec CMD  run CMD inside the netns with KUBECONFIG set
#   test/e2e-argo/cluster.sh kubectl ARGS   kubectl inside the netns
#
# The API server listens on https://127.0.0.1:6443 INSIDE the netns only, so
# every client (kubectl, go test) must run via `ip netns exec` (or `cluster.sh exec`).
# State (pids, logs, certs, kubeconfig, etcd data) lives in $STEPM_E2E_RUN_DIR
# (default /tmp/stepm-e2e), outside the repo. Needs root (ip netns).
# STEPM_E2E_ARGO=v3 (default: ARGO_VERSION) or v4 (ARGO4_VERSION, test tier
# only) picks the workflow-controller `up` starts, and the CRDs of that version.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.sh
. "$HERE/versions.sh"

RUN_DIR=${STEPM_E2E_RUN_DIR:-/tmp/stepm-e2e}
NETNS=${STEPM_E2E_NETNS:-stepm-e2e}
API_PORT=${STEPM_E2E_API_PORT:-6443}
ARGO_NS=${STEPM_E2E_ARGO_NAMESPACE:-argo}
ARGO_CRDS=${STEPM_E2E_ARGO_CRDS:-minimal}      # minimal | full (manifests/base/crds/<this>)
POD_RUN_MS=${STEPM_E2E_POD_RUN_MS:-1000}       # how long kwok keeps a pod Running before Succeeded
NODE_NAME=${STEPM_E2E_NODE_NAME:-kwok-node-0}
SERVICE_CIDR=10.96.0.0/16                      # virtual only: nothing routes to it
KUBECONFIG_FILE=$RUN_DIR/kubeconfig
PKI=$RUN_DIR/pki
COMPONENTS=(etcd kube-apiserver kube-scheduler kwok workflow-controller)
# Which Argo major `up` runs: its controller binary, version and module (for the CRDs).
case "${STEPM_E2E_ARGO:-v3}" in
  v3) CTRL_BIN=$WORKFLOW_CONTROLLER_BIN CTRL_VERSION=$ARGO_VERSION
      CTRL_MODULE=github.com/argoproj/argo-workflows/v3 CTRL_BUILD=argo ;;
  v4) CTRL_BIN=$WORKFLOW_CONTROLLER4_BIN CTRL_VERSION=$ARGO4_VERSION
      CTRL_MODULE=github.com/argoproj/argo-workflows/v4 CTRL_BUILD=argo4 ;;
  *) echo "cluster.sh: STEPM_E2E_ARGO must be v3 or v4 (got '$STEPM_E2E_ARGO')" >&2; exit 2 ;;
esac

log() { echo "cluster.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

in_ns() { ip netns exec "$NETNS" "$@"; }

kubectl_bin() {
  if [ -x "$KUBECTL_BIN" ]; then echo "$KUBECTL_BIN"
  elif command -v kubectl >/dev/null 2>&1; then command -v kubectl
  else die "no kubectl: run test/e2e-argo/build.sh kube (builds $KUBECTL_BIN)"
  fi
}

kc() { in_ns env KUBECONFIG="$KUBECONFIG_FILE" "$(kubectl_bin)" "$@"; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "needs root for 'ip netns' (run as root)"
  command -v ip >/dev/null || die "ip (iproute2) not found: apt-get install iproute2"
  command -v openssl >/dev/null || die "openssl not found: apt-get install openssl"
  command -v curl >/dev/null || die "curl not found: apt-get install curl"
}

need_bins() {
  local b missing=0
  for b in "$ETCD_BIN" "$KUBE_APISERVER_BIN" "$KUBE_SCHEDULER_BIN" "$KWOK_BIN" "$CTRL_BIN"; do
    if [ ! -x "$b" ]; then log "missing binary $b"; missing=1; fi
  done
  [ $missing -eq 0 ] || die "run test/e2e-argo/build.sh first (e.g. build.sh $CTRL_BUILD; it caches into $E2E_BIN_DIR)"
}

pid_of() { cat "$RUN_DIR/$1.pid" 2>/dev/null || true; }

# alive NAME: the recorded pid still runs one of our cached binaries (pids get
# reused; a zombie has an empty cmdline). Right after start the pid may still be
# `setsid ip netns exec BIN ...`, whose cmdline names BIN too.
alive() {
  local pid
  pid=$(pid_of "$1")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$E2E_BIN_DIR/"
}

# start NAME [ENV=VAL ...] -- BIN ARGS...: runs in the netns in the background.
start() {
  local name=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  log "starting $name"
  # `ip netns exec` execs the command, so $! is the component's own pid.
  # setsid: its own session, so a Ctrl-C in this shell does not reach it.
  env ${envs[@]+"${envs[@]}"} setsid ip netns exec "$NETNS" "$@" >"$RUN_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

# wait_for NAME TIMEOUT_S CMD...: polls CMD until it succeeds; fails early if NAME died.
wait_for() {
  local name=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name"; then
      log "$name exited; last lines of $RUN_DIR/$name.log:"; tail -n 30 "$RUN_DIR/$name.log" >&2 || true
      die "$name failed to start"
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "last lines of $RUN_DIR/$name.log:"; tail -n 30 "$RUN_DIR/$name.log" >&2 || true
      die "$name not ready after ${timeout}s"
    fi
    sleep 1
  done
  log "$name ready"
}

gen_pki() {
  mkdir -p "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=stepm-e2e-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf '%s\n' \
      "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
      "extendedKeyUsage=serverAuth" "keyUsage=digitalSignature,keyEncipherment" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out apiserver.crt -days 3650 -extfile apiserver.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    # token,user,uid,"groups": the admin token every component and test uses.
    echo "$(openssl rand -hex 24),stepm-admin,stepm-admin,\"system:masters\"" >tokens.csv
    chmod 600 ./*.key tokens.csv
  )
  local token
  token=$(cut -d, -f1 "$PKI/tokens.csv")
  cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: stepm-e2e
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: stepm-admin
  user:
    token: $token
contexts:
- name: stepm-e2e
  context: {cluster: stepm-e2e, user: stepm-admin, namespace: $ARGO_NS}
current-context: stepm-e2e
EOF
  chmod 600 "$KUBECONFIG_FILE"
}

write_kwok_config() {
  # Node stages: kwok's defaults (node-initialize + heartbeat). Pod stages are
  # our own, because kwok's default pod-complete only completes pods owned by a
  # Job: here every Running pod on the fake node turns Succeeded (all containers
  # terminated, exit code 0) after POD_RUN_MS ms, or after the duration in its
  # annotation stepm-e2e/duration (e.g. "3s"), which Argo reads as a successful
  # step (no WorkflowTaskResult needed: none is expected then). Pods labelled
  # example.step-metrics.io/outcome: fail (as the failing example's step is)
  # fail instead (stage pod-fail). step-metrics' own exit-handler pods
  # (label app.kubernetes.io/component: exit-handler) and pods labelled
  # stepm-e2e/kubelet: test are left Running: the test plays kubelet for
  # them and writes their final status itself (pods/status), with real
  # container start and end times (e2e_test.go release, kubelet_test.go).
  cat >"$RUN_DIR/kwok.yaml" <<'EOF'
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: 'DoesNotExist'}
    - {key: '.status.podIP', operator: 'DoesNotExist'}
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        started: true
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Running
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-complete
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: 'DoesNotExist'}
    - {key: '.status.phase', operator: 'In', values: ['Running']}
    - {key: '.metadata.labels["example.step-metrics.io/outcome"]', operator: 'DoesNotExist'}
    - {key: '.metadata.labels["app.kubernetes.io/component"]', operator: 'DoesNotExist'}
    - {key: '.metadata.labels["stepm-e2e/kubelet"]', operator: 'DoesNotExist'}
  delay:
    durationMilliseconds: POD_RUN_MS
    durationFrom:
      expressionFrom: '.metadata.annotations["stepm-e2e/duration"]'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        type: Ready
        reason: PodCompleted
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        type: ContainersReady
        reason: PodCompleted
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Succeeded
---
# A pod labelled example.step-metrics.io/outcome: fail fails instead: its "main" container
# (Argo's user container) ends with exit code stepm-e2e/exit-code (default 1),
# the others with 0, and the pod phase is Failed.
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-fail
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: 'DoesNotExist'}
    - {key: '.status.phase', operator: 'In', values: ['Running']}
    - {key: '.metadata.labels["example.step-metrics.io/outcome"]', operator: 'In', values: ['fail']}
    - {key: '.metadata.labels["stepm-e2e/kubelet"]', operator: 'DoesNotExist'}
  delay:
    durationMilliseconds: POD_RUN_MS
    durationFrom:
      expressionFrom: '.metadata.annotations["stepm-e2e/duration"]'
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $annotations := or .metadata.annotations dict }}
      {{ $exitCode := or ( index $annotations "stepm-e2e/exit-code" ) 1 }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        type: Ready
        reason: PodFailed
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        type: ContainersReady
        reason: PodFailed
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            {{ if eq .name "main" }}
            exitCode: {{ $exitCode }}
            reason: Error
            {{ else }}
            exitCode: 0
            reason: Completed
            {{ end }}
            finishedAt: {{ $now | Quote }}
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Failed
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: 'Exists'}
  next:
    finalizers: {empty: true}
    delete: true
EOF
  sed -i "s/POD_RUN_MS/$POD_RUN_MS/" "$RUN_DIR/kwok.yaml"
}

argo_crd_dir() {
  local dir
  dir=$(cd / && GOFLAGS='' go mod download -json "$CTRL_MODULE@$CTRL_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -d "$dir/manifests/base/crds/$ARGO_CRDS" ] || die "no Argo CRDs at $dir/manifests/base/crds/$ARGO_CRDS"
  echo "$dir/manifests/base/crds/$ARGO_CRDS"
}

api_ready() {
  in_ns curl -sf --max-time 3 --cacert "$PKI/ca.crt" \
    -H "Authorization: Bearer $(cut -d, -f1 "$PKI/tokens.csv")" "https://127.0.0.1:$API_PORT/readyz"
}

cmd_up() {
  need_root; need_bins
  command -v go >/dev/null || die "go not on PATH (needed to locate Argo's CRDs in the module cache)"
  if alive kube-apiserver; then
    log "already up (run dir $RUN_DIR); 'cluster.sh down' first for a fresh one"; cmd_status; return 0
  fi
  local t0=$SECONDS crd_dir
  crd_dir=$(argo_crd_dir)
  cmd_down_quiet
  rm -rf "$RUN_DIR"; mkdir -p "$RUN_DIR"
  log "run dir $RUN_DIR, netns $NETNS"
  ip netns add "$NETNS"
  in_ns ip link set lo up
  gen_pki
  write_kwok_config

  start etcd -- "$ETCD_BIN" --name stepm-e2e --data-dir "$RUN_DIR/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster stepm-e2e=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn
  wait_for etcd 60 in_ns curl -sf --max-time 2 http://127.0.0.1:2379/health

  start kube-apiserver -- "$KUBE_APISERVER_BIN" \
    --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
    --cert-dir="$RUN_DIR/apiserver-certs" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --endpoint-reconciler-type=none \
    --enable-priority-and-fairness=false --profiling=false --allow-privileged=true
  wait_for kube-apiserver 180 api_ready

  start kube-scheduler -- "$KUBE_SCHEDULER_BIN" \
    --kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" \
    --authorization-kubeconfig="$KUBECONFIG_FILE" --leader-elect=false \
    --bind-address=127.0.0.1 --secure-port=10259 --cert-dir="$RUN_DIR/scheduler-certs"
  wait_for kube-scheduler 90 in_ns curl -sfk --max-time 2 https://127.0.0.1:10259/healthz

  # The fake node: kwok manages only nodes with this annotation; no taints, so
  # Argo's pods need no tolerations.
  log "creating fake node $NODE_NAME"
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE_NAME
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $NODE_NAME
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "250"}
  capacity: {cpu: "32", memory: 256Gi, pods: "250"}
EOF
  start kwok -- "$KWOK_BIN" --kubeconfig="$KUBECONFIG_FILE" -c "$RUN_DIR/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake
  wait_for kwok 60 kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  # The TaintNodesByCondition admission plugin gave the new node the taint
  # node.kubernetes.io/not-ready:NoSchedule; the node lifecycle controller of
  # kube-controller-manager would lift it once Ready, but none runs here.
  kc taint node "$NODE_NAME" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
  [ -z "$(kc get node "$NODE_NAME" -o 'jsonpath={.spec.taints}')" ] || die "node $NODE_NAME still has taints"

  log "applying Argo $CTRL_VERSION CRDs ($ARGO_CRDS) from $crd_dir"
  local f
  for f in "$crd_dir"/argoproj.io_*.yaml; do
    kc apply --server-side -f - >/dev/null <"$f"
  done
  kc wait --for=condition=Established crd --all --timeout=60s >/dev/null

  # Namespaces for workflows, with their default ServiceAccount: no
  # kube-controller-manager runs, so nothing else creates it, and the
  # ServiceAccount admission plugin refuses pods without it.
  local ns
  for ns in $ARGO_NS default; do
    kc get namespace "$ns" >/dev/null 2>&1 || kc create namespace "$ns" >/dev/null
    kc -n "$ns" get serviceaccount default >/dev/null 2>&1 || kc -n "$ns" create serviceaccount default >/dev/null
  done
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: workflow-controller-configmap
  namespace: $ARGO_NS
data:
  # Kept small on purpose; tests may patch it (the controller watches it).
  parallelism: "20"
EOF

  start workflow-controller LEADER_ELECTION_DISABLE=true LEADER_ELECTION_IDENTITY=stepm-e2e \
    DEFAULT_REQUEUE_TIME=1s -- "$CTRL_BIN" \
    --kubeconfig="$KUBECONFIG_FILE" --namespace="$ARGO_NS" \
    --configmap=workflow-controller-configmap \
    --executor-image="quay.io/argoproj/argoexec:$CTRL_VERSION" --loglevel=info
  wait_for workflow-controller 90 in_ns curl -sf --max-time 2 http://127.0.0.1:6060/healthz
  echo "$CTRL_VERSION" >"$RUN_DIR/argo-version"

  log "up in $((SECONDS - t0))s. Clients run inside the netns, e.g.:"
  log "  eval \"\$($0 env)\"; ip netns exec $NETNS \$KUBECTL get nodes"
  log "  $0 kubectl get wf -A      |  $0 smoke"
}

cmd_down_quiet() {
  local i name pid n
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    name=${COMPONENTS[$i]}
    if alive "$name"; then
      pid=$(pid_of "$name")
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for ((n = 0; n < 100; n++)); do alive "$name" || break; sleep 0.1; done
      if alive "$name"; then log "$name still running: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
  if ip netns list 2>/dev/null | grep -qw "^$NETNS"; then
    ip netns del "$NETNS"
  fi
}

cmd_down() {
  need_root
  cmd_down_quiet
  log "down (logs kept in $RUN_DIR)"
}

cmd_status() {
  local name rc=0
  echo "argo: $(cat "$RUN_DIR/argo-version" 2>/dev/null || echo '?') (STEPM_E2E_ARGO at up)"
  for name in "${COMPONENTS[@]}"; do
    if alive "$name"; then echo "$name: running (pid $(pid_of "$name"), log $RUN_DIR/$name.log)"
    else echo "$name: not running"; rc=1; fi
  done
  return $rc
}

cmd_env() {
  cat <<EOF
export KUBECONFIG=$KUBECONFIG_FILE
export STEPM_E2E_NETNS=$NETNS
export STEPM_E2E_RUN_DIR=$RUN_DIR
export STEPM_E2E_ARGO_NAMESPACE=$ARGO_NS
export STEPM_E2E_ARGO_VERSION=$(cat "$RUN_DIR/argo-version" 2>/dev/null || echo "$CTRL_VERSION")
export KUBECTL=$(kubectl_bin)
# Clients must run inside the netns: ip netns exec $NETNS <command>
EOF
}

cmd_smoke() {
  alive kube-apiserver || die "cluster not up: run '$0 up'"
  local name phase deadline=$((SECONDS + ${STEPM_E2E_SMOKE_TIMEOUT:-120}))
  name=$(kc -n "$ARGO_NS" create -o 'jsonpath={.metadata.name}' -f - <<'EOF'
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: stepm-smoke-
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: busybox:1.36
      command: [sh, -c, "echo hello from a pod kwok never runs"]
EOF
)
  log "submitted workflow $ARGO_NS/$name"
  while :; do
    phase=$(kc -n "$ARGO_NS" get workflow "$name" -o 'jsonpath={.status.phase}' 2>/dev/null || true)
    case "$phase" in
      Succeeded) log "workflow $name Succeeded"; break ;;
      Failed|Error)
        kc -n "$ARGO_NS" get workflow "$name" -o yaml >&2 || true
        die "workflow $name ended $phase" ;;
    esac
    if [ $SECONDS -ge $deadline ]; then
      kc -n "$ARGO_NS" get workflow "$name" -o yaml >&2 || true
      kc -n "$ARGO_NS" get pods -o wide >&2 || true
      die "workflow $name still '${phase:-<none>}' after timeout"
    fi
    sleep 1
  done
  kc -n "$ARGO_NS" get workflow "$name" \
    -o 'custom-columns=NAME:.metadata.name,PHASE:.status.phase,STARTED:.status.startedAt,FINISHED:.status.finishedAt,PROGRESS:.status.progress'
  kc -n "$ARGO_NS" get pods -l "workflows.argoproj.io/workflow=$name" -o wide
}

cmd=${1:-}
[ $# -eq 0 ] || shift
case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  smoke) cmd_smoke ;;
  exec) [ $# -gt 0 ] || die "usage: $0 exec CMD [ARGS...]"
        need_root; in_ns env KUBECONFIG="$KUBECONFIG_FILE" "$@" ;;
  kubectl) need_root; kc "$@" ;;
  *) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
