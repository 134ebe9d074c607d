# syntax=docker/dockerfile:1
# step-metrics: a static binary on distroless/static (CA certificates,
# /etc/passwd with the nonroot user, nothing else).
#   docker build --build-arg VERSION=$(git describe --tags --always) -t step-metrics .
# CI runs the exact `go build` line below (cmd/step-metrics/dockerfile_test.go)
# and checks that it yields a static binary that runs with an empty environment.

FROM golang:1.25 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY pkg ./pkg
COPY internal ./internal
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/step-metrics ./cmd/step-metrics

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/step-metrics /step-metrics
# 65532 is distroless's nonroot user; the templates' securityContext
# (runAsNonRoot, runAsUser 65532, readOnlyRootFilesystem) matches.
USER 65532:65532
ENTRYPOINT ["/step-metrics"]
