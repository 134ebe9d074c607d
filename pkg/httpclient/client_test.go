package httpclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/step-metrics/step-metrics/internal/fakegw"
)

var localhost = net.IPv4(127, 0, 0, 1)

// pushWith pushes the test registry to srv with a client built from cfg.
func pushWith(t *testing.T, cfg Config, url string) error {
	t.Helper()
	client, err := New(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, url+"/metrics/job/test", strings.NewReader("m 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("unexpected status code %d", resp.StatusCode)
	}
	return nil
}

func TestNewClientTrustsPrivateCA(t *testing.T) {
	ca := newTestCA(t, "private-ca")
	gw := &fakegw.Gateway{}
	srv := startTLS(t, gw, &tls.Config{Certificates: []tls.Certificate{ca.serverCert(t, nil, localhost).tls}})
	caFile := writeFile(t, "ca.crt", ca.certPEM)
	otherCAFile := writeFile(t, "other.crt", newTestCA(t, "other-ca").certPEM)

	if err := pushWith(t, Config{CAFile: caFile}, srv.URL); err != nil {
		t.Errorf("with the CA file: %v", err)
	}
	if n := len(gw.Requests()); n != 1 {
		t.Fatalf("with the CA file: %d requests reached the server, want 1", n)
	}

	for name, cfg := range map[string]Config{
		"no CA file":      {},
		"another CA file": {CAFile: otherCAFile},
	} {
		t.Run(name, func(t *testing.T) {
			err := pushWith(t, cfg, srv.URL)
			if err == nil || !strings.Contains(err.Error(), "unknown authority") {
				t.Errorf("Push: error %v, want an unknown authority", err)
			}
			client, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) {
				t.Errorf("GET: error %v, want an x509.UnknownAuthorityError", err)
			}
		})
	}
	if n := len(gw.Requests()); n != 1 {
		t.Errorf("untrusted clients reached the handler: %d requests, want 1", n)
	}
}

func TestNewClientServerName(t *testing.T) {
	ca := newTestCA(t, "private-ca")
	gw := &fakegw.Gateway{}
	// The certificate names only pushgateway.test, not 127.0.0.1.
	srv := startTLS(t, gw, &tls.Config{Certificates: []tls.Certificate{ca.serverCert(t, []string{"pushgateway.test"}).tls}})
	caFile := writeFile(t, "ca.crt", ca.certPEM)

	tests := []struct {
		serverName string
		wantErr    string // "" wants success
	}{
		{"pushgateway.test", ""},
		{"", "127.0.0.1"},
		{"other.test", "other.test"},
	}
	for _, tt := range tests {
		t.Run("ServerName="+tt.serverName, func(t *testing.T) {
			before := len(gw.Requests())
			err := pushWith(t, Config{CAFile: caFile, ServerName: tt.serverName}, srv.URL)
			reqs := gw.Requests()[before:]
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Push: %v", err)
				}
				if len(reqs) != 1 || reqs[0].ServerName != tt.serverName {
					t.Errorf("requests %+v, want one with SNI %q", reqs, tt.serverName)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("Push: error %v, want a certificate name mismatch naming %q", err, tt.wantErr)
			}
			if len(reqs) != 0 {
				t.Errorf("%d requests reached the handler, want none", len(reqs))
			}
		})
	}
}

