// Package httpclient builds the one HTTP client set-up step-metrics uses
// for every server it talks to (the Pushgateway, a remote-write store, Argo
// Server): TLS with a private CA added to the system pool, mTLS, bearer or
// basic auth and extra headers read from files once, proxies from the
// environment, and timeouts on dialing, the TLS handshake and response
// headers. Secrets are read from files and never appear in errors.
//
//	client, err := httpclient.New(httpclient.Config{CAFile: "/etc/ca.crt", BearerTokenFile: "/var/run/token"})
//	// client is a push.HTTPDoer for client_golang's Pusher
package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Config configures the HTTP client used to reach a server (the
// Pushgateway, Argo Server).
// Secrets are read from files, never passed as values, so they stay off
// command lines and out of logs.
type Config struct {
	// CAFile is a PEM bundle of CAs trusted in addition to the system's.
	CAFile string
	// CertFile and KeyFile are a client certificate for mTLS.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the server certificate.
	ServerName string
	// InsecureSkipVerify disables certificate checks (tests only).
	InsecureSkipVerify bool
	// BearerTokenFile holds a token sent as "Authorization: Bearer".
	BearerTokenFile string
	// Username and PasswordFile are HTTP basic auth credentials.
	Username, PasswordFile string
	// Headers are sent with every request.
	Headers http.Header
	// MaxIdleConns is how many idle connections to keep for reuse; 0 means
	// 2. Set it to the number of requests sent at once.
	MaxIdleConns int
}

// New returns an *http.Client for a server: TLS as configured (a CAFile
// is added to the system pool, not put in its place), proxies from the environment (HTTPS_PROXY, NO_PROXY...) and
// the auth headers. It reads the files once, now.
func New(cfg Config) (*http.Client, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // opt-in, for tests
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("client certificate needs both a cert file and a key file")
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate %s with key %s: %w", cfg.CertFile, cfg.KeyFile, err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	headers := cfg.Headers.Clone()
	if headers == nil {
		headers = http.Header{}
	}
	if cfg.BearerTokenFile != "" && cfg.PasswordFile != "" {
		return nil, errors.New("use either a bearer token or basic auth, not both")
	}
	if cfg.BearerTokenFile != "" {
		tok, err := readSecret(cfg.BearerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("read bearer token: %w", err)
		}
		headers.Set("Authorization", "Bearer "+tok)
	}
	if cfg.PasswordFile != "" || cfg.Username != "" {
		if cfg.Username == "" || cfg.PasswordFile == "" {
			return nil, errors.New("basic auth needs both a username and a password file")
		}
		pw, err := readSecret(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		headers.Set("Authorization", basicAuth(cfg.Username, pw))
	}
	idle := cfg.MaxIdleConns
	if idle <= 0 {
		idle = 2
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConns:          idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	var rt http.RoundTripper = transport
	if len(headers) > 0 {
		rt = &headerTransport{next: transport, headers: headers}
	}
	// No redirects: a hop would be sent the credentials again (the header
	// transport adds them to every request, whatever its host), and a 301
	// or 302 would turn a PUT into a GET. The 3xx answer is returned as it
	// is, for Redirected to turn into an error.
	return &http.Client{Transport: rt, CheckRedirect: refuseRedirect}, nil
}

// refuseRedirect is the CheckRedirect of the clients New builds: the
// redirect is not followed and its answer is returned to the caller.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// headerTransport adds fixed headers to every request.
type headerTransport struct {
	next    http.RoundTripper
	headers http.Header
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, vs := range t.headers {
		if _, set := req.Header[k]; set && k == "Authorization" {
			// Basic auth set by the Pusher itself wins over ours.
			continue
		}
		req.Header[k] = vs
	}
	return t.next.RoundTrip(req)
}

// ParseHeader parses "Name: value". It refuses what net/http would refuse
// to send: a name that is not an HTTP token, a value with control
// characters.
func ParseHeader(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	value = strings.TrimSpace(value)
	if !ok || !isToken(name) || !validValue(value) {
		return "", "", fmt.Errorf("header %q: want \"Name: value\"", redact(s))
	}
	name = http.CanonicalHeaderKey(name)
	if name == "Host" {
		// net/http ignores it in Header; say so rather than drop it.
		return "", "", errors.New("header Host cannot be set with --header; put the host in the URL and use --tls-server-name for TLS")
	}
	return name, value, nil
}

// isToken reports whether s is an RFC 9110 token, as a header name must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
		if !alnum && strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}

// validValue reports whether s has no control characters but tabs.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// redact keeps a header's name and hides its value in messages. The name
// ends at the first separator or blank, so a value after a missing colon
// ("Authorization Bearer x") is hidden too.
func redact(s string) string {
	i := strings.IndexAny(s, ":= \t\r\n")
	switch {
	case i >= 0 && (s[i] == ':' || s[i] == '='):
		return s[:i+1] + " <redacted>"
	case i >= 0:
		return s[:i] + " <redacted>"
	case s == "":
		return s
	}
	// No separator: it may be all value ("Bearer" forgotten, a bare token).
	return "<redacted>"
}

func basicAuth(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}
