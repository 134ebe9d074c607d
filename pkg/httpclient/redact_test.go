package httpclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/step-metrics/step-metrics/internal/fakegw"
)

// redirector answers every request with code and a Location to target.
func redirector(t *testing.T, code int, target string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.Path, code)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestNewRefusesRedirects: a Pushgateway URL that redirects (to another
// host here: a second loopback server) gets its 3xx back, and the second
// server sees no request at all, so none of the credentials. Before, the
// header transport added them again on every hop, and 301/302 turned the
// PUT into a GET that the caller took for success.
func TestNewRefusesRedirects(t *testing.T) {
	dir := t.TempDir()
	token := writeFileIn(t, dir, "token", "s3cr3t-bearer\n")
	password := writeFileIn(t, dir, "password", "s3cr3t-basic\n")
	configs := map[string]Config{
		"bearer": {BearerTokenFile: token},
		"basic":  {Username: "pusher", PasswordFile: password},
		"header": {Headers: http.Header{"X-Api-Key": {"s3cr3t-header"}}},
	}
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for name, cfg := range configs {
			t.Run(fmt.Sprintf("%d %s", code, name), func(t *testing.T) {
				other, gw := fakegw.New(t, nil)
				srv := redirector(t, code, other.URL)
				client, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, srv.URL+"/metrics/job/test", strings.NewReader("m 1\n"))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("Do: %v, want the %d answer itself", err, code)
				}
				resp.Body.Close()
				if resp.StatusCode != code {
					t.Errorf("status %d, want the redirect's %d returned, not followed", resp.StatusCode, code)
				}
				for i, r := range gw.Requests() {
					t.Errorf("the server redirected to got request %d: %s %s with headers %v", i+1, r.Method, r.Path, r.Header)
				}
				rerr := Redirected(resp)
				var re *RedirectError
				if !errors.As(rerr, &re) || re.StatusCode != code || re.To != other.URL+"/metrics/job/test" || re.From != srv.URL+"/metrics/job/test" {
					t.Errorf("Redirected = %#v, want a RedirectError from %s to %s", rerr, srv.URL, other.URL)
				}
			})
		}
	}
}

