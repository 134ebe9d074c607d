package main

// End-to-end tests of `step-metrics prune` against a real Pushgateway: 200
// groups of every kind always, 10,000 stale groups unless -short.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/step-metrics/step-metrics/pkg/schema"

	"github.com/step-metrics/step-metrics/internal/testenv"
	"github.com/step-metrics/step-metrics/pkg/metrics"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway/prune"
)

// seedGroup is one group to PUT: its grouping key and what it holds.
type seedGroup struct {
	job, namespace, id, step string
	extra                    map[string]string // more grouping labels
	// unfinished: pipeline_run_result all 0; stepsUnfinished: a step still
	// running though the result is known.
	unfinished, stepsUnfinished bool
}

func (s seedGroup) labels() map[string]string {
	m := map[string]string{"job": s.job}
	if s.namespace != "" {
		m["namespace"] = s.namespace
	}
	if s.id != "" {
		m["workflow_id"] = s.id
	}
	if s.step != "" {
		m["step"] = s.step
	}
	for k, v := range s.extra {
		m[k] = v
	}
	return m
}

func (s seedGroup) key() string {
	m := s.labels()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s=%q", n, m[n]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// body renders the group's metrics with pkg/metrics, as the exit handler
// would (a step group holds a custom metric instead).
func (s seedGroup) body(t testing.TB) []byte {
	t.Helper()
	run := &pipeline.Run{Engine: "argo", Namespace: s.namespace, Name: "w-" + s.id, UID: s.id, Pipeline: "nightly", Phase: "Succeeded", Result: pipeline.ResultSuccess, Finished: true, Duration: time.Minute}
	if s.unfinished {
		run.Phase, run.Result, run.Finished, run.Duration = "Running", pipeline.ResultNone, false, 0
	}
	if s.stepsUnfinished {
		run.Steps = []pipeline.Step{{ID: "n1", Name: "train", Template: "train", Type: "Pod", Kind: pipeline.KindWork, Phase: "Running", Attempt: -1}}
	}
	if s.step != "" {
		return []byte("# TYPE pipeline_custom_accuracy gauge\npipeline_custom_accuracy{workflow=\"w-" + s.id + "\"} 0.9\n")
	}
	fams, err := metrics.Families(run, metrics.Options{Steps: schema.StepsNone})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := metrics.WriteText(&b, fams); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// groupURL is the group's push URL, encoded as client_golang does.
func groupURL(base string, labels map[string]string) string {
	var b strings.Builder
	b.WriteString(base + "/metrics/job/" + url.PathEscape(labels["job"]))
	names := make([]string, 0, len(labels))
	for n := range labels {
		if n != "job" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		b.WriteString("/" + n + "/" + url.PathEscape(labels[n]))
	}
	return b.String()
}

// seed PUTs the groups with 16 requests in flight.
func seed(t testing.TB, pg *testenv.Pushgateway, groups []seedGroup) {
	t.Helper()
	bodies := map[string][]byte{} // a few shapes only: render each once
	shape := func(s seedGroup) string {
		return fmt.Sprint(s.unfinished, s.stepsUnfinished, s.step != "")
	}
	for _, s := range groups {
		if _, ok := bodies[shape(s)]; !ok {
			bodies[shape(s)] = s.body(t)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	work := make(chan seedGroup)
	errs := make(chan error, len(groups))
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				req, _ := http.NewRequest(http.MethodPut, groupURL(pg.URL, s.labels()), bytes.NewReader(bodies[shape(s)]))
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
					errs <- fmt.Errorf("PUT %s: %s", s.key(), resp.Status)
				}
			}
		}()
	}
	for _, s := range groups {
		work <- s
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// groupKeys returns the keys of the groups the Pushgateway holds, sorted.
func groupKeys(t testing.TB, pg *testenv.Pushgateway) []string {
	t.Helper()
	var keys []string
	for _, g := range pg.Groups(t) {
		s := seedGroup{job: g.Labels["job"], namespace: g.Labels["namespace"], id: g.Labels["workflow_id"], step: g.Labels["step"], extra: map[string]string{}}
		for k, v := range g.Labels {
			switch k {
			case "job", "namespace", "workflow_id", "step":
			default:
				s.extra[k] = v
			}
		}
		keys = append(keys, s.key())
	}
	sort.Strings(keys)
	return keys
}

func keysOf(groups []seedGroup) []string {
	var keys []string
	for _, s := range groups {
		keys = append(keys, s.key())
	}
	sort.Strings(keys)
	return keys
}

// waitGroups polls until the Pushgateway holds exactly want (its deletes
// are queued: a 202 answer comes before the group is gone).
func waitGroups(t *testing.T, pg *testenv.Pushgateway, want []string) time.Duration {
	t.Helper()
	start := time.Now()
	var got []string
	for time.Since(start) < 10*time.Second {
		got = groupKeys(t, pg)
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("pushgateway holds %d groups, want %d\n%s", len(got), len(want), diffKeys(got, want))
	return 0
}

func diffKeys(got, want []string) string {
	in := func(list []string) map[string]bool {
		m := map[string]bool{}
		for _, k := range list {
			m[k] = true
		}
		return m
	}
	g, w := in(got), in(want)
	var b strings.Builder
	n := 0
	for _, k := range want {
		if !g[k] && n < 10 {
			fmt.Fprintf(&b, "missing: %s\n", k)
			n++
		}
	}
	for _, k := range got {
		if !w[k] && n < 20 {
			fmt.Fprintf(&b, "extra:   %s\n", k)
			n++
		}
	}
	return b.String()
}

// summary returns the numbers of the prune's summary line.
func summary(t *testing.T, stderr string) map[string]string {
	t.Helper()
	re := regexp.MustCompile(`msg="?(pruned|dry run: deleted nothing|pruned, with failures[^"]*)"?.*`)
	line := re.FindString(stderr)
	if line == "" {
		t.Fatalf("no summary line:\n%s", stderr)
	}
	out := map[string]string{}
	for _, kv := range regexp.MustCompile(`(\w+)=("[^"]*"|\S+)`).FindAllStringSubmatch(line, -1) {
		out[kv[1]] = strings.Trim(kv[2], `"`)
	}
	return out
}

func wantSummary(t *testing.T, s map[string]string, want map[string]int) {
	t.Helper()
	for k, v := range want {
		if s[k] != fmt.Sprint(v) {
			t.Errorf("summary %s=%s, want %d (summary %v)", k, s[k], v, s)
		}
	}
	if _, err := time.ParseDuration(s["took"]); err != nil {
		t.Errorf("summary took=%q: %v", s["took"], err)
	}
}

// maxAgeBetween returns a --max-age that old groups (last pushed before
// staleEnd) exceed and fresh ones (pushed after freshStart) do not, with
// the margin split evenly.
func maxAgeBetween(staleEnd, freshStart time.Time) time.Duration {
	mid := staleEnd.Add(freshStart.Sub(staleEnd) / 2)
	return time.Since(mid).Round(time.Millisecond)
}

// TestPrune seeds 200 groups of every kind and prunes them as a CronJob
// would: a dry run first, then for real with a namespace selector, then
// with a short --max-age-unfinished and no selector.
func TestPrune(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	var stale, staleSteps, unfinished, stepsUnfinished, prod, other, fresh []seedGroup
	for i := 0; i < 120; i++ {
		stale = append(stale, seedGroup{job: "step-metrics", namespace: "ml", id: fmt.Sprintf("done-%03d", i)})
		if i < 10 {
			staleSteps = append(staleSteps, seedGroup{job: "step-metrics", namespace: "ml", id: fmt.Sprintf("done-%03d", i), step: "train"})
		}
	}
	for i := 0; i < 20; i++ {
		unfinished = append(unfinished, seedGroup{job: "step-metrics", namespace: "ml", id: fmt.Sprintf("running-%02d", i), unfinished: true})
		if i < 5 {
			unfinished = append(unfinished, seedGroup{job: "step-metrics", namespace: "ml", id: fmt.Sprintf("running-%02d", i), step: "train"})
		}
	}
	for i := 0; i < 10; i++ {
		stepsUnfinished = append(stepsUnfinished, seedGroup{job: "step-metrics", namespace: "ml", id: fmt.Sprintf("steps-running-%02d", i), stepsUnfinished: true})
		prod = append(prod, seedGroup{job: "step-metrics", namespace: "prod", id: fmt.Sprintf("prod-%02d", i)})
		other = append(other, seedGroup{job: "batch-exporter", namespace: "ml", id: fmt.Sprintf("other-%02d", i)})
	}
	for i := 0; i < 15; i++ {
		fresh = append(fresh, seedGroup{job: "step-metrics", namespace: "ml", id: fmt.Sprintf("fresh-%02d", i)})
	}
	var old []seedGroup
	for _, g := range [][]seedGroup{stale, staleSteps, unfinished, stepsUnfinished, prod, other} {
		old = append(old, g...)
	}
	seed(t, pg, old)
	staleEnd := time.Now()
	time.Sleep(3 * time.Second)
	freshStart := time.Now()
	seed(t, pg, fresh)
	if n := len(groupKeys(t, pg)); n != 200 {
		t.Fatalf("seeded %d groups, want 200", n)
	}
	// Ages grow as the test runs: each prune gets a --max-age between the
	// old groups' and the fresh groups' at its start.
	base := func(extra ...string) []string {
		maxAge := maxAgeBetween(staleEnd, freshStart).String()
		args := []string{"prune", "--pushgateway", pg.URL, "--max-age", maxAge, "--timeout", "30s"}
		for _, e := range extra {
			if e == "MAX_AGE" {
				e = maxAge
			}
			args = append(args, e)
		}
		return args
	}
	doomed := keysOf(append(append([]seedGroup{}, stale...), staleSteps...))

	// Dry run: lists exactly the stale groups of finished runs in ml.
	r := runCLI(t, nil, nil, base("--selector", "namespace=ml", "--dry-run")...)
	r.want(t, 0)
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		key, rest, _ := strings.Cut(line, " ")
		listed = append(listed, key)
		if !strings.Contains(rest, "last_push=") || !strings.HasSuffix(rest, " finished") {
			t.Errorf("dry-run line %q: want the last push, the age and the state", line)
		}
	}
	if strings.Join(listed, "\n") != strings.Join(doomed, "\n") {
		t.Errorf("dry run lists %d groups, want %d\n%s", len(listed), len(doomed), diffKeys(listed, doomed))
	}
	wantSummary(t, summary(t, r.stderr), map[string]int{"listed": 200, "matched": 180, "would_delete": 130, "kept": 50, "kept_unfinished": 35})
	if n := len(groupKeys(t, pg)); n != 200 {
		t.Fatalf("dry run deleted something: %d groups left", n)
	}

	// For real, namespace ml only.
	r = runCLI(t, nil, nil, base("--selector", "namespace=ml", "--concurrency", "4")...)
	r.want(t, 0)
	wantSummary(t, summary(t, r.stderr), map[string]int{"listed": 200, "matched": 180, "deleted": 130, "failed": 0, "kept": 50, "kept_unfinished": 35})
	if r.took > 10*time.Second {
		t.Errorf("pruning 130 groups took %v", r.took)
	}
	var survivors []seedGroup
	for _, g := range [][]seedGroup{unfinished, stepsUnfinished, prod, other, fresh} {
		survivors = append(survivors, g...)
	}
	waitGroups(t, pg, keysOf(survivors))

	// Runs in progress go once older than --max-age-unfinished; no
	// selector: prod's stale runs go too, the other job's never.
	r = runCLI(t, nil, nil, base("--max-age-unfinished", "MAX_AGE")...)
	r.want(t, 0)
	wantSummary(t, summary(t, r.stderr), map[string]int{"listed": 70, "matched": 60, "deleted": 45, "failed": 0, "kept": 15, "kept_unfinished": 0})
	waitGroups(t, pg, keysOf(append(append([]seedGroup{}, other...), fresh...)))
}

// TestPrune10000 prunes 10,000 stale groups from a real Pushgateway (the
// issue: under a minute). Seeding that many groups through the
// Pushgateway's consistency check is quadratic (each push checks against
// every group: 3,000 groups took 2.5 minutes), so they are pushed to a
// Pushgateway with the check off and a persistence file, which is then
// restarted with its defaults from that file.
func TestPrune10000(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: seeds 10,000 groups")
	}
	const n = 10000
	data := filepath.Join(t.TempDir(), "pushgateway.data")
	seeder := testenv.StartPushgateway(t, testenv.PushgatewayOptions{PersistenceFile: data, Args: []string{"--persistence.interval=1h", "--push.disable-consistency-check"}})
	var stale, keep []seedGroup
	for i := 0; i < n; i++ {
		stale = append(stale, seedGroup{job: "step-metrics", namespace: fmt.Sprintf("team-%d", i%7), id: fmt.Sprintf("%08x-stale-run", i)})
	}
	for i := 0; i < 50; i++ {
		keep = append(keep, seedGroup{job: "step-metrics", namespace: "ml", id: fmt.Sprintf("running-%02d", i), unfinished: true})
		keep = append(keep, seedGroup{job: "other", namespace: "ml", id: fmt.Sprintf("other-%02d", i)})
	}
	start := time.Now()
	seed(t, seeder, append(append([]seedGroup{}, stale...), keep...))
	staleEnd := time.Now()
	t.Logf("seeded %d groups in %v", n+len(keep), staleEnd.Sub(start).Round(time.Millisecond))
	time.Sleep(4 * time.Second)
	var fresh []seedGroup
	for i := 0; i < 50; i++ {
		fresh = append(fresh, seedGroup{job: "step-metrics", namespace: "ml", id: fmt.Sprintf("fresh-%02d", i)})
	}
	freshStart := time.Now()
	seed(t, seeder, fresh)
	keep = append(keep, fresh...)
	seeder.Stop(t)

	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{PersistenceFile: data, Args: []string{"--persistence.interval=1h"}})
	// The listing is about 60 MB: more than testenv's 5 s client timeout
	// allows on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	listStart := time.Now()
	listed, err := prune.List(ctx, pg.URL, nil, pushgateway.Retry{})
	if err != nil || len(listed) != n+len(keep) {
		t.Fatalf("restarted pushgateway holds %d groups (%v), want %d", len(listed), err, n+len(keep))
	}
	t.Logf("one listing of %d groups: %v", len(listed), time.Since(listStart).Round(time.Millisecond))
	rssBefore := vmRSS(t, pg.PID())
	r := runCLI(t, nil, nil, "prune", "--pushgateway", pg.URL, "--max-age", maxAgeBetween(staleEnd, freshStart).String(), "--timeout", "2m")
	r.want(t, 0)
	wantSummary(t, summary(t, r.stderr), map[string]int{"listed": n + len(keep), "matched": n + 100, "deleted": n, "failed": 0, "kept": 100, "kept_unfinished": 50})
	settle := waitGroups(t, pg, keysOf(keep))
	took := r.took + settle
	t.Logf("pruned %d stale groups (of %d) in %v (the command: %v, then %v until the Pushgateway listed none of them); Pushgateway RSS %d MiB before, %d MiB after",
		n, n+len(keep), took.Round(time.Millisecond), r.took.Round(time.Millisecond), settle.Round(time.Millisecond), rssBefore>>20, vmRSS(t, pg.PID())>>20)
	if took > time.Minute {
		t.Errorf("pruning %d groups took %v, want under a minute", n, took)
	}
}

