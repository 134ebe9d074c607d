package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
)

// The flag groups push, run and prune share, each parsed once: a typed
// pflag.Value parses its text when it is set, from the command line or
// the environment, and keeps the result.

// clientFlags are the TLS and auth flags of the Pushgateway client.
type clientFlags struct {
	caFile          string
	certFile        string
	keyFile         string
	serverName      string
	insecure        bool
	bearerTokenFile string
	username        string
	passwordFile    string
	headers         headerFlag
}

func (c *clientFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.caFile, "ca-file", "", "PEM CA bundle trusted for the Pushgateway, in addition to the system's")
	fs.StringVar(&c.certFile, "cert-file", "", "client certificate (PEM) for mTLS")
	fs.StringVar(&c.keyFile, "key-file", "", "client key (PEM) for mTLS")
	fs.StringVar(&c.serverName, "tls-server-name", "", "name expected in the Pushgateway's certificate")
	fs.BoolVar(&c.insecure, "insecure-skip-verify", false, "do not check the Pushgateway's certificate (testing only)")
	fs.StringVar(&c.bearerTokenFile, "bearer-token-file", "", "file holding a bearer token for the Pushgateway")
	fs.StringVar(&c.username, "username", "", "basic auth user for the Pushgateway")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the basic auth password")
	fs.VarP(&c.headers, "header", "H", "extra HTTP header \"Name: value\" for the Pushgateway (repeatable)")
}

// validate reports what the flags' own text gets wrong (a bad --header).
// What needs the files (a missing CA file, a certificate without its key)
// is httpclient.New's to say, when the client is set up.
func (c *clientFlags) validate() error {
	if c.headers.err != nil {
		return fmt.Errorf("--header: %w", c.headers.err)
	}
	return nil
}

// config is the client's configuration; call validate first.
func (c *clientFlags) config() httpclient.Config {
	return httpclient.Config{
		CAFile: c.caFile, CertFile: c.certFile, KeyFile: c.keyFile, ServerName: c.serverName, InsecureSkipVerify: c.insecure,
		BearerTokenFile: c.bearerTokenFile, Username: c.username, PasswordFile: c.passwordFile, Headers: c.headers.header.Clone(),
	}
}

// headerFlag is --header, repeatable, parsed by httpclient.ParseHeader as
// it is set. Set never fails: pflag would quote the value, a credential
// perhaps, in its message. It keeps the first error, redacted, for
// validate.
type headerFlag struct {
	header http.Header
	raw    []string
	err    error
}

func (h *headerFlag) Set(s string) error {
	h.raw = append(h.raw, s)
	name, value, err := httpclient.ParseHeader(s)
	if err != nil {
		if h.err == nil {
			h.err = err
		}
		return nil
	}
	if h.header == nil {
		h.header = http.Header{}
	}
	h.header.Add(name, value)
	return nil
}

// Type is pflag's stringArray: the help shows it so, and applyEnv takes
// one header per line of the variable.
func (h *headerFlag) Type() string { return "stringArray" }

// String is what the help shows as the default: nothing. Values are not
// shown; they may be credentials.
func (h *headerFlag) String() string {
	if len(h.raw) == 0 {
		return ""
	}
	return fmt.Sprintf("[%d headers]", len(h.raw))
}

// pushgatewayURL is --pushgateway, checked as it is set: an http:// or
// https:// URL with a host and without credentials. Set never fails, as
// pflag would quote a password in the URL; check reports the error.
type pushgatewayURL struct {
	raw string
	err error
}

func (p *pushgatewayURL) Set(s string) error {
	p.raw, p.err = s, nil
	if s == "" {
		return nil
	}
	if _, err := httpclient.CheckURL(s); err != nil {
		switch {
		case errors.Is(err, httpclient.ErrCredentialsInURL):
			p.err = errors.New("--pushgateway: put no credentials in the URL; use --username with --password-file, or --bearer-token-file")
		case errors.Is(err, httpclient.ErrQueryInURL):
			p.err = fmt.Errorf("--pushgateway %q: put no query in the URL (paths are added after it); give a token with --bearer-token-file or --header", httpclient.RedactURL(s))
		default:
			p.err = fmt.Errorf("--pushgateway %q: want an http:// or https:// URL", httpclient.RedactURL(s))
		}
	}
	return nil
}

func (p *pushgatewayURL) Type() string   { return "string" }
func (p *pushgatewayURL) String() string { return p.raw }

// given reports whether a URL was given.
func (p *pushgatewayURL) given() bool { return p.raw != "" }

// check returns what is wrong with the URL given, if anything.
func (p *pushgatewayURL) check() error { return p.err }

// redacted is the URL for logs.
func (p *pushgatewayURL) redacted() string { return httpclient.RedactURL(p.raw) }

// logFlags are --log-level and --log-format.
type logFlags struct {
	level  levelFlag
	format formatFlag
}

func (l *logFlags) addFlags(fs *pflag.FlagSet) {
	fs.Var(&l.level, "log-level", "log level: debug, info, warn, error")
	fs.Var(&l.format, "log-format", "log format: text or json")
}

// newLogger returns the logger the flags ask for, writing to w, and routes
// client-go's klog through it.
func (l *logFlags) newLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: l.level.level}
	var log *slog.Logger
	if l.format.json {
		log = slog.New(slog.NewJSONHandler(w, opts))
	} else {
		log = slog.New(slog.NewTextHandler(w, opts))
	}
	// client-go logs through klog, straight to stderr; route it through
	// ours so --log-format json stays JSON.
	klog.SetSlogLogger(log.With("component", "client-go"))
	return log
}

// flagError is a typed flag's complaint about its value, the flag's name
// included: shown as is, not in pflag's `invalid argument "x" for "--f"
// flag: ...`, which would say the value and the name twice.
type flagError string

func (e flagError) Error() string { return string(e) }

// plainFlagError returns the flagError inside a pflag error, or err.
func plainFlagError(err error) error {
	if fe, ok := asFlagError(err); ok {
		return fe
	}
	return err
}

// asFlagError finds the flagError inside a pflag error.
func asFlagError(err error) (flagError, bool) {
	var fe flagError
	ok := errors.As(err, &fe)
	return fe, ok
}

// levelFlag is --log-level; its zero value is info.
type levelFlag struct {
	raw   string
	level slog.Level
}

func (f *levelFlag) Set(s string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return flagError(fmt.Sprintf("--log-level %q: want debug, info, warn or error", s))
	}
	f.raw, f.level = s, l
	return nil
}

func (f *levelFlag) Type() string { return "string" }

func (f *levelFlag) String() string {
	if f.raw == "" {
		return "info"
	}
	return f.raw
}

// formatFlag is --log-format; its zero value is text.
type formatFlag struct{ json bool }

func (f *formatFlag) Set(s string) error {
	switch s {
	case "text", "json":
		f.json = s == "json"
		return nil
	}
	return flagError(fmt.Sprintf("--log-format %q: want text or json", s))
}

func (f *formatFlag) Type() string { return "string" }

func (f *formatFlag) String() string {
	if f.json {
		return "json"
	}
	return "text"
}
