package pushgateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/internal/fakegw"
	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/limits"
)

// TestPushRedirectIsFailure: a Pushgateway URL that answers with a
// redirect to another server (a second loopback server) gives a failed
// push, in one attempt, naming where it pointed; through httpclient.New's
// client the other server gets nothing, so none of the bearer token, the
// basic auth or the --header values; through a client that follows
// redirects (the default client) the push still fails although the last
// answer is a 200. Before, the credentials were sent again on each hop
// and a 301/302 turned the PUT into a GET whose 200 was logged "pushed".
func TestPushRedirectIsFailure(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	password := filepath.Join(dir, "password")
	for path, secret := range map[string]string{token: "s3cr3t-bearer", password: "s3cr3t-basic"} {
		if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	configs := map[string]httpclient.Config{
		"bearer and header": {BearerTokenFile: token, Headers: http.Header{"X-Api-Key": {"s3cr3t-header"}}},
		"basic":             {Username: "pusher", PasswordFile: password},
	}
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for name, cfg := range configs {
			t.Run(fmt.Sprintf("%d %s", code, name), func(t *testing.T) {
				other, otherGW := fakegw.New(t, nil)
				var hits atomic.Int32
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					hits.Add(1)
					http.Redirect(w, r, other.URL+r.URL.Path+"?sig=s3cr3t-query", code)
				}))
				t.Cleanup(srv.Close)
				client, err := httpclient.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				err = Push(context.Background(), testTarget(srv.URL), fakegw.Registry(t), client, fastRetry)
				if err == nil {
					t.Fatal("Push reported success for a redirect")
				}
				for i, r := range otherGW.Requests() {
					t.Errorf("the server redirected to got request %d: %s %s, headers %v", i+1, r.Method, r.Path, r.Header)
				}
				checkRedirectError(t, err, code, other.URL)
				if n := hits.Load(); n != 1 {
					t.Errorf("%d requests to the Pushgateway URL, want 1: a redirect is final", n)
				}
			})
		}
		t.Run(fmt.Sprintf("%d client that follows", code), func(t *testing.T) {
			other, otherGW := fakegw.New(t, nil)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+r.URL.Path, code)
			}))
			t.Cleanup(srv.Close)
			err := Push(context.Background(), testTarget(srv.URL), fakegw.Registry(t), nil, fastRetry)
			if err == nil {
				t.Fatalf("Push reported success after following a %d (the other server saw %d requests)", code, len(otherGW.Requests()))
			}
			checkRedirectError(t, err, code, other.URL)
		})
	}
}

func checkRedirectError(t *testing.T, err error, code int, to string) {
	t.Helper()
	var re *httpclient.RedirectError
	if !errors.As(err, &re) || re.StatusCode != code {
		t.Fatalf("error %v is not a RedirectError for %d", err, code)
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Op != "push" || pe.Attempts != 1 {
		t.Errorf("error %#v is not an *Error of one push attempt", err)
	}
	msg := err.Error()
	for _, want := range []string{"push failed: ", fmt.Sprint(code), "a redirect to " + to + "/metrics/job/step-metrics", "use the URL it points to"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cr3t") {
		t.Errorf("error %q shows a secret", msg)
	}
}

// TestPushErrorBodyBounded: a 500 with a 50 MB body (a proxy's page, a
// Pushgateway gone wrong) gives a short one-line error, and the client
// stops reading early: the server could not write the whole body (the
// bytes it wrote are counted until the client hung up). Before, the
// Pusher read it all into its message: a 50 MB log line.
func TestPushErrorBodyBounded(t *testing.T) {
	const size = 50 << 20
	written := make(chan int64, 10)
	chunk := []byte(strings.Repeat("error page line\n", 4096)) // 64 KiB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(http.StatusInternalServerError)
		var n int64
		for n < size {
			m, err := w.Write(chunk)
			n += int64(m)
			if err != nil {
				break
			}
		}
		written <- n
	}))
	t.Cleanup(srv.Close)
	client, err := httpclient.New(httpclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, retry := range []Retry{{MaxAttempts: 1}, fastRetry} {
		t.Run(fmt.Sprintf("%d attempts", retry.MaxAttempts), func(t *testing.T) {
			err := Push(context.Background(), testTarget(srv.URL), fakegw.Registry(t), client, retry)
			if err == nil {
				t.Fatal("Push succeeded on a 500")
			}
			msg := err.Error()
			if len(msg) > limits.ErrorBody+512 {
				t.Errorf("error is %d bytes long, want at most limits.ErrorBody (%d) and the message around it", len(msg), limits.ErrorBody)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error is not one line: %.200q", msg)
			}
			for _, want := range []string{"500", "error page line error page line", "(cut at 4096 bytes)"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %.300q... lacks %q", msg, want)
				}
			}
			for i := 0; i < max(retry.MaxAttempts, 1); i++ {
				select {
				case n := <-written:
					if n >= size {
						t.Errorf("attempt %d: the server wrote all %d bytes: the client read the whole body", i+1, n)
					}
					t.Logf("attempt %d: the server wrote %d of %d bytes before the client hung up; error of %d bytes", i+1, n, size, len(msg))
				case <-time.After(10 * time.Second):
					t.Fatalf("attempt %d: the server is still writing the body: the client did not hang up", i+1)
				}
			}
		})
	}
}

