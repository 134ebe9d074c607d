package pushgateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/internal/fakegw"

	"github.com/step-metrics/step-metrics/pkg/httpclient"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

// TestCertificateErrorsAreFinal: a refused certificate is not retried (the
// answer would be the same), and the error keeps its cause so that the CLI
// can say what to do (cmd/step-metrics' TestHintsName asserts the advice).
func TestCertificateErrorsAreFinal(t *testing.T) {
	ca := testenv.NewCA(t, "hints")
	tests := []struct {
		name string
		cert testenv.CertOptions
		cfg  httpclient.Config
		want []string
		as   func(error) bool
	}{
		{"unknown CA", testenv.CertOptions{}, httpclient.Config{},
			[]string{"certificate signed by unknown authority"}, func(err error) bool { var e x509.UnknownAuthorityError; return errors.As(err, &e) }},
		{"expired", testenv.CertOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, httpclient.Config{CAFile: ca.CertFile},
			[]string{"expired"}, func(err error) bool {
				var e x509.CertificateInvalidError
				return errors.As(err, &e) && e.Reason == x509.Expired
			}},
		{"wrong host name", testenv.CertOptions{DNSNames: []string{"pushgateway.monitoring.svc"}}, httpclient.Config{CAFile: ca.CertFile},
			[]string{"127.0.0.1"}, func(err error) bool { var e x509.HostnameError; return errors.As(err, &e) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certFile, keyFile := ca.IssueWith(t, "pg", false, tt.cert)
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.StartTLS()
			defer srv.Close()
			client, err := httpclient.New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			doer := &countingDoer{next: client}
			start := time.Now()
			err = Push(context.Background(), testTarget(srv.URL), fakegw.Registry(t), doer, Retry{MaxAttempts: 5, InitialBackoff: 200 * time.Millisecond})
			if err == nil {
				t.Fatal("push accepted a bad certificate")
			}
			if n := doer.calls.Load(); n != 1 {
				t.Errorf("%d attempts, want 1: a certificate error is final", n)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v", took)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Op != "push" || pe.Attempts != 1 {
				t.Errorf("error %#v is not an *Error of one push attempt", err)
			}
			if !tt.as(err) {
				t.Errorf("error %q lost its x509 cause", err)
			}
		})
	}
}
