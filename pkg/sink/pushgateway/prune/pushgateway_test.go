package prune

// Tests against a real Pushgateway (internal/testenv): what it stores for
// a grouping value, what its DELETE removes, and the re-check before a
// deletion.

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/step-metrics/step-metrics/internal/testenv"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"
)

// hardValues are grouping values that a path encoding can get wrong.
var hardValues = []string{
	"a b", "a+b", "a b+c", "a/b", "/", "100%", "50%25", "a%2Fb", "k=v", "==", "=",
	"ünïcödé 雪 🚀", ".", "..", "~", "-", " lead", "trail ", "tab\there", "new\nline",
	`quote"back\slash`, "?x=1&y=2#frag", "semi;colon", "@base64", "",
}

// pushGauge pushes one gauge at value v to the group of job and grouping.
func pushGauge(t *testing.T, pg *testenv.Pushgateway, job string, v float64, grouping ...pushgateway.Label) {
	t.Helper()
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "test_value", Help: "A value."})
	g.Set(v)
	reg.MustRegister(g)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pushgateway.Push(ctx, pushgateway.Target{URL: pg.URL, Job: job, Grouping: grouping}, reg, nil, pushgateway.Retry{}); err != nil {
		t.Fatalf("push %v: %v", grouping, err)
	}
}

func keysOf(groups []testenv.Group) []string {
	var keys []string
	for _, g := range groups {
		keys = append(keys, Group{Labels: g.Labels}.Key())
	}
	sort.Strings(keys)
	return keys
}

// TestGroupingValuesRoundTrip: every value, pushed as namespace or
// workflow_id (and as the job), lands in a group whose labels are exactly
// the values, and prune deletes exactly that group. Before, client_golang's
// query escaping made "a b" the group "a+b" on push, and the DELETE of a
// listed "a b" went to "a+b": the group stayed and counted as deleted.
func TestGroupingValuesRoundTrip(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	var want []string
	for _, v := range hardValues {
		pushGauge(t, pg, "step-metrics", 1, pushgateway.Label{Name: "namespace", Value: "ml"}, pushgateway.Label{Name: "workflow_id", Value: v})
		want = append(want, Group{Labels: map[string]string{"job": "step-metrics", "namespace": "ml", "workflow_id": v}}.Key())
	}
	pushGauge(t, pg, "step-metrics", 1, pushgateway.Label{Name: "namespace", Value: "team ml/α"}, pushgateway.Label{Name: "workflow_id", Value: "x y"})
	want = append(want, Group{Labels: map[string]string{"job": "step-metrics", "namespace": "team ml/α", "workflow_id": "x y"}}.Key())
	// Another job, with a space: prune's policy never selects it, but it
	// lands under its own name.
	pushGauge(t, pg, "ci step+metrics", 1, pushgateway.Label{Name: "workflow_id", Value: "a b"})
	other := Group{Labels: map[string]string{"job": "ci step+metrics", "workflow_id": "a b"}}.Key()
	want = append(want, other)
	sort.Strings(want)
	if got := keysOf(pg.Groups(t)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the Pushgateway holds\n%s\nwant exactly\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	groups, err := List(ctx, pg.URL, nil, pushgateway.Retry{})
	if err != nil {
		t.Fatal(err)
	}
	// Everything pushed so far is stale an hour from now.
	policy := Policy{Job: "step-metrics", MaxAge: time.Minute, MaxAgeUnfinished: time.Minute, Now: time.Now().Add(time.Hour)}
	plan := Select(groups, policy)
	if len(plan.Delete) != len(hardValues)+1 {
		t.Fatalf("plan deletes %d groups, want %d", len(plan.Delete), len(hardValues)+1)
	}
	res := Delete(ctx, pg.URL, policy, plan.Delete, nil, pushgateway.Retry{}, 4)
	if res.Deleted != len(plan.Delete) || len(res.Failed) != 0 {
		t.Errorf("deleted %d of %d, failed %v", res.Deleted, len(plan.Delete), res.Failed)
	}
	// Delete counts a group only once a listing no longer shows it: no
	// waiting here.
	if got := keysOf(pg.Groups(t)); len(got) != 1 || got[0] != other {
		t.Errorf("left after prune:\n%s\nwant only %s", strings.Join(got, "\n"), other)
	}
}

// clientGolangPaths re-encodes the path of each DELETE as client_golang
// v1.23 to v1.25 does (url.QueryEscape unless a value holds '/' or is
// empty): what Delete sent before.
type clientGolangPaths struct{ next http.RoundTripper }

func (c clientGolangPaths) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodDelete {
		return c.next.RoundTrip(req)
	}
	parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/metrics/"), "/")
	for i := 0; i+1 < len(parts); i += 2 {
		name, ok := strings.CutSuffix(parts[i], "@base64")
		if !ok {
			continue
		}
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[i+1], "="))
		if err != nil || len(b) == 0 || strings.Contains(string(b), "/") {
			continue
		}
		parts[i], parts[i+1] = name, url.QueryEscape(string(b))
	}
	r := req.Clone(req.Context())
	r.URL.Path, r.URL.RawPath = "", ""
	u, err := url.Parse(req.URL.Scheme + "://" + req.URL.Host + "/metrics/" + strings.Join(parts, "/"))
	if err != nil {
		return nil, err
	}
	r.URL = u
	return c.next.RoundTrip(r)
}

