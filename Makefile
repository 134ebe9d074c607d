# step-metrics. `make test` is the one command that runs every test (and
# installs what the tests need); .ci/run calls it.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 10s
# golangci-lint: where scripts/test-deps.sh installs it (go install into the
# first GOPATH entry's bin), unless GOLANGCI_LINT names another.
GOLANGCI_LINT ?= $(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin/golangci-lint

.PHONY: all build example test test-deps vet fmt-check lint unit lint-manifests fuzz-short e2e-argo fuzz update-golden clean bench bench-quick

all: build

## build: static binary in bin/ (the Dockerfile runs the same command)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/step-metrics ./cmd/step-metrics

## example: the bundled example run, printed as the metrics it would push
example:
	$(GO) run ./cmd/step-metrics push --example --dry-run

## test: every test: deps, vet, format, lint, unit + e2e tests, short fuzz runs, brief benchmarks
test: test-deps vet fmt-check lint unit lint-manifests fuzz-short e2e-argo bench-quick

## bench: the full benchmark (100 to 50,000 nodes, against jq+curl and a naive client; ~15 min on 2 cores): bench/results.md
bench:
	./bench/run.sh

## bench-quick: the same, briefly (small sizes, few repetitions, < 1 min), so it cannot rot
bench-quick:
	./bench/run.sh --quick

test-deps:
	./scripts/test-deps.sh

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l cmd pkg internal test bench); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## lint: golangci-lint with .golangci.yml, over the module and the nested test/lint module
lint:
	@test -x "$(GOLANGCI_LINT)" || { echo "lint: no $(GOLANGCI_LINT): run make test-deps (or set GOLANGCI_LINT)"; exit 1; }
	$(GOLANGCI_LINT) run ./...
	cd test/lint && $(GOLANGCI_LINT) run --config ../../.golangci.yml ./...

unit:
	$(GO) test -count=1 ./...

# Every fuzz target, as package:Target. Minimization is capped because the
# seeds are whole workflows (up to 20 KB) and minimizing one takes minutes.
FUZZ_TARGETS := ./pkg/engine/argo:FuzzDecodeArgo ./pkg/engine/argo:FuzzStreamMatchesOracle ./pkg/engine/argo:FuzzSplitItem ./pkg/engine/argo:FuzzRunBound ./pkg/engine/argo:FuzzResult ./pkg/engine/tekton:FuzzDecodeTekton ./pkg/custom:FuzzParse ./pkg/custom:FuzzSimpleSample \
	./pkg/metrics:FuzzSanitizeLabelName ./pkg/schema:FuzzSanitizeLabelValue ./pkg/sink/pushgateway:FuzzGroupPath ./pkg/metrics:FuzzParseLabel \
	./pkg/metrics:FuzzWorkflowLabels ./pkg/httpclient:FuzzParseHeader ./pkg/httpclient:FuzzRedactURL ./pkg/sink/pushgateway/prune:FuzzDecodeList

## lint-manifests: templates/ and examples/workflows/ through Argo's own validator
## (a nested module: Argo's validate package pulls ~700 packages)
lint-manifests:
	cd test/lint && $(GO) vet ./... && $(GO) test -count=1 ./...

## e2e-argo: the examples on a real kube-apiserver + Argo workflow-controller (kwok
## for the kubelet), in a network namespace; needs root. Cold: ~16 min of builds,
## cached in ~/.cache/step-metrics; warm: about five minutes (the same tests on v3.7.12 and v4.0.5).
e2e-argo:
	./test/e2e-argo/run.sh

## fuzz-short: each fuzz target for FUZZTIME (seeds: f.Add and testdata/fuzz)
fuzz-short:
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz-short.sh $(FUZZ_TARGETS)

fuzz:
	$(MAKE) fuzz-short FUZZTIME=5m

## update-golden: rewrite golden expositions after an intended change
update-golden:
	$(GO) test ./pkg/metrics -update

.PHONY: dashboards dashboard-previews alerts-check

## dashboards: regenerate dashboards/*.json and alerts/prometheusrule.yaml; review the diff
dashboards:
	$(GO) generate ./internal/dashboards

## dashboard-previews: redraw dashboards/previews/*.svg from the end-to-end test's query results (needs Prometheus)
dashboard-previews:
	$(GO) test -count=1 -run TestEndToEnd ./internal/dashboards -previews

## alerts-check: promtool check and unit-test the alert rules (`make test` runs them too, in go test)
alerts-check:
	promtool check rules alerts/step-metrics.rules.yml
	promtool test rules alerts/tests.yml

clean:
	rm -rf bin
