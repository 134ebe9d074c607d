package faultproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

func newBackend(t *testing.T) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, strings.Repeat("ok", 100))
	}))
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, url string, timeout time.Duration) (int, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader("body"))
	// A fresh connection per request: the plan is per connection.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestActions(t *testing.T) {
	backend := newBackend(t)
	target := strings.TrimPrefix(backend.URL, "http://")
	p := Start(t, target, Sequence(
		Answer(503, "try later"),
		Action{Kind: Pass, Delay: 100 * time.Millisecond},
		Action{Kind: Reset},
		Action{Kind: CutResponse, CutAfter: 20},
		Action{Kind: BlackHole},
	))
	url := "http://" + p.Addr + "/x"

	if code, body, err := get(t, url, 5*time.Second); err != nil || code != 503 || body != "try later" {
		t.Errorf("respond: %d %q %v", code, body, err)
	}
	start := time.Now()
	if code, body, err := get(t, url, 5*time.Second); err != nil || code != 200 || len(body) != 200 {
		t.Errorf("pass: %d %d bytes %v", code, len(body), err)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("delayed pass took %v, want at least 100ms", took)
	}
	if _, _, err := get(t, url, 5*time.Second); err == nil {
		t.Error("reset: no error")
	}
	if _, _, err := get(t, url, 5*time.Second); err == nil {
		t.Error("cut response: no error")
	}
	start = time.Now()
	if _, _, err := get(t, url, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("black hole: %v, want a deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("black hole ended after %v", took)
	}
	want := "respond pass reset cut response black hole"
	var got []string
	for _, k := range p.Connections() {
		got = append(got, k.String())
	}
	if strings.Join(got, " ") != want {
		t.Errorf("actions %v, want %s", got, want)
	}

	p.Down()
	if _, err := net.DialTimeout("tcp", p.Addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("down: dial %v, want connection refused", err)
	}
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	p.SetPlan(Always(Action{Kind: Pass}))
	if code, _, err := get(t, url, 5*time.Second); err != nil || code != 200 {
		t.Errorf("up again: %d %v", code, err)
	}
}