func TestNewClientHTTPTestServer(t *testing.T) {
	gw := &fakegw.Gateway{}
	srv := startTLS(t, gw, nil) // httptest's own certificate
	caFile := writeFile(t, "httptest.crt", certPEM(srv))
	if err := pushWith(t, Config{CAFile: caFile}, srv.URL); err != nil {
		t.Errorf("CAFile = the server's certificate: %v", err)
	}
	if err := pushWith(t, Config{InsecureSkipVerify: true}, srv.URL); err != nil {
		t.Errorf("InsecureSkipVerify: %v", err)
	}
	if err := pushWith(t, Config{}, srv.URL); err == nil {
		t.Error("no CA: push to a self-signed server succeeded")
	}
	if n := len(gw.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestNewClientMutualTLS(t *testing.T) {
	ca := newTestCA(t, "private-ca")
	gw := &fakegw.Gateway{}
	srv := startTLS(t, gw, &tls.Config{
		Certificates: []tls.Certificate{ca.serverCert(t, nil, localhost).tls},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool(),
	})
	caFile := writeFile(t, "ca.crt", ca.certPEM)
	good := ca.clientCert(t, "step-metrics")
	stranger := newTestCA(t, "other-ca").clientCert(t, "stranger")

	tests := []struct {
		name   string
		cert   *testCert
		wantOK bool
	}{
		{"client certificate from the trusted CA", &good, true},
		{"no client certificate", nil, false},
		{"client certificate from another CA", &stranger, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{CAFile: caFile}
			if tt.cert != nil {
				cfg.CertFile = writeFile(t, "client.crt", tt.cert.certPEM)
				cfg.KeyFile = writeFile(t, "client.key", tt.cert.keyPEM)
			}
			before := len(gw.Requests())
			err := pushWith(t, cfg, srv.URL)
			reqs := gw.Requests()[before:]
			if !tt.wantOK {
				if err == nil {
					t.Error("Push succeeded, want a TLS error")
				}
				if len(reqs) != 0 {
					t.Errorf("%d requests reached the handler, want none", len(reqs))
				}
				return
			}
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if len(reqs) != 1 || reqs[0].PeerCN != "step-metrics" {
				t.Errorf("requests %+v, want one from client certificate step-metrics", reqs)
			}
		})
	}
}

func TestNewClientAuthAndHeaders(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // file name -> content, in a temp dir
		cfg   func(dir string) Config
		check func(t *testing.T, h http.Header)
	}{
		{
			name:  "bearer token, trailing newline trimmed",
			files: map[string]string{"token": "s3cr3t-token\n"},
			cfg:   func(d string) Config { return Config{BearerTokenFile: filepath.Join(d, "token")} },
			check: func(t *testing.T, h http.Header) {
				if got := h.Values("Authorization"); len(got) != 1 || got[0] != "Bearer s3cr3t-token" {
					t.Errorf("Authorization %q, want [Bearer s3cr3t-token]", got)
				}
			},
		},
		{
			name:  "bearer token with CRLF and spaces",
			files: map[string]string{"token": "  abc.def  \r\n"},
			cfg:   func(d string) Config { return Config{BearerTokenFile: filepath.Join(d, "token")} },
			check: func(t *testing.T, h http.Header) {
				if got := h.Get("Authorization"); got != "Bearer abc.def" {
					t.Errorf("Authorization %q, want %q", got, "Bearer abc.def")
				}
			},
		},
		{
			name:  "basic auth",
			files: map[string]string{"password": "pa:ss word\n"},
			cfg: func(d string) Config {
				return Config{Username: "pusher", PasswordFile: filepath.Join(d, "password")}
			},
			check: func(t *testing.T, h http.Header) {
				r := &http.Request{Header: h}
				user, pw, ok := r.BasicAuth()
				if !ok || user != "pusher" || pw != "pa:ss word" {
					t.Errorf("basic auth %q %q %v, want pusher / %q", user, pw, ok, "pa:ss word")
				}
			},
		},
		{
			name: "extra headers",
			cfg: func(string) Config {
				return Config{Headers: http.Header{"X-Scope-Orgid": {"team-a"}, "X-Multi": {"1", "2"}}}
			},
			check: func(t *testing.T, h http.Header) {
				if got := h.Get("X-Scope-Orgid"); got != "team-a" {
					t.Errorf("X-Scope-OrgID %q, want team-a", got)
				}
				if got := h.Values("X-Multi"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
					t.Errorf("X-Multi %q, want [1 2]", got)
				}
				if got := h.Get("Authorization"); got != "" {
					t.Errorf("Authorization %q, want none", got)
				}
			},
		},
		{
			name:  "extra headers with a bearer token",
			files: map[string]string{"token": "tok"},
			cfg: func(d string) Config {
				return Config{BearerTokenFile: filepath.Join(d, "token"), Headers: http.Header{"X-Scope-Orgid": {"team-a"}}}
			},
			check: func(t *testing.T, h http.Header) {
				if h.Get("Authorization") != "Bearer tok" || h.Get("X-Scope-Orgid") != "team-a" {
					t.Errorf("headers %v, want both the token and X-Scope-OrgID", h)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				writeFileIn(t, dir, name, content)
			}
			srv, gw := fakegw.New(t, nil)
			cfg := tt.cfg(dir)
			headersBefore := cfg.Headers.Clone()
			if err := pushWith(t, cfg, srv.URL); err != nil {
				t.Fatalf("Push: %v", err)
			}
			reqs := gw.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			tt.check(t, reqs[0].Header)
			if !reflect.DeepEqual(cfg.Headers, headersBefore) {
				t.Errorf("NewClient changed the caller's Headers: %v, was %v", cfg.Headers, headersBefore)
			}
		})
	}
}

