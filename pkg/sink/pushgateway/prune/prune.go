// Package prune deletes stale groups from a Prometheus Pushgateway.
//
// The Pushgateway keeps every group until it is deleted, and deletes only
// by exact grouping key. Pruning is three steps: List reads every group
// with its last push time from GET /api/v1/metrics (streamed, so the
// answer's size does not matter), Select applies the policy (our job,
// label selectors, ages, runs still in progress), and Delete deletes the
// chosen groups by their exact grouping keys, a bounded number at a time.
//
//	groups, err := prune.List(ctx, "http://pushgateway:9091", doer, pushgateway.DefaultRetry)
//	plan := prune.Select(groups, prune.Policy{Job: "step-metrics", MaxAge: 7 * 24 * time.Hour,
//		MaxAgeUnfinished: 30 * 24 * time.Hour, Now: time.Now()})
//	res := prune.Delete(ctx, "http://pushgateway:9091", plan.Delete, doer, pushgateway.DefaultRetry, 8)
package prune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientpush "github.com/prometheus/client_golang/prometheus/push"

	"github.com/step-metrics/step-metrics/pkg/schema"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"
)

// The metric families the policy reads from a group, by the names
// pkg/schema gives them: the Pushgateway's push times and the run's
// result and unfinished steps.
var (
	pushTimeFamily        = schema.PushTimeMetric
	pushFailureTimeFamily = schema.PushFailureTimeMetric
	runResultFamily       = schema.RunResult.Name
	stepsUnfinishedFamily = schema.RunStepsUnfinished.Name
)

// Group is one group as the Pushgateway lists it.
type Group struct {
	// Labels is the grouping key, job included; a label may have an empty
	// value, which is part of the key.
	Labels map[string]string
	// PushTime is the last successful push (push_time_seconds), zero if none.
	PushTime time.Time
	// PushFailureTime is the last failed push (push_failure_time_seconds),
	// zero if none.
	PushFailureTime time.Time
	// Unfinished says the group describes a run still in progress when it
	// was pushed: pipeline_run_result has no series at 1, or
	// pipeline_run_steps_unfinished is above 0.
	Unfinished bool
}

// LastPush is the newer of PushTime and PushFailureTime: the last time
// anyone pushed to the group.
func (g Group) LastPush() time.Time {
	if g.PushFailureTime.After(g.PushTime) {
		return g.PushFailureTime
	}
	return g.PushTime
}

// Key renders the grouping key, sorted by label name:
// {job="step-metrics",namespace="ml",workflow_id="5f0c..."}.
func (g Group) Key() string {
	names := make([]string, 0, len(g.Labels))
	for n := range g.Labels {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", n, g.Labels[n])
	}
	b.WriteByte('}')
	return b.String()
}

// MaxListSize bounds the /api/v1/metrics answer List reads (4 GiB: far
// beyond what a Pushgateway serves; the answer is streamed, not held).
const MaxListSize = 4 << 30

// List returns every group the Pushgateway at baseURL holds, from GET
// /api/v1/metrics, retrying as pushgateway.Push does within ctx's deadline. doer
// may be nil for http.DefaultClient.
func List(ctx context.Context, baseURL string, doer clientpush.HTTPDoer, retry pushgateway.Retry) ([]Group, error) {
	if doer == nil {
		doer = http.DefaultClient
	}
	u := strings.TrimSuffix(baseURL, "/") + "/api/v1/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	rd := &pushgateway.RetryingDoer{Next: doer, Retry: retry}
	resp, err := rd.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list groups: GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("list groups: GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(msg)))
	}
	groups, err := decodeList(io.LimitReader(resp.Body, MaxListSize))
	if err != nil {
		return nil, fmt.Errorf("list groups: GET %s: %w", u, err)
	}
	return groups, nil
}

// apiGroup is the part of a group in /api/v1/metrics the policy needs.
// A group's keys are its metric family names beside "labels", and the
// names come from pkg/schema (a struct tag cannot name a constant), so
// UnmarshalJSON picks the families by name and drops the others.
type apiGroup struct {
	Labels map[string]string
	// Families are the families of policyFamilies the group has; a family
	// given as null is absent.
	Families map[string]*apiFamily
}

// policyFamilies are the families apiGroup keeps.
var policyFamilies = []string{pushTimeFamily, pushFailureTimeFamily, runResultFamily, stepsUnfinishedFamily}

// UnmarshalJSON decodes a group object; null is an empty group, as for a
// struct.
func (a *apiGroup) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	if raw, ok := fields["labels"]; ok {
		if err := json.Unmarshal(raw, &a.Labels); err != nil {
			return fmt.Errorf("labels: %w", err)
		}
	}
	for _, name := range policyFamilies {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		var f *apiFamily
		if err := json.Unmarshal(raw, &f); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if a.Families == nil {
			a.Families = map[string]*apiFamily{}
		}
		a.Families[name] = f
	}
	return nil
}

