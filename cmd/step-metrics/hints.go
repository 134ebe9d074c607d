package main

import (
	"crypto/x509"
	"errors"
	"strings"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
)

// hint returns advice, naming this command's flags, for an error talking
// to the Pushgateway, starting with " (", or "" when there is none to give.
// The sinks keep an error's cause (%w), so errors.As finds the x509 error.
func hint(err error) string {
	if err == nil {
		return ""
	}
	var redirect *httpclient.RedirectError
	if errors.As(err, &redirect) {
		return " (the Pushgateway never redirects: set --pushgateway to the base of the URL it points to, without /metrics/...)"
	}
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
	)
	switch {
	case errors.As(err, &unknown):
		return " (the Pushgateway's certificate is signed by a CA this host does not trust: give that CA with --ca-file)"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return " (the Pushgateway's certificate has expired or is not yet valid: renew it, or check this host's clock)"
	case errors.As(err, &invalid):
		return " (the Pushgateway's certificate is not valid for serving TLS: reissue it)"
	case errors.As(err, &hostname):
		return " (the Pushgateway's certificate does not name the host in the URL: use a name it was issued for in --pushgateway, or set --tls-server-name)"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "tls: bad certificate"):
		return " (the Pushgateway wants a client certificate it trusts: --cert-file and --key-file)"
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return " (the Pushgateway speaks plain HTTP: use an http:// URL)"
	}
	return ""
}

// withHint returns err with hint(err) appended to its message (once), the
// cause kept for errors.Is and errors.As.
func withHint(err error) error {
	h := hint(err)
	if h == "" || strings.HasSuffix(err.Error(), h) {
		return err
	}
	return &hintedError{err: err, hint: h}
}

type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() + e.hint }
func (e *hintedError) Unwrap() error { return e.err }
