package prune

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/pkg/httpclient"

	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"
)

// listJSON is /api/v1/metrics as Pushgateway 1.5 answers it (shortened:
// HELP strings and most families cut), for three groups: a finished run,
// a run pushed while still running, and another job's group with an
// empty label value and a '/' in a value.
const listJSON = `{"status":"success","data":[
{"labels":{"job":"step-metrics","namespace":"ml","workflow_id":"run-done"},"last_push_successful":true,
 "pipeline_run_duration_seconds":{"time_stamp":"2026-11-20T10:00:00Z","type":"GAUGE","help":"h","metrics":[{"labels":{"job":"step-metrics"},"value":"120"}]},
 "pipeline_run_result":{"time_stamp":"2026-11-20T10:00:00Z","type":"GAUGE","help":"h","metrics":[
   {"labels":{"result":"failure"},"value":"0"},{"labels":{"result":"success"},"value":"1"}]},
 "pipeline_run_steps_unfinished":{"time_stamp":"2026-11-20T10:00:00Z","type":"GAUGE","help":"h","metrics":[{"labels":{},"value":"0"}]},
 "pipeline_template_duration_seconds":{"time_stamp":"2026-11-20T10:00:00Z","type":"SUMMARY","help":"h","metrics":[{"labels":{},"count":"3","sum":"9","quantiles":{}}]},
 "push_failure_time_seconds":{"time_stamp":"2026-11-20T10:00:00Z","type":"GAUGE","help":"h","metrics":[{"labels":{},"value":"0"}]},
 "push_time_seconds":{"time_stamp":"2026-11-20T10:00:00Z","type":"GAUGE","help":"h","metrics":[{"labels":{},"value":"1.7956368e+09"}]}},
{"labels":{"job":"step-metrics","namespace":"ml","workflow_id":"run-running"},"last_push_successful":false,
 "pipeline_run_result":{"time_stamp":"2026-11-20T10:00:00Z","type":"GAUGE","help":"h","metrics":[
   {"labels":{"result":"failure"},"value":"0"},{"labels":{"result":"success"},"value":"0"}]},
 "push_failure_time_seconds":{"time_stamp":"2026-11-20T10:00:00Z","type":"GAUGE","help":"h","metrics":[{"labels":{},"value":"1.7956369e+09"}]},
 "push_time_seconds":{"time_stamp":"2026-11-20T10:00:00Z","type":"GAUGE","help":"h","metrics":[{"labels":{},"value":"1.7956368e+09"}]}},
{"labels":{"e":"","job":"other","workflow_id":"a/b"},"last_push_successful":true,
 "x":{"time_stamp":"2026-11-20T10:00:00Z","type":"UNTYPED","metrics":[{"labels":{},"value":"1"}]},
 "push_failure_time_seconds":{"time_stamp":"2026-11-20T10:00:00Z","type":"GAUGE","help":"h","metrics":[{"labels":{},"value":"0"}]},
 "push_time_seconds":{"time_stamp":"2026-11-20T10:00:00Z","type":"GAUGE","help":"h","metrics":[{"labels":{},"value":"1.7956368e+09"}]}}
]}`

func TestList(t *testing.T) {
	var gotPath, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.Path, r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(listJSON))
	}))
	defer srv.Close()
	client, err := httpclient.New(httpclient.Config{Headers: http.Header{"Authorization": {"Bearer t"}}})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := List(context.Background(), srv.URL+"/", client, pushgateway.Retry{})
	if err != nil {
		t.Fatal(err)
	}
	if gotPath != "/api/v1/metrics" || gotAuth != "Bearer t" {
		t.Errorf("request %s with Authorization %q", gotPath, gotAuth)
	}
	if len(groups) != 3 {
		t.Fatalf("%d groups, want 3", len(groups))
	}
	pushed := time.Unix(1795636800, 0)
	want := []struct {
		key              string
		push, fail, last time.Time
		unfinished       bool
	}{
		{`{job="step-metrics",namespace="ml",workflow_id="run-done"}`, pushed, time.Time{}, pushed, false},
		{`{job="step-metrics",namespace="ml",workflow_id="run-running"}`, pushed, pushed.Add(100 * time.Second), pushed.Add(100 * time.Second), true},
		{`{e="",job="other",workflow_id="a/b"}`, pushed, time.Time{}, pushed, false},
	}
	for i, w := range want {
		g := groups[i]
		if g.Key() != w.key || !g.PushTime.Equal(w.push) || !g.PushFailureTime.Equal(w.fail) || !g.LastPush().Equal(w.last) || g.Unfinished != w.unfinished {
			t.Errorf("group %d = %s push %v fail %v last %v unfinished %v\nwant %+v", i, g.Key(), g.PushTime, g.PushFailureTime, g.LastPush(), g.Unfinished, w)
		}
	}
}

