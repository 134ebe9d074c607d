package pushgateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
)

// Label is one name/value pair of a grouping key.
type Label struct{ Name, Value string }

// Target says where a run's metrics go.
type Target struct {
	// URL is the Pushgateway's base URL.
	URL string
	// Job is the job label of the group.
	Job string
	// Grouping is the rest of the grouping key (for a run: namespace and
	// workflow_id). The Pushgateway does not care about their order in the
	// URL, and client_golang does not keep it.
	Grouping []Label
}

// Retry bounds the attempts of one push.
type Retry struct {
	// MaxAttempts is the total number of attempts; 0 means 1.
	MaxAttempts int
	// InitialBackoff is the wait after the first failure; it doubles, up to
	// MaxBackoff, with full jitter.
	InitialBackoff, MaxBackoff time.Duration
}

// DefaultRetry is what the CLI uses.
var DefaultRetry = Retry{MaxAttempts: 5, InitialBackoff: 250 * time.Millisecond, MaxBackoff: 4 * time.Second}

// Push replaces the target's group with the metrics gathered from g, in one
// HTTP PUT (retried on network errors, 429 and 5xx answers within ctx's
// deadline; other 4xx answers are final). doer may be nil for
// http.DefaultClient.
func Push(ctx context.Context, t Target, g prometheus.Gatherer, doer push.HTTPDoer, retry Retry) error {
	if t.URL == "" {
		return errors.New("push: no Pushgateway URL")
	}
	if t.Job == "" {
		return errors.New("push: no job name")
	}
	if doer == nil {
		doer = http.DefaultClient
	}
	rd := &RetryingDoer{Next: doer, Retry: retry}
	p := push.New(t.URL, t.Job).Gatherer(g).Client(rd)
	for _, l := range t.Grouping {
		p = p.Grouping(l.Name, l.Value)
	}
	if err := p.PushContext(ctx); err != nil {
		return describe("push", err, rd.Attempts())
	}
	return nil
}

// Delete deletes the target's group, retrying as Push does within ctx's
// deadline.
func Delete(ctx context.Context, t Target, doer push.HTTPDoer, retry Retry) error {
	if doer == nil {
		doer = http.DefaultClient
	}
	rd := &RetryingDoer{Next: doer, Retry: retry}
	// Pusher.Delete takes no context; give its request ours.
	p := push.New(t.URL, t.Job).Client(ctxDoer{ctx: ctx, next: rd})
	for _, l := range t.Grouping {
		p = p.Grouping(l.Name, l.Value)
	}
	if err := p.Delete(); err != nil {
		return describe("delete", err, rd.Attempts())
	}
	return nil
}

// ctxDoer sends each request under ctx.
type ctxDoer struct {
	ctx  context.Context
	next push.HTTPDoer
}

func (d ctxDoer) Do(req *http.Request) (*http.Response, error) {
	return d.next.Do(req.WithContext(d.ctx))
}

func describe(op string, err error, attempts int) error {
	msg := strings.TrimSpace(err.Error()) + Hint(err)
	if attempts > 1 {
		return fmt.Errorf("%s failed after %d attempts: %s", op, attempts, msg)
	}
	return fmt.Errorf("%s failed: %s", op, msg)
}

// Group renders the target's grouping key for logs and messages:
// job="step-metrics",namespace="ml",workflow_id="5f0c...".
func Group(t Target) string {
	var b strings.Builder
	fmt.Fprintf(&b, "job=%q", t.Job)
	for _, l := range t.Grouping {
		fmt.Fprintf(&b, ",%s=%q", l.Name, l.Value)
	}
	return b.String()
}

// RetryingDoer is a push.HTTPDoer that retries network errors, 429 and 5xx
// answers with exponential backoff and full jitter, never past the
// request context's deadline. It is safe for one request at a time.
type RetryingDoer struct {
	Next  push.HTTPDoer
	Retry Retry
	// Sleep waits; nil means a timer that honours the context.
	Sleep    func(ctx context.Context, d time.Duration) error
	attempts int
}

// Attempts returns how many requests the last Do made.
func (r *RetryingDoer) Attempts() int { return r.attempts }

// Do sends req, retrying as configured.
func (r *RetryingDoer) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	max := r.Retry.MaxAttempts
	if max < 1 {
		max = 1
	}
	backoff := r.Retry.InitialBackoff
	if backoff <= 0 {
		backoff = 100 * time.Millisecond
	}
	r.attempts = 0
	for {
		attemptReq := req
		if r.attempts > 0 {
			attemptReq = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, fmt.Errorf("rewind request body: %w", err)
				}
				attemptReq.Body = body
			}
		}
		r.attempts++
		resp, err := r.Next.Do(attemptReq)
		retryable := (err != nil && !isFinal(err)) || (err == nil && (resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests))
		if !retryable || r.attempts >= max || ctx.Err() != nil || (r.attempts > 0 && req.Body != nil && req.GetBody == nil) {
			return resp, err
		}
		wait := time.Duration(rand.Int64N(int64(backoff) + 1)) //nolint:gosec // jitter, not crypto
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// No time for another attempt: answer with what we have.
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
		}
		sleep := r.Sleep
		if sleep == nil {
			sleep = sleepCtx
		}
		if serr := sleep(ctx, wait); serr != nil {
			if err == nil {
				err = serr
			}
			return nil, err
		}
		backoff *= 2
		if r.Retry.MaxBackoff > 0 && backoff > r.Retry.MaxBackoff {
			backoff = r.Retry.MaxBackoff
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
