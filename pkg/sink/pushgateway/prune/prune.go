// Package prune deletes stale groups from a Prometheus Pushgateway.
//
// The Pushgateway keeps every group until it is deleted, and deletes only
// by exact grouping key. Pruning is three steps: List reads every group
// with its last push time from GET /api/v1/metrics (streamed, so the
// answer's size does not matter), Select applies the policy (our job,
// label selectors, ages, runs still in progress), and Delete deletes the
// chosen groups by their exact grouping keys, a bounded number at a time,
// re-checking each against a fresh listing first (a run pushed again since
// is kept) and counting a group as deleted only once a listing no longer
// shows it.
//
//	policy := prune.Policy{Job: "step-metrics", MaxAge: 7 * 24 * time.Hour,
//		MaxAgeUnfinished: 30 * 24 * time.Hour, Now: time.Now()}
//	groups, err := prune.List(ctx, "http://pushgateway:9091", doer, pushgateway.DefaultRetry)
//	plan := prune.Select(groups, policy)
//	res := prune.Delete(ctx, "http://pushgateway:9091", policy, plan.Delete, doer, pushgateway.DefaultRetry, 8)
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
	// Read the rest (a newline) so the connection is reused: Delete lists
	// again before each round.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
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

// Result is what Delete did. Every candidate is counted once: in Deleted,
// Repushed, Gone or Failed.
type Result struct {
	// Deleted is the number of groups deleted: the Pushgateway accepted
	// the DELETE and a listing after it no longer showed the group.
	Deleted int
	// Repushed is the number of groups kept because, when re-checked
	// before deleting (or after), their run had been pushed since the
	// listing Select decided on: the run is alive, its groups are not
	// stale any more.
	Repushed int
	// Gone is the number of groups that were no longer there when
	// re-checked: someone else deleted them.
	Gone int
	// Failed are the groups not deleted, with why: the DELETE failed, or
	// was accepted but the group was still there afterwards, or could not
	// be checked; groups not tried because the context ended, deletion was
	// abandoned or the re-check failed are here too.
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

// MinRound is the shortest round of deletions between two re-checks; a
// round lasts as long as its re-check took, if longer (see Delete).
const MinRound = time.Second

// verifyPause is how long Delete waits before listing a last time when
// groups it deleted are still listed: the Pushgateway answers a DELETE
// (202) before it applies it.
const verifyPause = 250 * time.Millisecond

// errAbandoned marks groups Delete did not try.
var errAbandoned = errors.New("not tried")

// The states of a candidate in Delete.
const (
	statePending  = iota // not tried yet
	stateSent            // DELETE accepted, the group not yet seen gone
	stateDeleted         // accepted and seen gone
	stateRepushed        // kept: its run was pushed since the listing
	stateGone            // gone before we tried
	stateFailed          // the DELETE failed: errs says why
)

// Delete deletes each candidate's group by its exact grouping key (DELETE
// /metrics/job/<job>/<name>/<value>..., each value exactly as listed, see
// pushgateway.Push), with at most concurrency requests in flight, each
// retried as pushgateway.Delete does within ctx's deadline. cands are
// plan.Delete of Select(groups, p) for a listing taken before.
//
// The Pushgateway has no conditional delete: a run pushed again between
// that listing and its DELETE (a retried workflow, a resumed one) would
// lose its fresh metrics. So Delete works in rounds: each starts by
// listing the groups again and applying p to that listing (p.Now
// unchanged), and deletes only the candidates Select still deletes with
// the push time they had; the others count as Repushed (or Gone, when no
// longer listed). A round then deletes for at most as long as its listing
// took, MinRound at least, so re-checking costs at most about as much time
// again as deleting. What is left is a window of one round (and one
// DELETE's flight): a push that lands after the round's listing and before
// the group's DELETE is still deleted.
//
// Each listing also verifies the previous round: a group whose DELETE was
// accepted counts as Deleted once a listing no longer shows it, as
// Repushed if it shows newer pushes, and as Failed if it is still there as
// it was after a last listing (one more, verifyPause later, as the
// Pushgateway applies deletes after answering). A DELETE that misses its
// group (a wrong encoding: client_golang sends a space as "+") is thus a
// failure, never a deletion.
//
// Delete stops early when ctx ends, GiveUpAfter deletions in a row failed,
// or a listing failed (then nothing more is deleted: nothing can be
// checked). doer must be safe for concurrent use (an *http.Client is).
func Delete(ctx context.Context, baseURL string, p Policy, cands []Candidate, doer clientpush.HTTPDoer, retry pushgateway.Retry, concurrency int) Result {
	if concurrency < 1 {
		concurrency = 1
	}
	d := &deleter{ctx: ctx, baseURL: baseURL, policy: p, cands: cands, doer: doer, retry: retry,
		state: make([]int, len(cands)), errs: make([]error, len(cands))}
	pending := make([]int, len(cands))
	for i := range pending {
		pending[i] = i
	}
	var listErr error
	for len(pending) > 0 && ctx.Err() == nil && !d.gaveUp() {
		start := time.Now()
		groups, err := List(ctx, baseURL, doer, retry)
		if err != nil {
			listErr = err
			break
		}
		took := time.Since(start)
		d.verify(groups, false)
		eligible := d.recheck(pending, groups)
		pending = d.round(eligible, concurrency, max(MinRound, took))
	}
	// Verify the last round: once, and once more a little later for the
	// groups still listed.
	for attempt := 0; listErr == nil && d.count(stateSent) > 0 && attempt < 2; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, verifyPause); err != nil {
				listErr = err
				break
			}
		}
		groups, err := List(ctx, baseURL, doer, retry)
		if err != nil {
			listErr = err
			break
		}
		d.verify(groups, attempt == 1)
	}
	return d.result(listErr)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// deleter is the state of one Delete.