func TestListErrors(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"not JSON", "<html>", 200, "not a Pushgateway"},
		{"no data", `{"status":"success"}`, 200, `no "data"`},
		{"data not a list", `{"data":{}}`, 200, "not a Pushgateway"},
		{"truncated", listJSON[:400], 200, "decode group 1"},
		{"401", "Unauthorized", 401, "401 Unauthorized: Unauthorized"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := List(context.Background(), srv.URL, nil, pushgateway.Retry{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "/api/v1/metrics") {
				t.Errorf("error %v, want one containing %q and the URL", err, tt.want)
			}
		})
	}
}

func g(pushedAgo time.Duration, unfinished bool, labels ...string) Group {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	gr := Group{Labels: map[string]string{}, PushTime: now.Add(-pushedAgo), Unfinished: unfinished}
	for i := 0; i+1 < len(labels); i += 2 {
		gr.Labels[labels[i]] = labels[i+1]
	}
	return gr
}

func TestSelect(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	sm := func(ago time.Duration, unfinished bool, id string, extra ...string) Group {
		return g(ago, unfinished, append([]string{"job", "step-metrics", "namespace", "ml", "workflow_id", id}, extra...)...)
	}
	groups := []Group{
		sm(8*day, false, "old-done"),            // deleted
		sm(6*day, false, "young-done"),          // kept
		sm(8*day, true, "old-running"),          // kept: in progress
		sm(31*day, true, "ancient-running"),     // deleted: past max-age-unfinished
		sm(8*day, false, "old-with-fresh-step"), // kept: a step of the run pushed lately
		sm(1*day, false, "old-with-fresh-step", "step", "train"),
		sm(9*day, false, "old-run-old-step", "step", "train"), // deleted with its run
		sm(9*day, false, "old-run-old-step"),
		sm(9*day, false, "running-run-step", "step", "train"), // kept: its run is in progress
		sm(9*day, true, "running-run-step"),
		g(99*day, false, "job", "other", "namespace", "ml", "workflow_id", "x"),                       // another job: never
		g(99*day, false, "job", "step-metrics", "namespace", "prod", "workflow_id", "p1"),             // not selected
		g(99*day, false, "job", "step-metrics", "namespace", "ml", "instance", "no-run"),              // no workflow_id: its own unit, deleted
		g(99*day, false, "job", "step-metrics", "namespace", "ml", "instance", "no-run-2"),            // another unit
		{Labels: map[string]string{"job": "step-metrics", "namespace": "ml", "workflow_id": "never"}}, // no push time: kept
	}
	// A failed push counts as a push: someone cared lately.
	failedLately := sm(20*day, false, "failed-lately")
	failedLately.PushFailureTime = now.Add(-time.Hour)
	groups = append(groups, failedLately)

	plan := Select(groups, Policy{Job: "step-metrics", Selector: map[string]string{"namespace": "ml"}, MaxAge: 7 * day, MaxAgeUnfinished: 30 * day, Now: now})
	var got []string
	for _, c := range plan.Delete {
		got = append(got, fmt.Sprintf("%s/%s unfinished=%v", c.Labels["workflow_id"]+c.Labels["instance"], c.Labels["step"], c.Unfinished))
	}
	want := []string{
		"ancient-running/ unfinished=true",
		"no-run-2/ unfinished=false",
		"no-run/ unfinished=false",
		"old-done/ unfinished=false",
		"old-run-old-step/ unfinished=false",
		"old-run-old-step/train unfinished=false",
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("delete:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if plan.Listed != len(groups) || plan.Matched != len(groups)-2 {
		t.Errorf("listed %d matched %d, want %d and %d", plan.Listed, plan.Matched, len(groups), len(groups)-2)
	}
	if plan.Kept != plan.Matched-len(plan.Delete) || plan.KeptUnfinished != 3 {
		t.Errorf("kept %d (unfinished %d), want %d (3)", plan.Kept, plan.KeptUnfinished, plan.Matched-len(plan.Delete))
	}
	if !sort.SliceIsSorted(plan.Delete, func(i, j int) bool { return plan.Delete[i].Key() < plan.Delete[j].Key() }) {
		t.Error("plan not sorted by key")
	}
	for _, c := range plan.Delete {
		if c.Labels["workflow_id"] == "ancient-running" && c.Age != 31*day {
			t.Errorf("age %v, want 31 days", c.Age)
		}
	}
}

// memGateway is the HTTP surface of a Pushgateway that prune uses, in
// memory: GET /api/v1/metrics lists its groups, each with its push time,
// and DELETE /metrics/job/... removes the group its path names, decoded as
// the Pushgateway decodes it (the unescaped path; @base64 components in
// base64url). It records the escaped DELETE paths and the DELETEs in
// flight, and fail may answer a path with an error instead.
type memGateway struct {
	mu       sync.Mutex
	groups   map[string]Group // by Key
	paths    []string
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	fail     func(path string) int
}

func newMemGateway(groups []Group) *memGateway {
	m := &memGateway{groups: map[string]Group{}}
	for _, g := range groups {
		m.groups[g.Key()] = g
	}
	return m
}

func (m *memGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/metrics":
		m.mu.Lock()
		data := []map[string]any{} // [] when empty, as the Pushgateway answers
		for _, g := range m.groups {
			data = append(data, map[string]any{"labels": g.Labels,
				"push_time_seconds": map[string]any{"metrics": []map[string]string{{"value": fmt.Sprint(float64(g.PushTime.UnixNano()) / 1e9)}}}})
		}
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
		return
	case r.Method != http.MethodDelete:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	n := m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	for {
		seen := m.maxSeen.Load()
		if n <= seen || m.maxSeen.CompareAndSwap(seen, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond) // let requests overlap
	m.mu.Lock()
	m.paths = append(m.paths, r.URL.EscapedPath())
	m.mu.Unlock()
	if m.fail != nil {
		if code := m.fail(r.URL.EscapedPath()); code != 0 {
			http.Error(w, "no", code)
			return
		}
	}
	labels, ok := pathLabels(r.URL.Path)
	if !ok {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	m.mu.Lock()
	delete(m.groups, Group{Labels: labels}.Key())
	m.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// pathLabels decodes /metrics/job/J/name/value... as the Pushgateway does.
func pathLabels(path string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(path, "/metrics/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts)%2 != 0 {
		return nil, false
	}
	labels := map[string]string{}
	for i := 0; i < len(parts); i += 2 {
		name, value := parts[i], parts[i+1]
		if base, ok := strings.CutSuffix(name, "@base64"); ok {
			b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(value, "="))
			if err != nil {
				return nil, false
			}
			name, value = base, string(b)
		}
		labels[name] = value
	}
	return labels, true
}

func (m *memGateway) deletePaths() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.paths...)
}

// staleGroups returns n groups of job pushed a day before now (in whole
// seconds, which memGateway lists exactly) and the policy that finds them
// stale.
func staleGroups(now time.Time, job string, n int) ([]Group, Policy) {
	now = now.Truncate(time.Second)
	var groups []Group
	for i := 0; i < n; i++ {
		groups = append(groups, Group{Labels: map[string]string{"job": job, "namespace": "ml", "workflow_id": fmt.Sprintf("id-%03d", i)}, PushTime: now.Add(-24 * time.Hour)})
	}
	return groups, Policy{Job: job, MaxAge: time.Hour, MaxAgeUnfinished: time.Hour, Now: now}
}

func TestDelete(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	groups, policy := staleGroups(now, "step-metrics", 100)
	day := now.Add(-24 * time.Hour)
	groups = append(groups,
		// Base64 where a value is empty or holds a '/' or a space.
		Group{Labels: map[string]string{"job": "step-metrics", "e": "", "workflow_id": "x/y"}, PushTime: day},
		Group{Labels: map[string]string{"job": "step-metrics", "namespace": "ml", "workflow_id": "a b+c"}, PushTime: day},
		Group{Labels: map[string]string{"job": "step-metrics", "workflow_id": "bad"}, PushTime: day},
	)
	gw := newMemGateway(groups)
	gw.fail = func(p string) int {
		if strings.Contains(p, "/workflow_id/bad") {
			return http.StatusBadRequest
		}
		return 0
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	plan := Select(groups, policy)
	if len(plan.Delete) != 103 {
		t.Fatalf("plan deletes %d groups, want 103", len(plan.Delete))
	}
	res := Delete(context.Background(), srv.URL, policy, plan.Delete, srv.Client(), pushgateway.Retry{MaxAttempts: 3, InitialBackoff: time.Millisecond}, 4)
	if res.Deleted != 102 || len(res.Failed) != 1 || res.Repushed != 0 || res.Gone != 0 {
		t.Fatalf("deleted %d, repushed %d, gone %d, failed %v", res.Deleted, res.Repushed, res.Gone, res.Failed)
	}
	if f := res.Failed[0]; f.Group.Labels["workflow_id"] != "bad" || !strings.Contains(f.Err.Error(), "delete failed") || !strings.Contains(f.Err.Error(), "400") {
		t.Errorf("failure %v", f.Err)
	}
	if m := gw.maxSeen.Load(); m > 4 || m < 2 {
		t.Errorf("%d requests in flight at most, want 2..4 (concurrency 4)", m)
	}
	if left := len(gw.groups); left != 1 {
		t.Errorf("%d groups left, want the bad one", left)
	}
	paths := gw.deletePaths()
	has := func(want string) bool {
		for _, p := range paths {
			if p == want {
				return true
			}
		}
		return false
	}
	for _, want := range []string{
		"/metrics/job/step-metrics/e@base64/=/workflow_id@base64/eC95",
		"/metrics/job/step-metrics/namespace/ml/workflow_id@base64/YSBiK2M",
		"/metrics/job/step-metrics/namespace/ml/workflow_id/id-042",
	} {
		if !has(want) {
			t.Errorf("no DELETE %s among\n%s", want, strings.Join(paths, "\n"))
		}
	}
	// 4xx is final: the bad group was tried once.
	if n := strings.Count(strings.Join(paths, "\n"), "/workflow_id/bad"); n != 1 {
		t.Errorf("the 400 group was tried %d times, want 1", n)
	}
}

// TestDeleteAcceptedButStillThere: a Pushgateway (or a proxy in front of
// it) that answers 202 and keeps the group: a failure, never a deletion.
// Before, Delete counted every 202 as deleted, so a DELETE that named
// another group (client_golang's "+" for a space) passed as one.
func TestDeleteAcceptedButStillThere(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	groups, policy := staleGroups(now, "step-metrics", 3)
	gw := newMemGateway(groups)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/id-001") {
			w.WriteHeader(http.StatusAccepted) // and do nothing
			return
		}
		gw.ServeHTTP(w, r)
	}))
	defer srv.Close()
	res := Delete(context.Background(), srv.URL, policy, Select(groups, policy).Delete, srv.Client(), pushgateway.Retry{}, 2)
	if res.Deleted != 2 || len(res.Failed) != 1 {
		t.Fatalf("deleted %d, failed %v; want 2 and id-001", res.Deleted, res.Failed)
	}
	if f := res.Failed[0]; f.Group.Labels["workflow_id"] != "id-001" || !strings.Contains(f.Err.Error(), "still lists the group") {
		t.Errorf("failure %s: %v", f.Group.Key(), f.Err)
	}
}

