package main

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/step-metrics/step-metrics/pkg/engine/argo"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
	"github.com/step-metrics/step-metrics/pkg/schema"
	"github.com/step-metrics/step-metrics/pkg/source"
)

// incompleteReason says, as one of schema.IncompleteReasons, why a run's
// status could not be read: the reason label of
// pipeline_run_metrics_incomplete. The Kubernetes API's answers are
// classified by their Status (apierrors finds it through the wrapping of
// pkg/source), network failures by their type; anything else, an answer
// that does not decode included, is unreadable.
func incompleteReason(err error) string {
	var (
		netErr  net.Error
		opErr   *net.OpError
		urlErr  *url.Error
		dnsErr  *net.DNSError
		certErr *x509.UnknownAuthorityError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err),
		errors.As(err, &netErr) && netErr.Timeout():
		return schema.IncompleteTimeout
	case apierrors.IsForbidden(err):
		return schema.IncompleteForbidden
	case apierrors.IsUnauthorized(err):
		return schema.IncompleteUnauthorized
	case apierrors.IsNotFound(err):
		return schema.IncompleteNotFound
	case apierrors.IsRequestEntityTooLargeError(err):
		return schema.IncompleteTooLarge
	}
	if code := argoServerStatus(err); code != 0 {
		switch code {
		case 401:
			return schema.IncompleteUnauthorized
		case 403:
			return schema.IncompleteForbidden
		case 404:
			return schema.IncompleteNotFound
		case 408, 504:
			return schema.IncompleteTimeout
		case 413:
			return schema.IncompleteTooLarge
		}
		return schema.IncompleteUnreadable
	}
	var tooLarge *source.TooLargeError
	msg := err.Error()
	switch {
	case errors.As(err, &tooLarge), errors.Is(err, argo.ErrTooLarge), errors.Is(err, argo.ErrLongToken):
		// Read whole or streamed: more than the memory limit allows.
		return schema.IncompleteTooLarge
	case errors.Is(err, clientcmd.ErrEmptyConfig), strings.Contains(msg, "kubernetes client config"):
		// No credentials at all: no in-cluster token (say,
		// automountServiceAccountToken: false) and no kubeconfig.
		return schema.IncompleteUnauthorized
	case errors.As(err, &dnsErr), errors.As(err, &opErr), errors.As(err, &urlErr), errors.As(err, &certErr),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return schema.IncompleteUnreachable
	}
	return schema.IncompleteUnreadable
}

// argoServerAnswer matches pkg/source's message for an Argo Server answer
// other than 200 ("... from argo server: HTTP 403 ..."): it has no typed
// error for it (yet).
var argoServerAnswer = regexp.MustCompile(`from argo server: HTTP (\d{3})\b`)

// argoServerStatus returns the HTTP status of an Argo Server answer err
// reports, or 0.
func argoServerStatus(err error) int {
	m := argoServerAnswer.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	code, _ := strconv.Atoi(m[1])
	return code
}

// stepsUnavailableReason says why a run that was read has no steps: Argo
// has only one such case (node status offloaded to its database, read it
// through Argo Server), Tekton's is TaskRuns missing from the input.
func stepsUnavailableReason(run *pipeline.Run) string {
	if run.Engine == argo.Name {
		return schema.IncompleteOffloaded
	}
	return schema.IncompleteStepsMissing
}