// vmRSS returns a process's resident set size in bytes (Linux).
func vmRSS(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Logf("no RSS: %v", err)
		return 0
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	var kb int64
	_, _ = fmt.Sscan(string(m[1]), &kb)
	return kb << 10
}

func TestPruneUsage(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no pushgateway", []string{"prune"}, 2, "no Pushgateway"},
		{"credentials in URL", []string{"prune", "--pushgateway", "http://u:secret@pg:9091"}, 2, "no credentials in the URL"},
		{"not a URL", []string{"prune", "--pushgateway", "ftp://u:secret@pg"}, 2, "want an http:// or https:// URL"},
		{"bad selector", []string{"prune", "--pushgateway", "http://pg", "--selector", "app.kubernetes.io/name=x"}, 2, "valid label name"},
		{"selector without value", []string{"prune", "--pushgateway", "http://pg", "-s", "namespace"}, 2, "want name=value"},
		{"job as selector", []string{"prune", "--pushgateway", "http://pg", "-s", "job=x"}, 2, "use --job"},
		{"contradicting selectors", []string{"prune", "--pushgateway", "http://pg", "-s", "namespace=a", "-s", "namespace=b"}, 2, "no group can match"},
		{"unfinished shorter", []string{"prune", "--pushgateway", "http://pg", "--max-age", "240h", "--max-age-unfinished", "24h"}, 2, "must be at least --max-age"},
		{"zero max age", []string{"prune", "--pushgateway", "http://pg", "--max-age", "0s"}, 2, "--max-age must be positive"},
		{"concurrency", []string{"prune", "--pushgateway", "http://pg", "--concurrency", "0"}, 2, "--concurrency"},
		{"bad header", []string{"prune", "--pushgateway", "http://pg", "-H", "Authorization Bearer secret-token"}, 2, "<redacted>"},
		{"arguments", []string{"prune", "--pushgateway", "http://pg", "extra"}, 2, "unexpected arguments"},
		{"bad variable", []string{"prune"}, 2, "STEP_METRICS_MAX_AGE"},
		{"help", []string{"prune", "--help"}, 0, "STEP_METRICS_SELECTOR"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var env []string
			if c.name == "bad variable" {
				env = []string{"PUSHGATEWAY_URL=http://pg", "STEP_METRICS_MAX_AGE=a week"}
			}
			r := runCLI(t, nil, env, c.args...)
			r.want(t, c.code)
			if !strings.Contains(r.stdout+r.stderr, c.want) {
				t.Errorf("output does not contain %q:\n%s%s", c.want, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "secret") {
				t.Errorf("a credential is echoed: %s", r.stderr)
			}
		})
	}
}

