# shellcheck shell=bash disable=SC2034
# Sourced by build.sh and cluster.sh: the pinned versions of the heavy e2e tier.
# Every version is explicit: the Go module proxy used here refuses @v/list.
ETCD_VERSION=v3.6.4            # go.etcd.io/etcd/server/v3 (its module root is package main)
K8S_VERSION=v1.34.4            # k8s.io/kubernetes: kube-apiserver, kube-scheduler, kubectl
K8S_STAGING_VERSION=v0.34.4    # k8s.io/* staging modules, same patch as K8S_VERSION
KWOK_VERSION=v0.7.0            # sigs.k8s.io/kwok cmd/kwok
ARGO_VERSION=v3.7.12           # github.com/argoproj/argo-workflows/v3 cmd/workflow-controller (= go.mod of the repo)
# github.com/argoproj/argo-workflows/v4 cmd/workflow-controller: v4.1.2 and
# v4.1.1 are refused by the module proxy here (403), v4.0.5 is served. TEST TIER
# ONLY, never shipped: v4.0.5 has known security advisories. It runs only inside
# the isolated netns of this tier; the repo's go.mod stays on v3 (ARGO_VERSION).
ARGO4_VERSION=v4.0.5

STEP_METRICS_CACHE=${STEP_METRICS_CACHE:-$HOME/.cache/step-metrics}
E2E_BIN_DIR=${E2E_BIN_DIR:-$STEP_METRICS_CACHE/bin}

# Versioned binary names: a version bump makes build.sh build anew.
ETCD_BIN=$E2E_BIN_DIR/etcd-$ETCD_VERSION
KUBE_APISERVER_BIN=$E2E_BIN_DIR/kube-apiserver-$K8S_VERSION
KUBE_SCHEDULER_BIN=$E2E_BIN_DIR/kube-scheduler-$K8S_VERSION
KUBECTL_BIN=$E2E_BIN_DIR/kubectl-$K8S_VERSION
KWOK_BIN=$E2E_BIN_DIR/kwok-$KWOK_VERSION
WORKFLOW_CONTROLLER_BIN=$E2E_BIN_DIR/workflow-controller-$ARGO_VERSION
WORKFLOW_CONTROLLER4_BIN=$E2E_BIN_DIR/workflow-controller-$ARGO4_VERSION