// TestPushURLRedacted: the messages of net/http and of the Pusher name the
// request's URL; a password or a query value in the Pushgateway URL does
// not show in the error.
func TestPushURLRedacted(t *testing.T) {
	bad, _ := fakegw.New(t, fakegw.Statuses(400))
	for _, base := range []string{
		strings.Replace(bad.URL, "http://", "http://u:s3cr3t@", 1), // the Pusher's "while pushing to <URL>"
		refusedURL(t) + "/?access_token=s3cr3t",                    // net/http's `Put "<URL>": dial ...`
	} {
		err := Push(context.Background(), testTarget(base), fakegw.Registry(t), &http.Client{}, Retry{})
		if err == nil {
			t.Fatalf("Push to %s succeeded", base)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error shows the secret: %v", err)
		}
		if !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("error %q no longer names the server", err)
		}
	}
}

// headerDoer answers with code and header, and counts the requests.
type headerDoer struct {
	code   int
	header http.Header
	calls  int
}

func (d *headerDoer) Do(req *http.Request) (*http.Response, error) {
	d.calls++
	code := d.code
	if d.calls > 1 {
		code = http.StatusOK
	}
	return &http.Response{StatusCode: code, Header: d.header, Body: http.NoBody, Request: req}, nil
}

// TestRetryingDoerRetryAfter: a 429's (or 503's) Retry-After is waited
// for, in seconds or as a date, when the deadline leaves time for it;
// otherwise the answer is returned at once rather than waited past the
// deadline. A 3xx is never retried.
func TestRetryingDoerRetryAfter(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		code     int
		after    string
		timeout  time.Duration // 0: no deadline
		wantWait time.Duration // the least wait; -1: no wait at all
		wantCode int
	}{
		{name: "429 seconds", code: 429, after: "2", timeout: time.Minute, wantWait: 2 * time.Second, wantCode: 200},
		{name: "503 seconds", code: 503, after: "3", timeout: time.Minute, wantWait: 3 * time.Second, wantCode: 200},
		{name: "429 date", code: 429, after: now.Add(5 * time.Second).UTC().Format(http.TimeFormat), timeout: time.Minute, wantWait: 3 * time.Second, wantCode: 200},
		{name: "429 past the deadline", code: 429, after: "120", timeout: 5 * time.Second, wantWait: -1, wantCode: 429},
		{name: "429 no deadline, long", code: 429, after: "3600", wantWait: -1, wantCode: 429},
		{name: "429 garbage", code: 429, after: "soon", timeout: time.Minute, wantWait: 0, wantCode: 200},
		{name: "500 ignores it", code: 500, after: "30", timeout: time.Minute, wantWait: 0, wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			next := &headerDoer{code: tt.code, header: http.Header{"Retry-After": {tt.after}}}
			var waits []time.Duration
			rd := &RetryingDoer{Next: next, Retry: fastRetry, Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			resp, err := rd.Do(newPUT(ctx, t, "x"))
			if err != nil || resp.StatusCode != tt.wantCode {
				t.Fatalf("Do = %v, %v; want %d", resp, err, tt.wantCode)
			}
			switch {
			case tt.wantWait < 0 && len(waits) != 0:
				t.Errorf("waited %v, want no wait: the Retry-After does not fit", waits)
			case tt.wantWait >= 0 && len(waits) != 1:
				t.Errorf("waited %v, want one wait", waits)
			case tt.wantWait >= 0 && waits[0] < tt.wantWait:
				t.Errorf("waited %s, want at least the Retry-After's %s", waits[0], tt.wantWait)
			case tt.wantWait == 0 && waits[0] > fastRetry.InitialBackoff:
				t.Errorf("waited %s, want the backoff (at most %s)", waits[0], fastRetry.InitialBackoff)
			}
		})
	}

	t.Run("3xx is final", func(t *testing.T) {
		next := &headerDoer{code: http.StatusFound, header: http.Header{"Location": {"http://elsewhere/"}}}
		rd := &RetryingDoer{Next: next, Retry: fastRetry}
		resp, err := rd.Do(newPUT(context.Background(), t, "x"))
		var re *httpclient.RedirectError
		if !errors.As(err, &re) || resp != nil {
			t.Errorf("Do = %v, %v; want a RedirectError and no response", resp, err)
		}
		if next.calls != 1 {
			t.Errorf("%d requests, want 1", next.calls)
		}
		if !isFinal(err) {
			t.Error("isFinal(RedirectError) = false")
		}
	})
}