// TestPruneFailuresExitNonZero: a prune that cannot list the groups (the
// Pushgateway down, a 401, an answer that is not a listing) or that
// leaves a group undeleted exits 1, so that its CronJob's Job or its
// CronWorkflow's workflow fails; --strict=false makes it a warning and
// exit 0. Before, every one of them exited 0.
func TestPruneFailuresExitNonZero(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	seed(t, pg, []seedGroup{{job: "step-metrics", namespace: "ml", id: "old"}})
	time.Sleep(1100 * time.Millisecond)
	status := func(code int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	pgURL, err := url.Parse(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(pgURL)
	refusesDeletes := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			http.Error(w, "read-only", http.StatusForbidden)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer refusesDeletes.Close()
	for _, c := range []struct {
		name, url, want string
	}{
		{"refused", fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t)), "cannot list the Pushgateway's groups"},
		{"401", status(http.StatusUnauthorized, "Unauthorized"), "401 Unauthorized"},
		{"not a listing", status(http.StatusOK, "<html>login</html>"), "not a Pushgateway"},
		{"deletion refused", refusesDeletes.URL, "pruned, with failures"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"prune", "--pushgateway", c.url, "--max-age", "1s", "--retries", "0", "--timeout", "20s", "-H", "X-Token: secret-token"}
			r := runCLI(t, nil, nil, args...)
			r.want(t, exitFailed)
			if !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "secret-token") {
				t.Errorf("stderr does not say %q (or shows the token):\n%s", c.want, r.stderr)
			}
			r = runCLI(t, nil, nil, append(args, "--strict=false")...)
			r.want(t, exitOK)
			if !strings.Contains(r.stderr, "level=WARN") || !strings.Contains(r.stderr, "exiting 0 (--strict=false)") {
				t.Errorf("--strict=false: want a warning that says it exits 0:\n%s", r.stderr)
			}
		})
	}
	if got := groupKeys(t, pg); len(got) != 1 {
		t.Errorf("groups left: %v, want the one no prune could delete", got)
	}
}