type apiFamily struct {
	Metrics []struct {
		Value string `json:"value"`
	} `json:"metrics"`
}

// values returns the family's sample values; unparsable ones are NaN.
func (f *apiFamily) values() []float64 {
	if f == nil {
		return nil
	}
	out := make([]float64, 0, len(f.Metrics))
	for _, m := range f.Metrics {
		v, err := strconv.ParseFloat(m.Value, 64)
		if err != nil {
			v = math.NaN()
		}
		out = append(out, v)
	}
	return out
}

// decodeList streams {"status":"success","data":[group, ...]}.
func decodeList(r io.Reader) ([]Group, error) {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err == nil {
			err = fmt.Errorf("starts with %v", tok)
		}
		return nil, fmt.Errorf("not a Pushgateway's /api/v1/metrics: %w", err)
	}
	var groups []Group
	sawData := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		key, _ := tok.(string)
		if key != "data" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("decode %q: %w", key, err)
			}
			continue
		}
		sawData = true
		if err := expectDelim(dec, '['); err != nil {
			return nil, err
		}
		for dec.More() {
			var g apiGroup
			if err := dec.Decode(&g); err != nil {
				return nil, fmt.Errorf("decode group %d: %w", len(groups)+1, err)
			}
			groups = append(groups, g.group())
		}
		if err := expectDelim(dec, ']'); err != nil {
			return nil, err
		}
	}
	if !sawData {
		return nil, errors.New("answer has no \"data\": not a Pushgateway's /api/v1/metrics")
	}
	return groups, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("decode: want %q, got %v: not a Pushgateway's /api/v1/metrics", want, tok)
	}
	return nil
}

func (a apiGroup) group() Group {
	g := Group{Labels: a.Labels}
	if g.Labels == nil {
		g.Labels = map[string]string{}
	}
	g.PushTime = unixTime(a.Families[pushTimeFamily].values())
	g.PushFailureTime = unixTime(a.Families[pushFailureTimeFamily].values())
	if rr := a.Families[runResultFamily]; rr != nil {
		finished := false
		for _, v := range rr.values() {
			if v == 1 {
				finished = true
			}
		}
		g.Unfinished = !finished
	}
	for _, v := range a.Families[stepsUnfinishedFamily].values() {
		if v > 0 {
			g.Unfinished = true
		}
	}
	return g
}

// maxUnix bounds a believable Unix time (year 36812); beyond it a value
// is garbage, not a time.
const maxUnix = 1 << 40