// TestRedirected covers what Redirected says for answers of any client: a
// client that follows redirects (http.DefaultClient, say) ends on a 200,
// which must still not count as a success.
func TestRedirected(t *testing.T) {
	final, _ := fakegw.New(t, nil)
	srv := redirector(t, http.StatusFound, final.URL)
	resp, err := http.Get(srv.URL + "/metrics/job/x?access_token=s3cr3t")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: the default client should have followed to a 200", resp.StatusCode)
	}
	rerr := Redirected(resp)
	var re *RedirectError
	if !errors.As(rerr, &re) || re.StatusCode != http.StatusFound || re.From != srv.URL+"/metrics/job/x" || re.To != final.URL+"/metrics/job/x" {
		t.Fatalf("Redirected(followed) = %#v, want a RedirectError 302 from %s to %s", rerr, srv.URL, final.URL)
	}
	for _, want := range []string{"302", final.URL, "redirects are not followed", "use the URL it points to"} {
		if !strings.Contains(rerr.Error(), want) {
			t.Errorf("message %q lacks %q", rerr, want)
		}
	}

	for _, tc := range []struct {
		name string
		resp *http.Response
		want string // "" means nil
	}{
		{"nil", nil, ""},
		{"200", &http.Response{StatusCode: 200, Request: &http.Request{URL: mustURL(t, "http://pg/x")}}, ""},
		{"304 without a Location", &http.Response{StatusCode: 304, Request: &http.Request{URL: mustURL(t, "http://pg/x")}},
			"http://pg/x answered HTTP 304 Not Modified (a redirect without a Location): redirects are not followed; check the URL"},
		{"relative Location with secrets", &http.Response{StatusCode: 307, Header: http.Header{"Location": {"//u:s3cr3t@other:1/y?access_token=s3cr3t"}},
			Request: &http.Request{URL: mustURL(t, "https://pg:9091/x?sig=s3cr3t")}},
			"https://pg:9091/x answered HTTP 307 Temporary Redirect, a redirect to https://other:1/y: redirects are not followed, so that credentials go nowhere else; use the URL it points to"},
		{"no request", &http.Response{StatusCode: 301, Header: http.Header{"Location": {"http://other/"}}},
			"the server answered HTTP 301 Moved Permanently, a redirect to http://other/: redirects are not followed, so that credentials go nowhere else; use the URL it points to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Redirected(tc.resp)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Redirected = %v, want nil", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("Redirected = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// The inputs of issue 14 that echoed a credential, and their neighbours.
var redactCases = []struct{ in, want string }{
	{"u:PASS@host:9091", "host:9091"}, // url.Parse: scheme "u", opaque "PASS@host:9091"
	{"u:PASS@host:port", "REDACTED"},  // not a host:port once the user info is gone
	{"http://u:PASS@host:9091/metrics", "http://host:9091/metrics"},
	{"https://PASS@argo:2746", "https://argo:2746"},
	{"http://u:P@SS@host", "http://host"},
	{"http://u:PA/SS@host/x", "http://REDACTED"}, // a raw '/' in the password
	{"http://u:PA?SS@host", "http://REDACTED?REDACTED"},
	{"http://u:PA#SS@host", "http://REDACTED"},
	{"https://argo:2746/argo/?access_token=PASS&x=PASS", "https://argo:2746/argo/?access_token=REDACTED&x=REDACTED"},
	{"http://pg:9091?PASS", "http://pg:9091?REDACTED"},
	{"http://pg:9091/?a=b=PASS;PASS=", "http://pg:9091/?a=REDACTED&PASS=REDACTED"},
	{"http://pg:9091/#PASS", "http://pg:9091/"},
	{"http://pg:9091/metrics/job/j/workflow_id@base64/YSBi", "http://pg:9091/metrics/job/j/workflow_id@base64/YSBi"},
	{"http://[::1]:9091/x", "http://[::1]:9091/x"},
	{"http://[::1", "http://REDACTED"},
	{"pushgateway.monitoring:9091", "pushgateway.monitoring:9091"},
	{"http://pg/a b\nc\x00", "http://pg/a%20b%0Ac%00"},
	{"ftp://u:PASS@pg", "ftp://pg"},
	{"", ""},
}

func TestRedactURL(t *testing.T) {
	for _, tc := range redactCases {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCheckURL: the checks of a server URL; none of the errors shows the
// password or the query value.
func TestCheckURL(t *testing.T) {
	for _, s := range []string{"http://pg:9091", "https://argo-server.argo:2746/argo/", "http://[::1]:9091"} {
		if _, err := CheckURL(s); err != nil {
			t.Errorf("CheckURL(%q): %v", s, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want string // a part of the message
		is   error
	}{
		{"u:PASS@host:9091", `"host:9091" is not an absolute URL`, nil},
		{"u:PASS@host:port", `"REDACTED" is not an absolute URL`, nil},
		{"pushgateway:9091", `"pushgateway:9091" is not an absolute URL`, nil},
		{"ftp://u:PASS@pg", `"ftp://pg" is not an absolute URL`, nil},
		{"http://u:PASS@pg:9091", `"http://pg:9091": put no credentials in the URL`, ErrCredentialsInURL},
		{"https://argo:2746?access_token=PASS", `"https://argo:2746?access_token=REDACTED": put no query in the URL`, ErrQueryInURL},
		{"http://pg:9091/?", `"http://pg:9091/?": put no query`, ErrQueryInURL},
		{"http://u:PA/SS@pg:9091", `"http://REDACTED" is not an absolute URL`, nil},
		{"http://[::1", `"http://REDACTED" is not an absolute URL`, nil},
		{"", `"" is not an absolute URL`, nil},
	} {
		_, err := CheckURL(tc.in)
		switch {
		case err == nil:
			t.Errorf("CheckURL(%q) accepted it", tc.in)
		case strings.Contains(err.Error(), "PASS") || strings.Contains(err.Error(), "SS@"):
			t.Errorf("CheckURL(%q): error shows the secret: %v", tc.in, err)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("CheckURL(%q) = %v, want %q in it", tc.in, err, tc.want)
		case tc.is != nil && !errors.Is(err, tc.is):
			t.Errorf("CheckURL(%q) = %v, want errors.Is %v", tc.in, err, tc.is)
		}
	}
}

// TestRedactError: the messages net/http and client_golang's Pusher
// write name the request's URL; RedactError hides what RedactURL hides and
// keeps the cause.
func TestRedactError(t *testing.T) {
	cause := errors.New("connection refused")
	err := fmt.Errorf(`Put "http://u:PASS@pg:9091/?access_token=PASS/metrics/job/j": %w`, cause)
	got := RedactError(err)
	want := `Put "http://pg:9091/?access_token=REDACTED": connection refused`
	if got.Error() != want {
		t.Errorf("RedactError = %q, want %q", got, want)
	}
	if !errors.Is(got, cause) {
		t.Error("RedactError lost the cause")
	}
	plain := errors.New("unexpected status code 400 while pushing to http://pg:9091/metrics/job/j: bad")
	if got := RedactError(plain); got != plain { //nolint:errorlint // the very same error, not one wrapping it
		t.Error("RedactError wrapped an error with nothing to hide")
	}
	if RedactError(nil) != nil {
		t.Error("RedactError(nil) is not nil")
	}
	for _, tc := range redactCases {
		if !strings.Contains(tc.in, "://") || strings.ContainsAny(tc.in, " \n\x00") {
			continue
		}
		msg := "get " + tc.in + ": failed"
		if got, want := RedactURLsIn(msg), "get "+tc.want+": failed"; got != want {
			t.Errorf("RedactURLsIn(%q) = %q, want %q", msg, got, want)
		}
	}
}

// TestParseHeaderWithoutSeparator: a header without a separator may be
// all value (a bare token); the message shows none of it.
func TestParseHeaderWithoutSeparator(t *testing.T) {
	for _, in := range []string{"eyJhbGciOiJIUzI1NiJ9.s3cr3t", "s3cr3t", "X-Token-s3cr3t"} {
		_, _, err := ParseHeader(in)
		if err == nil {
			t.Fatalf("ParseHeader(%q) accepted it", in)
		}
		if want := `header "<redacted>": want "Name: value"`; err.Error() != want {
			t.Errorf("ParseHeader(%q) = %v, want %s", in, err, want)
		}
	}
}