// TestDeleteRechecks: groups pushed again, deleted by someone else, or
// whose run was pushed again between the listing and Delete are not
// deleted, and counted as such.
func TestDeleteRechecks(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	groups, policy := staleGroups(now, "step-metrics", 4)
	step := Group{Labels: map[string]string{"job": "step-metrics", "namespace": "ml", "workflow_id": "id-003", "step": "train"}, PushTime: now.Add(-24 * time.Hour)}
	groups = append(groups, step)
	plan := Select(groups, policy)
	gw := newMemGateway(groups)
	// After the listing: id-000 pushed again, id-001 deleted by someone
	// else, and a step of id-003 pushed (its run's group is alive too).
	again := groups[0]
	again.PushTime = now.Add(time.Second)
	gw.groups[again.Key()] = again
	delete(gw.groups, groups[1].Key())
	step.PushTime = now.Add(time.Second)
	gw.groups[step.Key()] = step
	srv := httptest.NewServer(gw)
	defer srv.Close()
	res := Delete(context.Background(), srv.URL, policy, plan.Delete, srv.Client(), pushgateway.Retry{}, 2)
	if res.Deleted != 1 || res.Repushed != 3 || res.Gone != 1 || len(res.Failed) != 0 {
		t.Fatalf("deleted %d, repushed %d, gone %d, failed %v; want 1, 3 (id-000, id-003 and its step), 1", res.Deleted, res.Repushed, res.Gone, res.Failed)
	}
	for _, p := range gw.deletePaths() {
		if !strings.HasSuffix(p, "/id-002") {
			t.Errorf("DELETE %s: only id-002 is still stale", p)
		}
	}
}