// unixTime is the newest of vs as a time; zero for none, 0 or garbage.
func unixTime(vs []float64) time.Time {
	var newest float64
	for _, v := range vs {
		if v > newest && v < maxUnix {
			newest = v
		}
	}
	if newest <= 0 {
		return time.Time{}
	}
	sec, frac := math.Modf(newest)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// Policy says which groups are stale.
type Policy struct {
	// Job is the job label a group must have; required.
	Job string
	// Selector holds labels a group must have with exactly these values
	// (an empty value matches an empty or missing label).
	Selector map[string]string
	// MaxAge: a finished run's groups are deleted once its last push is
	// older.
	MaxAge time.Duration
	// MaxAgeUnfinished: the same for a run still in progress when it was
	// last pushed; longer than MaxAge.
	MaxAgeUnfinished time.Duration
	// Now is the time ages are measured from.
	Now time.Time
}

// Candidate is a group to delete and why.
type Candidate struct {
	Group
	// Age is the time since the run's last push.
	Age time.Duration
	// Unfinished says the run was in progress when last pushed (and is
	// deleted because it is older than MaxAgeUnfinished).
	Unfinished bool
}

// Plan is what Select decided.
type Plan struct {
	// Listed is the number of groups looked at.
	Listed int
	// Matched is the number with the job and selector labels.
	Matched int
	// Delete are the matched groups to delete, sorted by key.
	Delete []Candidate
	// Kept counts the matched groups kept; KeptUnfinished those kept only
	// because their run is in progress.
	Kept, KeptUnfinished int
}

// runKey is the unit Select decides on: the groups of one run (one
// namespace and workflow_id under the job: the run's group and the groups
// its steps pushed) live and die together. A group without a workflow_id
// label is a unit of its own.
func runKey(g Group) string {
	id, ok := g.Labels[schema.LabelWorkflowID]
	if !ok {
		return "group\x00" + g.Key()
	}
	return "run\x00" + g.Labels[schema.LabelJob] + "\x00" + g.Labels[schema.LabelNamespace] + "\x00" + id
}

// Select applies p to groups. A run's groups (see runKey) are deleted
// together when the newest push to any of them is older than MaxAge, or,
// if any of them says the run was still in progress (pipeline_run_result
// with no series at 1, or pipeline_run_steps_unfinished above 0), older
// than MaxAgeUnfinished. Groups without the job label, or not matching
// the selector, are never touched.
func Select(groups []Group, p Policy) Plan {
	plan := Plan{Listed: len(groups)}
	type run struct {
		groups     []Group
		last       time.Time
		unfinished bool
	}
	runs := map[string]*run{}
	var order []string
	for _, g := range groups {
		if !matches(g, p) {
			continue
		}
		plan.Matched++
		k := runKey(g)
		r := runs[k]
		if r == nil {
			r = &run{}
			runs[k] = r
			order = append(order, k)
		}
		r.groups = append(r.groups, g)
		if last := g.LastPush(); last.After(r.last) {
			r.last = last
		}
		r.unfinished = r.unfinished || g.Unfinished
	}
	for _, k := range order {
		r := runs[k]
		age := p.Now.Sub(r.last)
		switch {
		case r.last.IsZero():
			// Never pushed successfully nor failed: the Pushgateway does
			// not make such groups; leave what we do not understand.
			plan.Kept += len(r.groups)
		case r.unfinished && age > p.MaxAgeUnfinished,
			!r.unfinished && age > p.MaxAge:
			for _, g := range r.groups {
				plan.Delete = append(plan.Delete, Candidate{Group: g, Age: age, Unfinished: r.unfinished})
			}
		case r.unfinished && age > p.MaxAge:
			plan.Kept += len(r.groups)
			plan.KeptUnfinished += len(r.groups)
		default:
			plan.Kept += len(r.groups)
		}
	}
	sort.Slice(plan.Delete, func(i, j int) bool { return plan.Delete[i].Key() < plan.Delete[j].Key() })
	return plan
}

func matches(g Group, p Policy) bool {
	if job, ok := g.Labels[schema.LabelJob]; !ok || job != p.Job {
		return false
	}
	for n, v := range p.Selector {
		if g.Labels[n] != v {
			return false
		}
	}
	return true
}

// Result is what Delete did.
type Result struct {
	// Deleted is the number of groups deleted.
	Deleted int
	// Failed are the groups not deleted, with why; groups not tried
	// because the context ended or deletion was abandoned are here too.
	Failed []Failure
}

// Failure is a group Delete could not delete.
type Failure struct {
	Group Group
	Err   error
}

// GiveUpAfter is how many deletions in a row may fail before Delete stops
// trying the rest: the Pushgateway is gone, and each further attempt would
// only wait out its retries.
const GiveUpAfter = 16

// errAbandoned marks groups Delete did not try.
var errAbandoned = errors.New("not tried")

// Delete deletes each candidate's group by its exact grouping key (DELETE
// /metrics/job/<job>/<name>/<value>..., encoded as client_golang encodes
// it), with at most concurrency requests in flight, each retried as
// pushgateway.Delete does within ctx's deadline. It stops early when ctx ends or
// GiveUpAfter deletions in a row failed. doer must be safe for concurrent
// use (an *http.Client is).
func Delete(ctx context.Context, baseURL string, cands []Candidate, doer clientpush.HTTPDoer, retry pushgateway.Retry, concurrency int) Result {
	if concurrency < 1 {
		concurrency = 1
	}
	errs := make([]error, len(cands))
	for i := range errs {
		errs[i] = errAbandoned
	}
	var (
		next       atomic.Int64
		failStreak atomic.Int64
		wg         sync.WaitGroup
	)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < concurrency && w < len(cands); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(cands) || dctx.Err() != nil {
					return
				}
				err := pushgateway.Delete(dctx, target(baseURL, cands[i].Group), doer, retry)
				errs[i] = err
				if err == nil {
					failStreak.Store(0)
				} else if failStreak.Add(1) >= GiveUpAfter {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	var res Result
	giveUp := failStreak.Load() >= GiveUpAfter
	for i, err := range errs {
		switch {
		case err == nil:
			res.Deleted++
		case errors.Is(err, errAbandoned):
			why := ctx.Err()
			if why == nil && giveUp {
				why = fmt.Errorf("gave up after %d failed deletions in a row", GiveUpAfter)
			}
			if why == nil {
				why = errAbandoned
			}
			res.Failed = append(res.Failed, Failure{Group: cands[i].Group, Err: fmt.Errorf("not tried: %w", why)})
		default:
			res.Failed = append(res.Failed, Failure{Group: cands[i].Group, Err: err})
		}
	}
	return res
}

// target turns a group's grouping key back into a pushgateway.Target.
func target(baseURL string, g Group) pushgateway.Target {
	t := pushgateway.Target{URL: baseURL, Job: g.Labels[schema.LabelJob]}
	names := make([]string, 0, len(g.Labels))
	for n := range g.Labels {
		if n != schema.LabelJob {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		t.Grouping = append(t.Grouping, pushgateway.Label{Name: n, Value: g.Labels[n]})
	}
	return t
}