type deleter struct {
	ctx     context.Context
	baseURL string
	policy  Policy
	cands   []Candidate
	doer    clientpush.HTTPDoer
	retry   pushgateway.Retry

	// state and errs are per candidate; during a round, workers write
	// only their own candidates' entries.
	state      []int
	errs       []error
	failStreak atomic.Int64
}

func (d *deleter) gaveUp() bool { return d.failStreak.Load() >= GiveUpAfter }

func (d *deleter) count(state int) int {
	n := 0
	for _, s := range d.state {
		if s == state {
			n++
		}
	}
	return n
}

// verify settles the groups whose DELETE was accepted against a listing:
// not listed is deleted, listed with a newer push is repushed, listed as
// it was stays sent, or fails when final.
func (d *deleter) verify(groups []Group, final bool) {
	byKey := make(map[string]Group, len(groups))
	for _, g := range groups {
		byKey[g.Key()] = g
	}
	for i, c := range d.cands {
		if d.state[i] != stateSent {
			continue
		}
		g, listed := byKey[c.Key()]
		switch {
		case !listed:
			d.state[i] = stateDeleted
		case g.LastPush().After(c.LastPush()):
			d.state[i] = stateRepushed
		case final:
			d.state[i] = stateFailed
			d.errs[i] = fmt.Errorf("the Pushgateway accepted the DELETE but still lists the group %v later", verifyPause)
		}
	}
}

// recheck applies the policy to a new listing and returns the pending
// candidates it still deletes, unchanged; it marks the others repushed or
// gone.
func (d *deleter) recheck(pending []int, groups []Group) []int {
	listed := make(map[string]bool, len(groups))
	for _, g := range groups {
		listed[g.Key()] = true
	}
	still := map[string]Candidate{}
	for _, c := range Select(groups, d.policy).Delete {
		still[c.Key()] = c
	}
	var eligible []int
	for _, i := range pending {
		key := d.cands[i].Key()
		c, ok := still[key]
		switch {
		case !listed[key]:
			d.state[i] = stateGone
		case !ok || !c.LastPush().Equal(d.cands[i].LastPush()):
			d.state[i] = stateRepushed
		default:
			eligible = append(eligible, i)
		}
	}
	return eligible
}

// round deletes eligible candidates, concurrency at a time, starting no
// deletion after budget has passed, and returns those it did not start.
func (d *deleter) round(eligible []int, concurrency int, budget time.Duration) []int {
	deadline := time.Now().Add(budget)
	rctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for w := 0; w < concurrency && w < len(eligible); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if rctx.Err() != nil || time.Now().After(deadline) {
					return
				}
				n := int(next.Add(1) - 1)
				if n >= len(eligible) {
					return
				}
				i := eligible[n]
				err := pushgateway.Delete(rctx, target(d.baseURL, d.cands[i].Group), d.doer, d.retry)
				if err == nil {
					d.state[i] = stateSent
					d.failStreak.Store(0)
					continue
				}
				d.state[i], d.errs[i] = stateFailed, err
				if d.failStreak.Add(1) >= GiveUpAfter {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	// Workers check the budget before taking an index: every index taken
	// was tried.
	return eligible[min(int(next.Load()), len(eligible)):]
}

// result counts the states; listErr is why the groups left pending or
// unverified could not be checked, if a listing failed.
func (d *deleter) result(listErr error) Result {
	var res Result
	for i, s := range d.state {
		g := d.cands[i].Group
		switch s {
		case stateDeleted:
			res.Deleted++
		case stateRepushed:
			res.Repushed++
		case stateGone:
			res.Gone++
		case stateFailed:
			res.Failed = append(res.Failed, Failure{Group: g, Err: d.errs[i]})
		case stateSent:
			// Only when the last listings failed.
			res.Failed = append(res.Failed, Failure{Group: g, Err: fmt.Errorf("the Pushgateway accepted the DELETE, but the group could not be checked: %w", listErr)})
		default:
			var why error
			switch {
			case d.ctx.Err() != nil:
				why = d.ctx.Err()
			case d.gaveUp():
				why = fmt.Errorf("gave up after %d failed deletions in a row", GiveUpAfter)
			case listErr != nil:
				why = fmt.Errorf("cannot re-check the group before deleting it: %w", listErr)
			default:
				why = errAbandoned
			}
			res.Failed = append(res.Failed, Failure{Group: g, Err: fmt.Errorf("not tried: %w", why)})
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