func writeFileIn(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNewClientErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	notPEM := writeFileIn(t, dir, "not-pem.crt", "not a certificate\n")
	empty := writeFileIn(t, dir, "empty-token", " \n")
	token := writeFileIn(t, dir, "token", "tok\n")
	ca := newTestCA(t, "ca")
	leaf := ca.clientCert(t, "c")
	other := ca.clientCert(t, "other")
	certFile := writeFileIn(t, dir, "client.crt", string(leaf.certPEM))
	keyFile := writeFileIn(t, dir, "client.key", string(leaf.keyPEM))
	otherKey := writeFileIn(t, dir, "other.key", string(other.keyPEM))

	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"missing CA file", Config{CAFile: missing}, []string{missing}},
		{"CA file without PEM", Config{CAFile: notPEM}, []string{notPEM, "no PEM certificate"}},
		{"cert without key", Config{CertFile: certFile}, []string{"key file"}},
		{"key without cert", Config{KeyFile: keyFile}, []string{"cert file"}},
		{"missing cert file", Config{CertFile: missing, KeyFile: keyFile}, []string{missing}},
		{"missing key file", Config{CertFile: certFile, KeyFile: missing}, []string{missing}},
		{"cert file without PEM", Config{CertFile: notPEM, KeyFile: keyFile}, []string{notPEM}},
		{"key file without PEM", Config{CertFile: certFile, KeyFile: notPEM}, []string{notPEM}},
		{"key of another certificate", Config{CertFile: certFile, KeyFile: otherKey}, []string{certFile, otherKey}},
		{"missing token file", Config{BearerTokenFile: missing}, []string{"bearer token", missing}},
		{"empty token file", Config{BearerTokenFile: empty}, []string{empty, "empty"}},
		{"token and basic auth", Config{BearerTokenFile: token, Username: "u", PasswordFile: token}, []string{"either"}},
		{"username without password", Config{Username: "u"}, []string{"password file"}},
		{"password without username", Config{PasswordFile: token}, []string{"username"}},
		{"missing password file", Config{Username: "u", PasswordFile: missing}, []string{"password", missing}},
		{"empty password file", Config{Username: "u", PasswordFile: empty}, []string{empty, "empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if err == nil {
				t.Fatalf("NewClient = %v, want an error", c)
			}
			if c != nil {
				t.Errorf("NewClient returned a client with the error %v", err)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestSecretsStayOutOfErrors(t *testing.T) {
	const secret = "s3cr3t-t0ken-value"
	dir := t.TempDir()
	tokenFile := writeFileIn(t, dir, "token", secret+"\n")

	// Files holding the secret, given where something else was expected.
	for name, cfg := range map[string]Config{
		"token as CA file":           {CAFile: tokenFile},
		"token as client cert":       {CertFile: tokenFile, KeyFile: tokenFile},
		"token file and basic auth":  {BearerTokenFile: tokenFile, Username: "u", PasswordFile: tokenFile},
		"token as password, no user": {PasswordFile: tokenFile},
	} {
		_, err := New(cfg)
		if err == nil {
			t.Errorf("%s: NewClient succeeded", name)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error reveals the secret: %v", name, err)
		}
	}

	// A push the server refuses.
	srv, _ := fakegw.New(t, fakegw.Statuses(401))
	err := pushWith(t, Config{BearerTokenFile: tokenFile}, srv.URL)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Push: error %v, want a 401", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("push error reveals the token: %v", err)
	}
}

// transportOf digs the *http.Transport out of a client from NewClient.
func transportOf(t *testing.T, c *http.Client) *http.Transport {
	t.Helper()
	switch rt := c.Transport.(type) {
	case *http.Transport:
		return rt
	case *headerTransport:
		tr, ok := rt.next.(*http.Transport)
		if !ok {
			t.Fatalf("headerTransport wraps %T, want *http.Transport", rt.next)
		}
		return tr
	default:
		t.Fatalf("client transport %T", c.Transport)
		return nil
	}
}

func TestNewClientTransport(t *testing.T) {
	envProxy := reflect.ValueOf(http.ProxyFromEnvironment).Pointer()
	for name, cfg := range map[string]Config{
		"plain":        {},
		"with headers": {Headers: http.Header{"X-A": {"b"}}},
		"with TLS":     {ServerName: "pushgateway.test"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tr := transportOf(t, c)
			if tr.Proxy == nil || reflect.ValueOf(tr.Proxy).Pointer() != envProxy {
				t.Error("Proxy is not http.ProxyFromEnvironment: HTTPS_PROXY and NO_PROXY would be ignored")
			}
			if tr.TLSClientConfig == nil || tr.TLSClientConfig.MinVersion < tls.VersionTLS12 {
				t.Errorf("TLS config %+v, want TLS 1.2 at least", tr.TLSClientConfig)
			}
			if tr.TLSClientConfig.ServerName != cfg.ServerName {
				t.Errorf("ServerName %q, want %q", tr.TLSClientConfig.ServerName, cfg.ServerName)
			}
			if tr.TLSClientConfig.InsecureSkipVerify {
				t.Error("InsecureSkipVerify set without being asked for")
			}
			_, wrapped := c.Transport.(*headerTransport)
			if wrapped != (len(cfg.Headers) > 0) {
				t.Errorf("header transport present = %v with headers %v", wrapped, cfg.Headers)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHeaderTransport(t *testing.T) {
	var sent *http.Request
	rt := &headerTransport{
		next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent = r
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
		}),
		headers: http.Header{"Authorization": {"Bearer ours"}, "X-Scope-Orgid": {"ours"}},
	}

	t.Run("adds headers to a copy", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, "http://pgw.invalid/metrics/job/j", nil)
		req.Header.Set("X-Scope-Orgid", "theirs")
		req.Header.Set("Content-Type", "text/plain")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if sent == req {
			t.Fatal("RoundTrip modified the caller's request instead of a copy")
		}
		if got := sent.Header.Get("Authorization"); got != "Bearer ours" {
			t.Errorf("Authorization %q, want Bearer ours", got)
		}
		if got := sent.Header.Get("X-Scope-Orgid"); got != "ours" {
			t.Errorf("X-Scope-OrgID %q, want ours (configured headers win)", got)
		}
		if got := sent.Header.Get("Content-Type"); got != "text/plain" {
			t.Errorf("Content-Type %q, want the request's own", got)
		}
		if req.Header.Get("Authorization") != "" || req.Header.Get("X-Scope-Orgid") != "theirs" {
			t.Errorf("caller's request headers changed: %v", req.Header)
		}
	})

	t.Run("Authorization already set wins", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, "http://pgw.invalid/metrics/job/j", nil)
		req.SetBasicAuth("u", "p")
		want := req.Header.Get("Authorization")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := sent.Header.Get("Authorization"); got != want {
			t.Errorf("Authorization %q, want the request's %q", got, want)
		}
	})
}

