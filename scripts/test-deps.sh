#!/usr/bin/env bash
# Installs what the test suite runs for real: Prometheus's promtool and the
# Pushgateway (Debian packages), and golangci-lint (go install). Idempotent;
# needs root (or sudo) only when a Debian package is missing.
set -euo pipefail

# golangci-lint (make lint), a Go tool: go install puts it in the first
# GOPATH entry's bin, where the Makefile looks for it. No root needed.
GOLANGCI_LINT_VERSION=v2.15.0
GO=${GO:-go}
gobin="$("$GO" env GOPATH | cut -d: -f1)/bin"
if ! "$gobin/golangci-lint" version 2>/dev/null | grep -q "version ${GOLANGCI_LINT_VERSION#v} "; then
  echo "test-deps: installing golangci-lint $GOLANGCI_LINT_VERSION into $gobin" >&2
  GOBIN="$gobin" "$GO" install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
fi

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if ! command -v pushgateway >/dev/null 2>&1 && ! command -v prometheus-pushgateway >/dev/null 2>&1 && [ -z "${PUSHGATEWAY_BIN:-}" ]; then
  need+=(prometheus-pushgateway)
fi
# The real-cluster tier (test/e2e-argo) needs ip netns, openssl and curl.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "test-deps: need ${need[*]} (Debian packages) and not root: install them, or set PUSHGATEWAY_BIN" >&2
    exit 1
  fi
fi
echo "test-deps: installing ${need[*]}" >&2
$SUDO apt-get update -qq
# The packages' service start is refused without an init system; that is fine.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
command -v promtool >/dev/null
command -v ip >/dev/null
command -v prometheus-pushgateway >/dev/null || command -v pushgateway >/dev/null