// TestDeleteThatMissesIsAFailure: a DELETE the Pushgateway accepts but
// that names another group (here: the old encoding, "a+b" for "a b")
// leaves the group, and Delete says so instead of counting it deleted.
func TestDeleteThatMissesIsAFailure(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	for _, v := range []string{"a b", "plain"} {
		pushGauge(t, pg, "step-metrics", 1, pushgateway.Label{Name: "namespace", Value: "ml"}, pushgateway.Label{Name: "workflow_id", Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	groups, err := List(ctx, pg.URL, nil, pushgateway.Retry{})
	if err != nil {
		t.Fatal(err)
	}
	policy := Policy{Job: "step-metrics", MaxAge: time.Minute, MaxAgeUnfinished: time.Minute, Now: time.Now().Add(time.Hour)}
	old := &http.Client{Transport: clientGolangPaths{next: http.DefaultTransport}}
	res := Delete(ctx, pg.URL, policy, Select(groups, policy).Delete, old, pushgateway.Retry{}, 2)
	if res.Deleted != 1 || len(res.Failed) != 1 {
		t.Fatalf("deleted %d, failed %v; want 1 (plain) and 1 (a b)", res.Deleted, res.Failed)
	}
	if f := res.Failed[0]; f.Group.Labels["workflow_id"] != "a b" || !strings.Contains(f.Err.Error(), "still lists the group") {
		t.Errorf("failure %s: %v", f.Group.Key(), f.Err)
	}
	if got := keysOf(pg.Groups(t)); len(got) != 1 || !strings.Contains(got[0], `workflow_id="a b"`) {
		t.Errorf("left: %v", got)
	}
}

// TestDeleteKeepsRunPushedAfterListing: a run whose group, or one of whose
// step groups, is pushed between the listing and the deletion is kept,
// with its fresh data; the other stale runs go. Before, Delete deleted
// every group of the plan, fresh data included.
func TestDeleteKeepsRunPushedAfterListing(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	run := func(id string) []pushgateway.Label {
		return []pushgateway.Label{{Name: "namespace", Value: "ml"}, {Name: "workflow_id", Value: id}}
	}
	for _, id := range []string{"repushed", "step-pushed", "stale-1", "stale-2"} {
		pushGauge(t, pg, "step-metrics", 1, run(id)...)
	}
	time.Sleep(1500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	policy := Policy{Job: "step-metrics", MaxAge: time.Second, MaxAgeUnfinished: time.Second, Now: time.Now()}
	groups, err := List(ctx, pg.URL, nil, pushgateway.Retry{})
	if err != nil {
		t.Fatal(err)
	}
	plan := Select(groups, policy)
	if len(plan.Delete) != 4 {
		t.Fatalf("plan deletes %d groups, want the 4 runs", len(plan.Delete))
	}
	// The hook: between the listing and the deletion, a run is pushed
	// again (a retried workflow) and another run's step pushes its own
	// group.
	pushGauge(t, pg, "step-metrics", 2, run("repushed")...)
	pushGauge(t, pg, "step-metrics", 3, append(run("step-pushed"), pushgateway.Label{Name: "step", Value: "train"})...)

	res := Delete(ctx, pg.URL, policy, plan.Delete, nil, pushgateway.Retry{}, 2)
	if res.Deleted != 2 || res.Repushed != 2 || len(res.Failed) != 0 {
		t.Errorf("deleted %d, repushed %d, failed %v; want 2 and 2", res.Deleted, res.Repushed, res.Failed)
	}
	want := []string{
		`{job="step-metrics",namespace="ml",step="train",workflow_id="step-pushed"}`,
		`{job="step-metrics",namespace="ml",workflow_id="repushed"}`,
		`{job="step-metrics",namespace="ml",workflow_id="step-pushed"}`,
	}
	if got := keysOf(pg.Groups(t)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("left:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The re-pushed run holds its fresh value.
	s := testenv.Series(pg.Scrape(t), "test_value", map[string]string{"workflow_id": "repushed"})
	if len(s) != 1 || s[0].Value != 2 {
		t.Errorf("repushed run's test_value: %+v, want 2", s)
	}
}
