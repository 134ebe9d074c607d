package httpclient

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// RedactURL returns s as it may be shown in a message or a log: user info
// (user:password@) removed, every query value replaced by REDACTED, the
// fragment dropped, control characters and blanks percent-encoded so that
// the result is one line. It works on the text, not on url.Parse's view of
// it, so that strings that are not URLs are redacted too: in
// "u:PASS@host:9091" (no scheme) url.Parse sees a scheme "u" and an opaque
// "PASS@host:9091", but an HTTP client that adds "http://", as
// client_golang's Pusher does, sends PASS as a password. An authority that
// is no host[:port] once the user info is gone (a password with a raw '/'
// in it, say) is shown as REDACTED, the path after it dropped.
func RedactURL(s string) string {
	s, _, _ = strings.Cut(s, "#")
	hier, query, hasQuery := strings.Cut(s, "?")
	scheme, rest, hasScheme := strings.Cut(hier, "://")
	if !hasScheme || !isScheme(scheme) {
		scheme, rest, hasScheme = "", hier, false
	}
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	var b strings.Builder
	if hasScheme {
		b.WriteString(scheme + "://")
	}
	if isHostPort(authority) {
		b.WriteString(authority)
		b.WriteString(escapeBlanks(path))
	} else {
		b.WriteString("REDACTED")
	}
	if hasQuery {
		b.WriteString("?" + redactQuery(query))
	}
	return b.String()
}

// redactQuery keeps a query's keys (when they look like names) and hides
// its values.
func redactQuery(q string) string {
	parts := strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' })
	for i, p := range parts {
		key, _, hasValue := strings.Cut(p, "=")
		switch {
		case hasValue && isQueryKey(key):
			parts[i] = key + "=REDACTED"
		default:
			parts[i] = "REDACTED"
		}
	}
	return strings.Join(parts, "&")
}

// isQueryKey reports whether k looks like a parameter name rather than a
// value given without a name.
func isQueryKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !isAlnum(c) && strings.IndexByte("_.-[]", c) < 0 {
			return false
		}
	}
	return true
}

// isScheme reports whether s is an RFC 3986 scheme.
func isScheme(s string) bool {
	if s == "" || !isAlnum(s[0]) || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isSchemeByte(c) {
			return false
		}
	}
	return true
}

// isHostPort reports whether s is an RFC 3986 host (a registered name,
// an IPv4 address or a bracketed IPv6 literal) with an optional numeric
// port. The empty string counts: "http:///path" shows as it is.
func isHostPort(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		for i := 1; i < end; i++ {
			c := s[i]
			if !isAlnum(c) && strings.IndexByte(":.%-_~", c) < 0 {
				return false
			}
		}
		host, port = "", s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !isAlnum(c) && strings.IndexByte("-._~%!$&'()*+,;=", c) < 0 {
			return false
		}
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// escapeBlanks percent-encodes control characters, blanks and bytes
// outside ASCII, so that a path shown in a message stays on one line.
func escapeBlanks(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// RedactURLsIn returns msg with every URL in it ("scheme://" up to a blank
// or a quote, less trailing punctuation) passed through RedactURL: the messages of net/http
// (`Put "http://..."`) and of client_golang's Pusher ("while pushing to
// http://...") name the URL of the request, query and all.
func RedactURLsIn(msg string) string {
	if !strings.Contains(msg, "://") {
		return msg
	}
	var b strings.Builder
	for {
		i := strings.Index(msg, "://")
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		start := i
		for start > 0 && isSchemeByte(msg[start-1]) {
			start--
		}
		end := i + 3
		for end < len(msg) && !isURLEnd(msg[end]) {
			end++
		}
		// Punctuation after a URL ("...: cause") is the message's.
		for end > i+3 && strings.IndexByte(":,;.)", msg[end-1]) >= 0 {
			end--
		}
		b.WriteString(msg[:start])
		if start == i {
			// "://" without a scheme: not a URL; keep it as it is.
			b.WriteString(msg[start:end])
		} else {
			b.WriteString(RedactURL(msg[start:end]))
		}
		msg = msg[end:]
	}
}

func isSchemeByte(c byte) bool {
	return isAlnum(c) || c == '+' || c == '-' || c == '.'
}

func isURLEnd(c byte) bool {
	return c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '`' || c == '<' || c == '>'
}

// RedactError returns err with RedactURLsIn applied to its message; the
// cause is kept for errors.Is and errors.As. It returns nil for nil.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := RedactURLsIn(msg); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// CheckURL parses the base URL of a server (the Pushgateway, Argo
// Server): an absolute http:// or https:// URL with a host, without user
// info or a query, which would put credentials on command lines, in
// templates and in the logs of every proxy: credentials are given in
// files (a bearer token file, a user name with a password file). Its
// errors show the URL through RedactURL; the caller adds the flag's name.
func CheckURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("%q is not an absolute URL (http:// or https:// and a host)", RedactURL(s))
	case u.User != nil:
		return nil, fmt.Errorf("%q: %w", RedactURL(s), ErrCredentialsInURL)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("%q: %w", RedactURL(s), ErrQueryInURL)
	}
	return u, nil
}

