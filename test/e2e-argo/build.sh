#!/usr/bin/env bash
# Builds, once, the binaries of the heavy e2e tier from the Go module proxy and
# caches them OUTSIDE the repo, in ${STEP_METRICS_CACHE:-$HOME/.cache/step-metrics}/bin
# (or $E2E_BIN_DIR). Idempotent: a binary whose versioned file already exists is
# not built again (names carry the version, e.g. kube-apiserver-v1.34.4).
#
# Each upstream main is built through a throwaway wrapper module in
# $STEP_METRICS_CACHE/wrappers/<name>: go.mod (require + the upstream's replace
# directives), tools.go with a blank import of the main package, `go mod tidy`,
# then `go build`. Nothing in the repo is touched.
#
# Usage: test/e2e-argo/build.sh [etcd|kube|kwok|argo|argo4 ...]   (default: all)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.sh
. "$HERE/versions.sh"

WRAP_DIR=$STEP_METRICS_CACHE/wrappers
TIMES_LOG=$E2E_BIN_DIR/build-times.log
mkdir -p "$E2E_BIN_DIR" "$WRAP_DIR"

export GOFLAGS=-mod=mod CGO_ENABLED=0 GOWORK=off GO111MODULE=on

log() { echo "build.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH"

# upstream_gomod MODULE VERSION: prints the path of that version's go.mod in the module cache.
upstream_gomod() {
  local out
  out=$(cd "$WRAP_DIR" && GOFLAGS='' go mod download -json "$1@$2") || die "go mod download $1@$2 failed"
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$out"
}

# upstream_replaces GOMOD [STAGING_VERSION]: the upstream's replace directives,
# one "old => new [version]" a line. Local-path targets (./staging/src/k8s.io/X)
# become "k8s.io/X => k8s.io/X STAGING_VERSION"; other local paths are dropped.
upstream_replaces() {
  local gomod=$1 staging=${2:-}
  awk '
    /^replace[ \t]*\(/ { blk = 1; next }
    blk && /^\)/        { blk = 0; next }
    blk                 { print; next }
    /^replace[ \t]/     { sub(/^replace[ \t]+/, ""); print }
  ' "$gomod" | sed 's://.*$::' | while read -r lhs arrow rhs rest; do
    [ -n "${lhs:-}" ] || continue
    [ "$arrow" = "=>" ] || continue
    case "$rhs" in
      ./*|../*)
        if [ -n "$staging" ]; then
          echo "$lhs => $lhs $staging"
        else
          log "note: skipping upstream's local replace '$lhs => $rhs' (its require line pins the version)"
        fi ;;
      *) echo "$lhs => $rhs${rest:+ $rest}" ;;
    esac
  done
}

# make_wrapper NAME MODULE VERSION STAGING_VERSION MAIN_PKG...
# Writes $WRAP_DIR/NAME/{go.mod,tools.go} and runs go mod tidy.
make_wrapper() {
  local name=$1 mod=$2 ver=$3 staging=$4; shift 4
  local dir=$WRAP_DIR/$name gomod goline godebug pkg
  gomod=$(upstream_gomod "$mod" "$ver")
  [ -f "$gomod" ] || die "no go.mod for $mod@$ver"
  goline=$(grep -m1 '^go ' "$gomod" || echo "go 1.24.0")
  godebug=$(grep '^godebug ' "$gomod" || true)
  rm -rf "$dir"; mkdir -p "$dir"
  {
    echo "// Throwaway wrapper written by step-metrics test/e2e-argo/build.sh; safe to delete."
    echo "module stepm-e2e-wrapper/$name"
    echo
    echo "$goline"
    [ -z "$godebug" ] || echo "$godebug"
    echo
    echo "require $mod $ver"
    local reps
    reps=$(upstream_replaces "$gomod" "$staging")
    if [ -n "$reps" ]; then
      echo
      echo "replace ("
      while IFS= read -r r; do printf '\t%s\n' "$r"; done <<<"$reps"
      echo ")"
    fi
  } >"$dir/go.mod"
  {
    echo "//go:build tools"
    echo
    echo "// Package tools pins the main packages that build.sh builds."
    echo "package tools"
    echo
    echo "import ("
    for pkg in "$@"; do echo "	_ \"$pkg\""; done
    echo ")"
  } >"$dir/tools.go"
  log "[$name] go mod tidy ($mod@$ver)"
  (cd "$dir" && go mod tidy) || die "[$name] go mod tidy failed (see $dir/go.mod)"
}

# build_group NAME MODULE VERSION STAGING_VERSION LDFLAGS "PKG=DEST" ...
# Builds the listed main packages whose DEST does not exist yet.
build_group() {
  local name=$1 mod=$2 ver=$3 staging=$4 ldflags=$5; shift 5
  local spec pkg dest todo=() pkgs=() start end tmp i
  for spec in "$@"; do
    pkg=${spec%%=*}; dest=${spec#*=}
    if [ -x "$dest" ]; then
      log "[$name] cached: $dest"
    else
      todo+=("$spec"); pkgs+=("$pkg")
    fi
  done
  [ ${#todo[@]} -gt 0 ] || return 0
  start=$(date +%s)
  make_wrapper "$name" "$mod" "$ver" "$staging" "${pkgs[@]}"
  tmp=$(mktemp -d "$E2E_BIN_DIR/.build-$name.XXXXXX")
  for spec in "${todo[@]}"; do
    pkg=${spec%%=*}; dest=${spec#*=}
    log "[$name] go build $pkg (GOMAXPROCS default, $(nproc) cores)"
    local b0=$SECONDS
    if ! (cd "$WRAP_DIR/$name" && go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/out" "$pkg"); then
      rm -rf "$tmp"; die "[$name] go build $pkg failed"
    fi
    mv -f "$tmp/out" "$dest"
    # convenience symlink without the version: kube-apiserver -> kube-apiserver-v1.34.4
    # (BUILD_LINK_SUFFIX keeps a second major apart: workflow-controller-v4 -> ...-v4.0.5)
    ln -sfn "$(basename "$dest")" "$E2E_BIN_DIR/$(basename "$dest" "-$ver")${BUILD_LINK_SUFFIX:-}"
    log "[$name] built $dest in $((SECONDS - b0))s"
  done
  rm -rf "$tmp"
  end=$(date +%s)
  i=$((end - start))
  printf '%s\t%s\t%s@%s\t%ss\t%s\t%s\n' "$(date -u +%FT%TZ)" "$name" "$mod" "$ver" "$i" \
    "$(go env GOVERSION)" "$(for s in "${todo[@]}"; do basename "${s#*=}"; done | tr '\n' ' ')" >>"$TIMES_LOG"
  log "[$name] done in ${i}s"
}

k8s_ldflags() {
  local v=$K8S_VERSION major minor f=""
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    f+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$f"
}

build_etcd() {
  build_group etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "" "" \
    "go.etcd.io/etcd/server/v3=$ETCD_BIN"
}
# The module root of go.etcd.io/etcd/server/v3 is itself package main (main.go
# calls etcdmain.Main); there is no cmd/etcd in that module.

build_kube() {
  build_group kube k8s.io/kubernetes "$K8S_VERSION" "$K8S_STAGING_VERSION" "$(k8s_ldflags)" \
    "k8s.io/kubernetes/cmd/kube-apiserver=$KUBE_APISERVER_BIN" \
    "k8s.io/kubernetes/cmd/kube-scheduler=$KUBE_SCHEDULER_BIN" \
    "k8s.io/kubernetes/cmd/kubectl=$KUBECTL_BIN"
}

build_kwok() {
  build_group kwok sigs.k8s.io/kwok "$KWOK_VERSION" "" "" \
    "sigs.k8s.io/kwok/cmd/kwok=$KWOK_BIN"
}

build_argo() {
  build_group argo github.com/argoproj/argo-workflows/v3 "$ARGO_VERSION" "" \
    "-X github.com/argoproj/argo-workflows/v3.version=$ARGO_VERSION -X github.com/argoproj/argo-workflows/v3.gitTreeState=clean" \
    "github.com/argoproj/argo-workflows/v3/cmd/workflow-controller=$WORKFLOW_CONTROLLER_BIN"
}

# Argo v4 (ARGO4_VERSION): the tier runs the same tests against it too. Test
# tier only, never shipped (see versions.sh); the repo's go.mod stays on v3.
build_argo4() {
  BUILD_LINK_SUFFIX=-v4 build_group argo4 github.com/argoproj/argo-workflows/v4 "$ARGO4_VERSION" "" \
    "-X github.com/argoproj/argo-workflows/v4.version=$ARGO4_VERSION -X github.com/argoproj/argo-workflows/v4.gitTreeState=clean" \
    "github.com/argoproj/argo-workflows/v4/cmd/workflow-controller=$WORKFLOW_CONTROLLER4_BIN"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(etcd kube kwok argo argo4)
log "cache: $E2E_BIN_DIR ($(go env GOVERSION), GOFLAGS=$GOFLAGS CGO_ENABLED=$CGO_ENABLED)"
all_start=$(date +%s)
for t in "${targets[@]}"; do
  case "$t" in
    etcd) build_etcd ;;
    kube) build_kube ;;
    kwok) build_kwok ;;
    argo) build_argo ;;
    argo4) build_argo4 ;;
    *) die "unknown target '$t' (etcd|kube|kwok|argo|argo4)" ;;
  esac
done
log "all requested binaries present ($(( $(date +%s) - all_start ))s this run):"
# shellcheck disable=SC2012
ls -l "$E2E_BIN_DIR" | sed 's/^/  /' >&2
