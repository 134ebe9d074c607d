package pushgateway

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/step-metrics/step-metrics/pkg/schema"
)

// The grouping key in the request path.
//
// client_golang's Pusher (v1.23 and v1.25 alike) writes a grouping value
// in base64 only when it holds a '/' or is empty, and query-escapes every
// other value: a space becomes '+'. The Pushgateway reads the path as
// net/http unescapes it, where '+' is a plus: a push of workflow_id "a b"
// landed as "a+b", and the DELETE of a listed group "a b" went to the
// group "a+b", which does not exist, and was answered 202 all the same.
// So every request of Push and Delete goes to the path groupPath encodes
// (the Pusher still gathers, encodes and sends the body): a value is
// written as it is only when it is made of characters that no step
// between here and the Pushgateway's router changes, and in the
// `<name>@base64/<base64url>` form the Pushgateway has decoded since 1.0
// otherwise, so every value round-trips exactly.

// groupPath is the path of t's group under the Pushgateway's base URL:
// /metrics/job/<job>/<name>/<value>..., in t.Grouping's order (the
// Pushgateway does not care about the order).
func groupPath(t Target) string {
	var b strings.Builder
	b.WriteString("/metrics")
	writeComponent(&b, schema.LabelJob, t.Job)
	for _, l := range t.Grouping {
		writeComponent(&b, l.Name, l.Value)
	}
	return b.String()
}

// writeComponent writes /name/value, or /name@base64/<value in unpadded
// base64url> ("=" for the empty value, as client_golang writes it: an
// empty path segment would be lost).
func writeComponent(b *strings.Builder, name, value string) {
	b.WriteByte('/')
	b.WriteString(name)
	if plainValue(value) {
		b.WriteByte('/')
		b.WriteString(value)
		return
	}
	b.WriteString("@base64/")
	if value == "" {
		b.WriteByte('=')
		return
	}
	b.WriteString(base64.RawURLEncoding.EncodeToString([]byte(value)))
}

// plainValue reports whether v can go into the path as it is: only RFC
// 3986 unreserved characters (A-Z a-z 0-9 - . _ ~), which no escaping or
// unescaping changes, and not a dot segment ("." or ".."), which a client
// or proxy may resolve away. Kubernetes UIDs and names, the usual values,
// stay readable in the Pushgateway's logs.
func plainValue(v string) bool {
	if v == "" || v == "." || v == ".." {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// groupURL is the URL of t's group: the base URL as client_golang's
// push.New reads it (http:// when it has no scheme, no trailing slash),
// then groupPath.
func groupURL(t Target) (*url.URL, error) {
	base := t.URL
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return url.Parse(strings.TrimSuffix(base, "/") + groupPath(t))
}

// groupDoer returns a push.HTTPDoer that sends each request of t's Pusher
// to groupURL(t) instead of the URL the Pusher built, through next. When
// the base URL does not parse it returns next: the Pusher then fails on
// the same URL, with its own error, before sending anything.
func groupDoer(t Target, next push.HTTPDoer) push.HTTPDoer {
	u, err := groupURL(t)
	if err != nil {
		return next
	}
	return atURL{url: u, next: next}
}

// atURL sends each request to url, through next; the request itself is
// left as it was (a shallow copy goes on).
type atURL struct {
	url  *url.URL
	next push.HTTPDoer
}

func (d atURL) Do(req *http.Request) (*http.Response, error) {
	r := req.WithContext(req.Context())
	u := *d.url
	r.URL, r.Host = &u, u.Host
	return d.next.Do(r)
}