// ErrCredentialsInURL is CheckURL's error for a URL with user info.
var ErrCredentialsInURL = errors.New("put no credentials in the URL; give them in a file")

// ErrQueryInURL is CheckURL's error for a URL with a query: a token in
// it would be logged by every proxy, and paths are appended to the URL.
var ErrQueryInURL = errors.New("put no query in the URL; give a token in a file, or as a header")

// RedirectError is a 3xx answer. The clients New builds follow no
// redirect: the hop would be sent the credentials again and, on 301 and
// 302, a GET instead of the PUT, and none of the servers step-metrics
// talks to redirects when its URL is right.
type RedirectError struct {
	// StatusCode is the answer's status, 3xx.
	StatusCode int
	// From is the URL that answered, To where it points (its Location,
	// resolved); both through RedactURL without their query. To is empty
	// when the answer had no Location.
	From, To string
}

func (e *RedirectError) Error() string {
	from := e.From
	if from == "" {
		from = "the server"
	}
	if e.To == "" {
		return fmt.Sprintf("%s answered HTTP %d %s (a redirect without a Location): redirects are not followed; check the URL", from, e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("%s answered HTTP %d %s, a redirect to %s: redirects are not followed, so that credentials go nowhere else; use the URL it points to", from, e.StatusCode, http.StatusText(e.StatusCode), e.To)
}

// Redirected returns a *RedirectError when resp is a 3xx answer, or an
// answer reached by following a redirect (from a client that follows
// them, unlike New's); nil otherwise. It leaves the body to the caller.
func Redirected(resp *http.Response) error {
	if resp == nil {
		return nil
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		e := &RedirectError{StatusCode: resp.StatusCode}
		if resp.Request != nil && resp.Request.URL != nil {
			e.From = redactNoQuery(resp.Request.URL.String())
			if loc := resp.Header.Get("Location"); loc != "" {
				if to, err := resp.Request.URL.Parse(loc); err == nil {
					loc = to.String()
				}
				e.To = redactNoQuery(loc)
			}
		} else if loc := resp.Header.Get("Location"); loc != "" {
			e.To = redactNoQuery(loc)
		}
		return e
	}
	// A client that follows redirects: the request that got resp was made
	// for the redirect answer resp.Request.Response.
	if resp.Request == nil || resp.Request.Response == nil {
		return nil
	}
	first := resp.Request.Response
	for first.Request != nil && first.Request.Response != nil {
		first = first.Request.Response
	}
	e := &RedirectError{StatusCode: first.StatusCode, To: redactNoQuery(resp.Request.URL.String())}
	if first.Request != nil && first.Request.URL != nil {
		e.From = redactNoQuery(first.Request.URL.String())
	}
	return e
}

// redactNoQuery is RedactURL without the query.
func redactNoQuery(s string) string {
	s, _, _ = strings.Cut(RedactURL(s), "?")
	return s
}
