package pushgateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
)

// isFinal reports whether err is one no retry can fix: the server's
// certificate was checked and refused. Retrying would only spend the
// deadline on the same answer.
func isFinal(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname)
}

// Hint returns advice for an error talking to the Pushgateway, starting
// with " (", or "" when there is none to give. It names the CLI's flags.
func Hint(err error) string {
	if err == nil {
		return ""
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
