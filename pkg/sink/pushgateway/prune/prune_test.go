package prune

import (
	"context"
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

// deleteServer records DELETE paths and answers 202 as a Pushgateway does,
// or fail for the paths fail says.
type deleteServer struct {
	mu       sync.Mutex
	paths    []string
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	fail     func(path string) int
}

func (d *deleteServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := d.inFlight.Add(1)
	defer d.inFlight.Add(-1)
	for {
		m := d.maxSeen.Load()
		if n <= m || d.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond) // let requests overlap
	if r.Method != http.MethodDelete {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	d.mu.Lock()
	d.paths = append(d.paths, r.URL.EscapedPath())
	d.mu.Unlock()
	if d.fail != nil {
		if code := d.fail(r.URL.EscapedPath()); code != 0 {
			http.Error(w, "no", code)
			return
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func TestDelete(t *testing.T) {
	ds := &deleteServer{fail: func(p string) int {
		if strings.Contains(p, "/workflow_id/bad") {
			return http.StatusBadRequest
		}
		return 0
	}}
	srv := httptest.NewServer(ds)
	defer srv.Close()
	var cands []Candidate
	for i := 0; i < 100; i++ {
		cands = append(cands, Candidate{Group: Group{Labels: map[string]string{"job": "step-metrics", "namespace": "ml", "workflow_id": fmt.Sprintf("id-%03d", i)}}})
	}
	// The escaping of client_golang: '/' and empty values in base64.
	cands = append(cands,
		Candidate{Group: Group{Labels: map[string]string{"job": "a/b", "e": "", "workflow_id": "x/y"}}},
		Candidate{Group: Group{Labels: map[string]string{"job": "step-metrics", "workflow_id": "bad"}}},
	)
	res := Delete(context.Background(), srv.URL, cands, srv.Client(), pushgateway.Retry{MaxAttempts: 3, InitialBackoff: time.Millisecond}, 4)
	if res.Deleted != 101 || len(res.Failed) != 1 {
		t.Fatalf("deleted %d, failed %v", res.Deleted, res.Failed)
	}
	if f := res.Failed[0]; f.Group.Labels["workflow_id"] != "bad" || !strings.Contains(f.Err.Error(), "delete failed") || !strings.Contains(f.Err.Error(), "400") {
		t.Errorf("failure %v", f.Err)
	}
	if m := ds.maxSeen.Load(); m > 4 || m < 2 {
		t.Errorf("%d requests in flight at most, want 2..4 (concurrency 4)", m)
	}
	ds.mu.Lock()
	paths := strings.Join(ds.paths, "\n")
	ds.mu.Unlock()
	// client_golang keeps grouping labels in a map: their order in the
	// path varies, so look for each segment of the escaped group.
	escaped := false
	for _, p := range strings.Split(paths, "\n") {
		rest, ok := strings.CutPrefix(p, "/metrics/job@base64/YS9i")
		if ok && strings.Contains(rest+"/", "/e@base64/=/") && strings.Contains(rest+"/", "/workflow_id@base64/eC95/") && len(rest) == len("/e@base64/=/workflow_id@base64/eC95") {
			escaped = true
		}
	}
	if !escaped {
		t.Errorf("no DELETE of the escaped group (job@base64/YS9i, e@base64/=, workflow_id@base64/eC95) among\n%s", paths)
	}
	plain := false
	for _, p := range strings.Split(paths, "\n") {
		if rest, ok := strings.CutPrefix(p, "/metrics/job/step-metrics"); ok && len(rest) == len("/namespace/ml/workflow_id/id-042") &&
			strings.Contains(rest+"/", "/namespace/ml/") && strings.Contains(rest+"/", "/workflow_id/id-042/") {
			plain = true
		}
	}
	if !plain {
		t.Errorf("no DELETE of workflow_id id-042 among\n%s", paths)
	}
	// 4xx is final: the bad group was tried once.
	if n := strings.Count(paths, "/workflow_id/bad"); n != 1 {
		t.Errorf("the 400 group was tried %d times, want 1", n)
	}
}

func TestDeleteGivesUp(t *testing.T) {
	ds := &deleteServer{fail: func(string) int { return http.StatusInternalServerError }}
	srv := httptest.NewServer(ds)
	defer srv.Close()
	var cands []Candidate
	for i := 0; i < 1000; i++ {
		cands = append(cands, Candidate{Group: Group{Labels: map[string]string{"job": "j", "workflow_id": fmt.Sprint(i)}}})
	}
	res := Delete(context.Background(), srv.URL, cands, srv.Client(), pushgateway.Retry{MaxAttempts: 1}, 2)
	if res.Deleted != 0 || len(res.Failed) != 1000 {
		t.Fatalf("deleted %d failed %d", res.Deleted, len(res.Failed))
	}
	ds.mu.Lock()
	tried := len(ds.paths)
	ds.mu.Unlock()
	if tried > GiveUpAfter+2 {
		t.Errorf("tried %d deletions, want to give up after %d in a row failed", tried, GiveUpAfter)
	}
	if last := res.Failed[999].Err.Error(); !strings.Contains(last, "gave up after") {
		t.Errorf("untried group's error %q", last)
	}
}

func TestDeleteDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	var cands []Candidate
	for i := 0; i < 50; i++ {
		cands = append(cands, Candidate{Group: Group{Labels: map[string]string{"job": "j", "workflow_id": fmt.Sprint(i)}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := Delete(ctx, srv.URL, cands, srv.Client(), pushgateway.DefaultRetry, 8)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v with a 200ms deadline", took)
	}
	if res.Deleted != 0 || len(res.Failed) != 50 {
		t.Errorf("deleted %d failed %d", res.Deleted, len(res.Failed))
	}
}