// TestPruneHardGroupingValues: `push --workflow-uid` with a space, '+',
// '/', '%', '=' or unicode lands in a group whose workflow_id is exactly
// the value (before, "a b" landed as "a+b", on top of a run "a+b"), and
// prune deletes every one of them (before, it left "a b" and counted it
// deleted).
func TestPruneHardGroupingValues(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	wf, err := os.ReadFile("../../internal/example/ml-pipeline-running-exit-handler.yaml")
	if err != nil {
		t.Fatal(err)
	}
	uids := []string{"a b", "a+b", "x/y %z", "100%25", "k=v==", "ünï cödé ⛵", "."}
	var want []string
	for _, uid := range uids {
		r := runCLI(t, wf, nil, "push", "-f", "-", "--pushgateway", pg.URL, "--strict", "--steps", "none", "--workflow-uid", uid)
		r.want(t, exitOK)
		want = append(want, seedGroup{job: "step-metrics", namespace: "ml", id: uid}.key())
	}
	sort.Strings(want)
	if got := groupKeys(t, pg); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("pushed groups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	time.Sleep(1100 * time.Millisecond)
	r := runCLI(t, nil, nil, "prune", "--pushgateway", pg.URL, "--max-age", "1s", "--max-age-unfinished", "1s")
	r.want(t, exitOK)
	wantSummary(t, summary(t, r.stderr), map[string]int{"listed": len(uids), "deleted": len(uids), "failed": 0})
	// prune counts a group deleted only once the Pushgateway no longer
	// lists it: nothing to wait for.
	if got := groupKeys(t, pg); len(got) != 0 {
		t.Errorf("left after prune: %v", got)
	}
}

// TestPruneKeepsRunPushedDuringPrune: a run pushed again after prune has
// listed the groups (a retried workflow's exit handler) keeps its fresh
// metrics: prune re-lists before deleting. The hook is a proxy that,
// having read prune's first listing from the Pushgateway, pushes the run
// again before handing the listing on. Before, prune deleted it.
func TestPruneKeepsRunPushedDuringPrune(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	runs := []seedGroup{
		{job: "step-metrics", namespace: "ml", id: "retried"},
		{job: "step-metrics", namespace: "ml", id: "stale-1"},
		{job: "step-metrics", namespace: "ml", id: "stale-2"},
	}
	seed(t, pg, runs)
	time.Sleep(1500 * time.Millisecond)
	fresh := runs[0].body(t)
	pgURL, err := url.Parse(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(pgURL)
	var listings atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/metrics" || listings.Add(1) != 1 {
			proxy.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, r)
		req, _ := http.NewRequest(http.MethodPut, groupURL(pg.URL, runs[0].labels()), bytes.NewReader(fresh))
		if resp, err := http.DefaultClient.Do(req); err != nil {
			t.Errorf("push again: %v", err)
		} else {
			resp.Body.Close()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	defer srv.Close()
	r := runCLI(t, nil, nil, "prune", "--pushgateway", srv.URL, "--max-age", "1s")
	r.want(t, exitOK)
	wantSummary(t, summary(t, r.stderr), map[string]int{"listed": 3, "deleted": 2, "repushed": 1, "failed": 0})
	if got, want := groupKeys(t, pg), []string{runs[0].key()}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("left: %v, want %v", got, want)
	}
	if n := listings.Load(); n < 2 {
		t.Errorf("%d listings: prune must re-list before deleting", n)
	}
}