func TestDeleteGivesUp(t *testing.T) {
	groups, policy := staleGroups(time.Now(), "j", 1000)
	gw := newMemGateway(groups)
	gw.fail = func(string) int { return http.StatusInternalServerError }
	srv := httptest.NewServer(gw)
	defer srv.Close()
	res := Delete(context.Background(), srv.URL, policy, Select(groups, policy).Delete, srv.Client(), pushgateway.Retry{MaxAttempts: 1}, 2)
	if res.Deleted != 0 || len(res.Failed) != 1000 {
		t.Fatalf("deleted %d failed %d", res.Deleted, len(res.Failed))
	}
	if tried := len(gw.deletePaths()); tried > GiveUpAfter+2 {
		t.Errorf("tried %d deletions, want to give up after %d in a row failed", tried, GiveUpAfter)
	}
	if last := res.Failed[999].Err.Error(); !strings.Contains(last, "gave up after") {
		t.Errorf("untried group's error %q", last)
	}
}

// TestDeleteCannotRecheck: when the listing before a round fails, nothing
// is deleted, and every group says why.
func TestDeleteCannotRecheck(t *testing.T) {
	groups, policy := staleGroups(time.Now(), "j", 5)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		t.Errorf("%s %s: nothing may be deleted unchecked", r.Method, r.URL.Path)
	}))
	defer srv.Close()
	res := Delete(context.Background(), srv.URL, policy, Select(groups, policy).Delete, srv.Client(), pushgateway.Retry{}, 2)
	if res.Deleted != 0 || len(res.Failed) != 5 {
		t.Fatalf("deleted %d failed %d", res.Deleted, len(res.Failed))
	}
	if msg := res.Failed[0].Err.Error(); !strings.Contains(msg, "cannot re-check") || !strings.Contains(msg, "401") {
		t.Errorf("error %q", msg)
	}
}

func TestDeleteDeadline(t *testing.T) {
	groups, policy := staleGroups(time.Now(), "j", 50)
	gw := newMemGateway(groups)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gw.ServeHTTP(w, r)
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := Delete(ctx, srv.URL, policy, Select(groups, policy).Delete, srv.Client(), pushgateway.DefaultRetry, 8)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v with a 200ms deadline", took)
	}
	if res.Deleted != 0 || len(res.Failed) != 50 {
		t.Errorf("deleted %d failed %d", res.Deleted, len(res.Failed))
	}
}
