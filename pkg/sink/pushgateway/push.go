// Package pushgateway delivers metrics to a Prometheus Pushgateway, one
// group per run (job, namespace, workflow_id) or per step (the same plus
// step), through client_golang's Pusher: Push replaces a group in one PUT,
// Delete removes it, both retried by a RetryingDoer on network errors, 429
// and 5xx answers within the context's deadline. A redirect is an error,
// never followed (httpclient.New's client does not follow it, so the
// credentials go nowhere else), and an error answer's body is cut to
// limits.ErrorBody. Messages show URLs through httpclient.RedactURL. Sink
// wraps them as a sink.Sink. Errors keep their cause (errors.As finds an
// x509 error or an *httpclient.RedirectError, say); advice on what to do
// about them is the caller's to give, since only the caller knows its own
// flags.
//
//	client, err := httpclient.New(httpclient.Config{CAFile: "/etc/pushgateway/ca.crt"})
//	if err != nil { ... }
//	target := pushgateway.Target{URL: "https://pushgateway.monitoring:9091", Job: "step-metrics",
//		Grouping: []pushgateway.Label{{Name: "namespace", Value: "ml"}, {Name: "workflow_id", Value: uid}}}
//	err = pushgateway.Push(ctx, target, registry, client, pushgateway.DefaultRetry)
//
// or, through the Sink interface:
//
//	s := pushgateway.New("https://pushgateway.monitoring:9091", client, pushgateway.DefaultRetry)
//	err = s.Write(ctx, schema.RunKey(schema.DefaultJob, "ml", uid), fams)
package pushgateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/limits"
	"github.com/step-metrics/step-metrics/pkg/schema"
	"github.com/step-metrics/step-metrics/pkg/sink"
)

// Label is one name/value pair of a grouping key.
type Label = schema.Label

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

// Key returns the target's grouping key.
func (t Target) Key() schema.GroupingKey {
	return schema.GroupingKey{Job: t.Job, Labels: append([]Label(nil), t.Grouping...)}
}

// TargetOf returns the target of key's group at the Pushgateway url.
func TargetOf(url string, key schema.GroupingKey) Target {
	return Target{URL: url, Job: key.Job, Grouping: append([]Label(nil), key.Labels...)}
}

// Sink is the sink.Sink (and sink.Deleter) of one Pushgateway. It is safe
// for concurrent use: each Write or Delete has its own RetryingDoer.
type Sink struct {
	url   string
	doer  push.HTTPDoer
	retry Retry
}

var _ sink.Deleter = (*Sink)(nil)

// New returns the Sink of the Pushgateway at url (its base URL), sending
// through doer (nil means http.DefaultClient) and retrying as retry says.
func New(url string, doer push.HTTPDoer, retry Retry) *Sink {
	return &Sink{url: url, doer: doer, retry: retry}
}

// Write replaces key's group with fams, as Push does.
func (s *Sink) Write(ctx context.Context, key schema.GroupingKey, fams []*dto.MetricFamily) error {
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return fams, nil })
	return Push(ctx, TargetOf(s.url, key), g, s.doer, s.retry)
}

// Delete deletes key's group, as the package's Delete does.
func (s *Sink) Delete(ctx context.Context, key schema.GroupingKey) error {
	return Delete(ctx, TargetOf(s.url, key), s.doer, s.retry)
}

// Error is a push or a deletion that failed: the last attempt's error,
// kept as the cause, and how many attempts were made.
type Error struct {
	// Op is "push" or "delete".
	Op string
	// Attempts is how many requests were sent.
	Attempts int
	// Err is the last attempt's error.
	Err error
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Err.Error())
	if e.Attempts > 1 {
		return fmt.Sprintf("%s failed after %d attempts: %s", e.Op, e.Attempts, msg)
	}
	return fmt.Sprintf("%s failed: %s", e.Op, msg)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

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
// deadline, honouring Retry-After; other 4xx answers, redirects and
// refused certificates are final, and a redirect is never a success). doer
// may be nil for http.DefaultClient. A failure after the request was sent
// is an *Error.
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
	p := push.New(t.URL, t.Job).Gatherer(g).Client(groupDoer(t, rd)) // the grouping key's path: grouping.go
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
	p := push.New(t.URL, t.Job).Client(ctxDoer{ctx: ctx, next: groupDoer(t, rd)})
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

