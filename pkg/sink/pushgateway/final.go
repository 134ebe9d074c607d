package pushgateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
)

// isFinal reports whether err is one no retry can fix: the server's
// certificate was checked and refused, or the server redirected (the
// Pushgateway never does; its URL is wrong). Retrying would only spend
// the deadline on the same answer.
func isFinal(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		redirect *httpclient.RedirectError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) ||
		errors.As(err, &redirect)
}
