# shellcheck shell=bash disable=SC2034
# Sourced by build.sh and cluster.sh: the pinned versions of the heavy e2e tier.
# Every version is explicit: the Go module proxy used here refuses @v/list.
ETCD_VERSION=v3.6.4            # go.etcd.io/etcd/server/v3 (its module root is package main)
K8S_VERSION=v1.34.4            # k8s.io/kubernetes: kube-apiserver, kube-scheduler, kubectl
K8S_STAGING_VERSION=v0.34.4    # k8s.io/* staging modules, same patch as K8S_VERSION
KWOK_VERSION=v0.7.0            # sigs.k8s.io/kwok cmd/kwok
ARGO_VERSION=v3.7.12           # github.com/argoproj/argo-workflows/v3 cmd/workflow-controller (= go.mod of the repo)

STEP_METRICS_CACHE=${STEP_METRICS_CACHE:-$HOME/.cache/step-metrics}
E2E_BIN_DIR=${E2E_BIN_DIR:-$STEP_METRICS_CACHE/bin}

# Versioned binary names: a version bump makes build.sh build anew.
ETCD_BIN=$E2E_BIN_DIR/etcd-$ETCD_VERSION
KUBE_APISERVER_BIN=$E2E_BIN_DIR/kube-apiserver-$K8S_VERSION
KUBE_SCHEDULER_BIN=$E2E_BIN_DIR/kube-scheduler-$K8S_VERSION
KUBECTL_BIN=$E2E_BIN_DIR/kubectl-$K8S_VERSION
KWOK_BIN=$E2E_BIN_DIR/kwok-$KWOK_VERSION
WORKFLOW_CONTROLLER_BIN=$E2E_BIN_DIR/workflow-controller-$ARGO_VERSION