func TestParseHeader(t *testing.T) {
	good := []struct {
		in, name, value string
	}{
		{"X-Scope-OrgID: team-a", "X-Scope-Orgid", "team-a"},
		{"authorization:Bearer abc", "Authorization", "Bearer abc"},
		{"  X-Pad  :  padded value  ", "X-Pad", "padded value"},
		{"X-Colons: a:b:c", "X-Colons", "a:b:c"},
		{"X-Empty:", "X-Empty", ""},
		{"X-Tab: a\tb", "X-Tab", "a\tb"},
		{"X_Odd.Name~1: v", "X_odd.name~1", "v"},
	}
	for _, tt := range good {
		name, value, err := ParseHeader(tt.in)
		if err != nil || name != tt.name || value != tt.value {
			t.Errorf("ParseHeader(%q) = %q, %q, %v; want %q, %q", tt.in, name, value, err, tt.name, tt.value)
		}
	}

	// Bad headers; none may echo the secret.
	const secret = "s3cr3t"
	bad := []string{
		"",
		"X-Token",
		"Authorization Bearer " + secret,
		"Authorization=Bearer " + secret,
		": " + secret,
		"X Token: " + secret,
		"X\tToken: " + secret,
		"Authorization Bearer " + secret + ":x",
		"X-Token=" + secret + ": v",
		"X(Token): " + secret,
		"X-Token: " + secret + "\r\nX-Evil: 1",
		"X-Token: " + secret + "\x00",
		"Ünicode: " + secret,
	}
	for _, in := range bad {
		name, value, err := ParseHeader(in)
		if err == nil {
			t.Errorf("ParseHeader(%q) = %q, %q; want an error", in, name, value)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("ParseHeader(%q): error reveals the value: %v", in, err)
		}
		if !strings.Contains(err.Error(), "Name: value") {
			t.Errorf("ParseHeader(%q): error %q does not say what is wanted", in, err)
		}
	}
}

// TestParseHeaderAgreesWithNetHTTP sends every header ParseHeader accepts:
// net/http must not refuse it at push time.
func TestParseHeaderAgreesWithNetHTTP(t *testing.T) {
	srv, gw := fakegw.New(t, nil)
	for _, in := range []string{"X-Scope-OrgID: team-a", "X_Odd.Name~1: v", "X-Tab: a\tb", "X-Empty:"} {
		name, value, err := ParseHeader(in)
		if err != nil {
			t.Fatalf("ParseHeader(%q): %v", in, err)
		}
		if err := pushWith(t, Config{Headers: http.Header{name: {value}}}, srv.URL); err != nil {
			t.Errorf("push with header %q: %v", in, err)
		}
	}
	if n := len(gw.Requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}