// describe returns err as an *Error, every URL in its message (net/http's
// and the Pusher's name the request's) through httpclient.RedactURL.
func describe(op string, err error, attempts int) error {
	return &Error{Op: op, Attempts: attempts, Err: httpclient.RedactError(err)}
}

// Group renders the target's grouping key for logs and messages:
// job="step-metrics",namespace="ml",workflow_id="5f0c...".
func Group(t Target) string { return t.Key().String() }

// RetryingDoer is a push.HTTPDoer that retries network errors, 429 and 5xx
// answers with exponential backoff and full jitter, waiting at least what
// a 429's or 503's Retry-After asks, never past the request context's
// deadline. It never hands on a redirect: a 3xx answer, or one reached by
// following a redirect (a client other than httpclient.New's), is a
// final *httpclient.RedirectError, so a redirected push never counts as
// stored. The body of any other answer that is not 2xx is cut to
// limits.ErrorBody bytes on one line, for the Pusher reads it whole into
// its message. It is safe for one request at a time.
type RetryingDoer struct {
	Next  push.HTTPDoer
	Retry Retry
	// Sleep waits; nil means a timer that honours the context.
	Sleep    func(ctx context.Context, d time.Duration) error
	attempts int
}

// maxRetryAfter is the longest Retry-After honoured when the request has
// no deadline to bound it; a longer one ends the retries.
const maxRetryAfter = time.Minute

// Attempts returns how many requests the last Do made.
func (r *RetryingDoer) Attempts() int { return r.attempts }

// Do sends req, retrying as configured.
func (r *RetryingDoer) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	attempts := r.Retry.MaxAttempts
	if attempts < 1 {
		attempts = 1
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
		if err == nil {
			if rerr := httpclient.Redirected(resp); rerr != nil {
				discard(resp)
				return nil, rerr
			}
		}
		retryable := (err != nil && !isFinal(err)) || (err == nil && (resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests))
		if !retryable || r.attempts >= attempts || ctx.Err() != nil || (r.attempts > 0 && req.Body != nil && req.GetBody == nil) {
			return final(resp), err
		}
		wait := time.Duration(rand.Int64N(int64(backoff) + 1)) //nolint:gosec // jitter, not crypto
		after, asked := retryAfter(resp, time.Now())
		wait = max(wait, after)
		dl, hasDeadline := ctx.Deadline()
		if (hasDeadline && time.Until(dl) < wait) || (!hasDeadline && asked && after > maxRetryAfter) {
			// No time for another attempt: answer with what we have.
			return final(resp), err
		}
		discard(resp)
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

// retryAfter is the wait a 429 or 503 answer's Retry-After asks for (in
// seconds, or an HTTP date), and whether it asked.
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// discard reads a little of a response that is not handed on, so that its
// connection may be reused, and closes it.
func discard(resp *http.Response) {
	if resp == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, limits.ErrorBody))
	_ = resp.Body.Close()
}

// final prepares the response Do hands on: the body of an answer that is
// not 2xx, which the Pusher reads whole into its error, is replaced by at
// most limits.ErrorBody bytes of it on one line; the rest is never read
// (a Pushgateway or proxy answering with a 300 MB page would otherwise
// make a 300 MB log line).
func final(resp *http.Response) *http.Response {
	if resp == nil || resp.StatusCode/100 == 2 {
		return resp
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, limits.ErrorBody+1))
	_ = resp.Body.Close()
	cut := len(b) > limits.ErrorBody
	if cut {
		b = b[:limits.ErrorBody]
	}
	msg := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	msg = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, msg)
	if cut {
		msg += " ... (cut at " + strconv.Itoa(limits.ErrorBody) + " bytes)"
	}
	resp.Body = io.NopCloser(strings.NewReader(msg))
	resp.ContentLength = int64(len(msg))
	return resp
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
