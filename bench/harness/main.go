// Command harness runs the measurements of bench/run.sh: it generates the
// synthetic workflows (package synth), starts a Pushgateway of its own on
// a free loopback port, and times `step-metrics push` (to that Pushgateway
// and with --dry-run), the jq+curl exit handler (bench/diy) and the naive
// client_golang program (bench/naive) on the same inputs, interleaved, with
// repetitions; then the Pushgateway's own memory and scrape size with many
// retained run groups. It prints the tables and writes them as markdown.
//
// Each run is measured as GNU time measures it: wall time from fork to
// wait, and the peak RSS (ru_maxrss) and CPU time (user+sys) that wait4
// reports for the process and the children it waited for (for a shell
// pipeline: the largest of bash, jq and curl). Before each run the
// Pushgateway is wiped, so every push meets the same, empty store. HTTP
// requests are counted by the Pushgateway itself
// (pushgateway_http_requests_total{handler="push"}).
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/step-metrics/step-metrics/bench/synth"
)

type config struct {
	bin, naive, diy, pgBin, dataDir, out string
	sizes                                []int
	reps                                 int
	quick                                bool
	groups, bigGroups                    int
	sections                             string
	runTimeout                           time.Duration
}

func main() {
	var c config
	var sizes string
	flag.StringVar(&c.bin, "bin", "bin/step-metrics", "step-metrics binary (stripped, static: as `make build` makes it)")
	flag.StringVar(&c.naive, "naive", "", "naive client_golang binary (bench/naive)")
	flag.StringVar(&c.diy, "diy", "bench/diy/exit-handler.sh", "the jq+curl exit handler")
	flag.StringVar(&c.pgBin, "pushgateway", "prometheus-pushgateway", "Pushgateway binary")
	flag.StringVar(&c.dataDir, "data", "bench/out", "directory for the generated workflows")
	flag.StringVar(&c.out, "out", "", "write the results as markdown to this file")
	flag.StringVar(&sizes, "sizes", "100,1000,10000,50000", "node counts, comma-separated")
	flag.IntVar(&c.reps, "reps", 7, "repetitions per variant (fewer for the largest sizes and slow variants)")
	flag.BoolVar(&c.quick, "quick", false, "brief run for CI: small sizes, few repetitions, few retained groups")
	flag.IntVar(&c.groups, "groups", 1000, "retained run groups for the Pushgateway-side measurement")
	flag.IntVar(&c.bigGroups, "big-groups", 100, "retained groups of the big fan-out (template mode)")
	flag.DurationVar(&c.runTimeout, "run-timeout", 5*time.Minute, "give up on one run after this long")
	flag.StringVar(&c.sections, "sections", "all", "what to measure: all, or a comma-separated subset of e2e,budgets,startup,pushgateway")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fatal(fmt.Errorf("-sizes: %q", s))
		}
		c.sizes = append(c.sizes, n)
	}
	if err := run(c); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "harness:", err)
	os.Exit(1)
}

// sample is one measured run.
type sample struct {
	wall, cpu time.Duration
	rssKB     int64
	requests  int
	err       error
}

type variant struct {
	name string
	// what is compared with what: "sm" is step-metrics push (node mode)
	cmd func(n int, uid string) []string
	// reps returns the repetitions at n nodes (0: skip at this size).
	reps func(n int) int
	push bool
}

type report struct {
	b bytes.Buffer
}

func (r *report) printf(format string, args ...any) {
	fmt.Fprintf(&r.b, format, args...)
	fmt.Printf(format, args...)
}

func run(c config) error {
	for _, p := range []string{c.bin, c.naive, c.diy} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("missing %s (bench/run.sh builds it): %w", p, err)
		}
	}
	if err := generate(c); err != nil {
		return err
	}
	pg, err := startPushgateway(c.pgBin)
	if err != nil {
		return err
	}
	defer pg.stop()

	rep := &report{}
	rep.printf("# step-metrics benchmark results\n\n")
	rep.printf("Measured by `bench/run.sh%s` on %s; %d CPU cores (shared with other work), Pushgateway %s, %s, jq %s.\n",
		map[bool]string{true: " --quick", false: ""}[c.quick], time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), pg.version, goVersion(), jqVersion())
	rep.printf("Every figure is the median of the repetitions given (`reps`); ratios are taken between medians of the same run.\n\n")

	for _, sec := range []struct {
		name string
		run  func() error
	}{
		{"e2e", func() error { return endToEnd(c, pg, rep) }},
		{"budgets", func() error { return budgets(c, rep) }},
		{"startup", func() error { return startupAndSize(c, rep) }},
		{"pushgateway", func() error { return pushgatewaySide(c, rep) }},
	} {
		if c.sections == "all" || slices.Contains(strings.Split(c.sections, ","), sec.name) {
			if err := sec.run(); err != nil {
				return err
			}
		}
	}
	if c.out != "" {
		if err := os.WriteFile(c.out, rep.b.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "harness: wrote %s\n", c.out)
	}
	return nil
}

func input(c config, n int, compressed bool) string {
	name := fmt.Sprintf("wf-%d.json", n)
	if compressed {
		name = fmt.Sprintf("wf-%d.gz.json", n)
	}
	return filepath.Join(c.dataDir, name)
}

// generate writes the inputs (seed 1) unless they are there already.
func generate(c config) error {
	if err := os.MkdirAll(c.dataDir, 0o755); err != nil {
		return err
	}
	sizes := append(slices.Clone(c.sizes), 30)
	for _, n := range sizes {
		for _, comp := range []bool{false, true} {
			p := input(c, n, comp)
			if _, err := os.Stat(p); err == nil {
				continue
			}
			b, err := synth.JSON(synth.Options{Nodes: n, Seed: 1, Compressed: comp})
			if err != nil {
				return err
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func endToEnd(c config, pg *pushgateway, rep *report) error {
	everywhere := func(r int) func(int) int {
		return func(n int) int {
			switch {
			case c.quick:
				return r
			case n >= 50000:
				return min(r, 3)
			case n >= 10000:
				return min(r, 5)
			}
			return r
		}
	}
	reps := c.reps
	variants := []variant{
		{name: "step-metrics push", push: true, reps: everywhere(reps), cmd: func(n int, uid string) []string {
			return []string{c.bin, "push", "-f", input(c, n, false), "--pushgateway", pg.url, "--workflow-uid", uid, "--log-level", "warn", "--max-series", "0"}
		}},
		{name: "step-metrics push (compressedNodes)", push: true, reps: everywhere(reps), cmd: func(n int, uid string) []string {
			return []string{c.bin, "push", "-f", input(c, n, true), "--pushgateway", pg.url, "--workflow-uid", uid, "--log-level", "warn", "--max-series", "0"}
		}},
		{name: "step-metrics push --steps template", push: true, reps: everywhere(reps), cmd: func(n int, uid string) []string {
			return []string{c.bin, "push", "--steps", "template", "-f", input(c, n, false), "--pushgateway", pg.url, "--workflow-uid", uid, "--log-level", "warn"}
		}},
		{name: "step-metrics push --dry-run", reps: everywhere(reps), cmd: func(n int, uid string) []string {
			return []string{c.bin, "push", "-f", input(c, n, false), "--dry-run", "--log-level", "warn", "--max-series", "0"}
		}},
		{name: "Pushgateway alone: curl PUT of step-metrics' body (protobuf, as pushed)", push: true, reps: everywhere(reps), cmd: func(n int, uid string) []string {
			return curlPut(pg.url, uid, bodyFile(c, n, "pb"), "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited")
		}},
		{name: "jq + curl (DIY exit handler)", push: true, reps: everywhere(reps), cmd: func(n int, uid string) []string {
			return []string{"bash", c.diy, input(c, n, false), pg.url, "bench", uid}
		}},
		{name: "naive client_golang, a push per step", push: true, cmd: func(n int, uid string) []string {
			return []string{c.naive, "-f", input(c, n, false), "-pushgateway", pg.url, "-workflow-uid", uid}
		}, reps: func(n int) int {
			switch {
			case c.quick && n > 100, n > 10000:
				return 0 // thousands of pushes: see the note below the table
			case n >= 10000:
				return 1
			case n >= 1000:
				return min(reps, 3)
			}
			return reps
		}},
	}
	rep.printf("## End to end: one workflow, read from a file, pushed to a real Pushgateway\n\n")
	rep.printf("Wall time and peak RSS of the whole process (for jq + curl: the shell pipeline; peak RSS is its largest process, as GNU time reports it), CPU = user+sys, requests = HTTP pushes the Pushgateway counted for the run. Ratio = the variant's median wall time / step-metrics push's (node mode, plain JSON) at the same size: above 1 is slower than step-metrics.\n\n")
	type key struct {
		v string
		n int
	}
	results := map[key][]sample{}
	for _, n := range c.sizes {
		series, err := countSeries(c, n)
		if err != nil {
			return err
		}
		maxReps := 0
		for _, v := range variants {
			maxReps = max(maxReps, v.reps(n))
		}
		fmt.Fprintf(os.Stderr, "harness: %d nodes (%d series in node mode), %d rounds\n", n, series, maxReps)
		for r := 0; r < maxReps; r++ {
			// Rotate the order so that no variant always runs first.
			for i := range variants {
				v := variants[(i+r)%len(variants)]
				if r >= v.reps(n) {
					continue
				}
				if err := pg.wipe(); err != nil {
					return err
				}
				before, err := pg.pushes()
				if err != nil {
					return err
				}
				uid := fmt.Sprintf("bench-%d-%d-%d", n, r, i)
				s := measure(c.runTimeout, v.cmd(n, uid))
				after, err := pg.pushes()
				if err != nil {
					return err
				}
				s.requests = after - before
				if s.err != nil {
					fmt.Fprintf(os.Stderr, "harness: %s at %d nodes: %v\n", v.name, n, s.err)
				}
				results[key{v.name, n}] = append(results[key{v.name, n}], s)
			}
		}
		base := median(results[key{variants[0].name, n}], wallOf)
		rep.printf("### %d nodes (%s series in node mode; input %s, compressedNodes form %s)\n\n", n, thousands(series), fileSize(input(c, n, false)), fileSize(input(c, n, true)))
		rep.printf("| variant | reps | wall (ms) | ratio to step-metrics | CPU (ms) | peak RSS (MiB) | HTTP requests |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, v := range variants {
			ss := results[key{v.name, n}]
			if len(ss) == 0 {
				rep.printf("| %s | 0 | not run | | | | |\n", v.name)
				continue
			}
			if failed := errs(ss); failed != nil {
				rep.printf("| %s | %d | failed: %s | | | | |\n", v.name, len(ss), oneLine(failed.Error()))
				continue
			}
			req := "–"
			if v.push {
				req = strconv.Itoa(ss[0].requests)
				for _, s := range ss {
					if s.requests != ss[0].requests {
						req = fmt.Sprintf("%d–%d", ss[0].requests, s.requests)
					}
				}
			}
			w := median(ss, wallOf)
			rep.printf("| %s | %d | %s | %.2f | %s | %.1f | %s |\n", v.name, len(ss), ms(w), float64(w)/float64(base), ms(median(ss, cpuOf)), float64(median(ss, rssOf))/1024, req)
		}
		rep.printf("\n")
	}
	// The targets.
	rep.printf("### Targets\n\n| target | measured | met |\n|---|---|---|\n")
	failed := false
	for _, n := range c.sizes {
		ss := results[key{variants[0].name, n}]
		for _, s := range ss {
			if s.err == nil && s.requests != 1 {
				failed = true
				rep.printf("| one HTTP request per push at %d nodes | %d requests | **no** |\n", n, s.requests)
			}
		}
	}
	if !failed {
		rep.printf("| exactly one HTTP request per push | 1 at every size, every repetition | yes |\n")
	}
	if slices.Contains(c.sizes, 10000) {
		for _, vn := range []string{variants[0].name, variants[2].name} {
			ss := results[key{vn, 10000}]
			w, r := median(ss, wallOf), float64(median(ss, rssOf))/1024
			rep.printf("| `%s` at 10,000 nodes ≤ 250 ms wall | %s ms | %s |\n", vn, ms(w), yesNo(w <= 250*time.Millisecond))
			rep.printf("| `%s` at 10,000 nodes ≤ 64 MiB peak RSS | %.1f MiB | %s |\n", vn, r, yesNo(r <= 64))
		}
	}
	for _, n := range []int{1000, 10000} {
		if !slices.Contains(c.sizes, n) {
			continue
		}
		base := median(results[key{variants[0].name, n}], wallOf)
		jq := median(results[key{variants[5].name, n}], wallOf)
		ratio := float64(jq) / float64(base)
		rep.printf("| ≥ 10× faster than jq + curl at %s nodes | %.1f× | %s |\n", thousands(n), ratio, yesNo(ratio >= 10))
	}
	rep.printf("\n")
	if failed {
		return errors.New("step-metrics made more than one HTTP request for a push")
	}
	return nil
}

func startupAndSize(c config, rep *report) error {
	reps := 31
	if c.quick {
		reps = 11
	}
	var ss []sample
	for i := 0; i < reps; i++ {
		s := measure(10*time.Second, []string{c.bin, "version"})
		if s.err != nil {
			return fmt.Errorf("%s version: %w", c.bin, s.err)
		}
		ss = append(ss, s)
	}
	fi, err := os.Stat(c.bin)
	if err != nil {
		return err
	}
	w := median(ss, wallOf)
	size := float64(fi.Size()) / 1e6
	rep.printf("## Startup and size\n\n| what | measured | target | met |\n|---|---|---|---|\n")
	rep.printf("| `step-metrics version` wall time (median of %d) | %s ms (peak RSS %.1f MiB) | ≤ 20 ms | %s |\n", reps, ms(w), float64(median(ss, rssOf))/1024, yesNo(w <= 20*time.Millisecond))
	rep.printf("| stripped static binary (`make build`) | %.1f MB | ≤ 25 MB | %s |\n\n", size, yesNo(size <= 25))
	return nil
}

// pushgatewaySide measures a fresh Pushgateway holding many retained run
// groups: its RSS and the size and time of a /metrics scrape.
func pushgatewaySide(c config, rep *report) error {
	groups, big, bigNode := c.groups, c.bigGroups, 10
	bigN := 10000
	if c.quick {
		groups, big, bigNode, bigN = 50, 5, 2, 1000
	}
	rep.printf("## The Pushgateway side: retained run groups\n\n")
	rep.printf("A fresh Pushgateway per line, filled by `step-metrics push` runs with distinct `--workflow-uid`s (each run is its own group, as in production until pruned). RSS is the Pushgateway's resident memory (VmRSS) after the pushes; the scrape is one `GET /metrics` (what Prometheus pulls every scrape interval).\n\n")
	rep.printf("| groups × workflow | `--steps` | series stored | Pushgateway RSS (MiB) | scrape size (MB) | scrape time (ms) | last push (ms) |\n|---|---|---:|---:|---:|---:|---:|\n")
	type line struct {
		groups, n int
		mode      string
	}
	lines := []line{{groups, 30, "node"}, {groups, 30, "template"}, {big, bigN, "template"}, {bigNode, bigN, "node"}}
	for _, l := range lines {
		pg, err := startPushgateway(c.pgBin)
		if err != nil {
			return err
		}
		var last sample
		for g := 0; g < l.groups; g++ {
			last = measure(c.runTimeout, []string{c.bin, "push", "--steps", l.mode, "-f", input(c, l.n, false), "--pushgateway", pg.url,
				"--workflow-uid", fmt.Sprintf("run-%05d", g), "--log-level", "warn", "--strict"})
			if last.err != nil {
				pg.stop()
				return fmt.Errorf("filling the Pushgateway: %w", last.err)
			}
		}
		// Let the Pushgateway settle (its writes are asynchronous), then scrape twice.
		time.Sleep(500 * time.Millisecond)
		var size int64
		var took []time.Duration
		var series int
		for i := 0; i < 3; i++ {
			t0 := time.Now()
			sz, s, err := pg.scrape()
			if err != nil {
				pg.stop()
				return err
			}
			took = append(took, time.Since(t0))
			size, series = sz, s
		}
		rss := pg.rssKB()
		pg.stop()
		slices.Sort(took)
		rep.printf("| %s × %s nodes | %s | %s | %.1f | %.1f | %s | %s |\n", thousands(l.groups), thousands(l.n), l.mode, thousands(series), float64(rss)/1024, float64(size)/1e6, ms(took[1]), ms(last.wall))
	}
	rep.printf("\n")
	return nil
}

// gnuTime is GNU time, through which every measured command runs: a
// child of this (large) Go process would report this process's RSS as its
// own peak (Linux keeps the high-water mark of the memory a child shares
// with its parent until exec), while GNU time's children start from its
// own few hundred KiB.
var gnuTime = "/usr/bin/time"

// measure runs argv under GNU time and returns the wall time around it,
// the peak RSS GNU time reports (%M) and the CPU time (user+sys) of the
// command and its children.
func measure(timeout time.Duration, argv []string) sample {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rss, err := os.CreateTemp("", "rss")
	if err != nil {
		return sample{err: err}
	}
	rss.Close()
	defer os.Remove(rss.Name())
	cmd := exec.CommandContext(ctx, gnuTime, append([]string{"-f", "%M", "-o", rss.Name(), "--"}, argv...)...)
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	err = cmd.Run()
	s := sample{wall: time.Since(t0)}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if b, rerr := os.ReadFile(rss.Name()); rerr == nil {
		f := strings.Fields(string(b))
		if len(f) > 0 {
			s.rssKB, _ = strconv.ParseInt(f[len(f)-1], 10, 64)
		}
	}
	if ctx.Err() != nil {
		s.err = fmt.Errorf("timed out after %s", timeout)
	} else if err != nil {
		s.err = fmt.Errorf("%s: %w: %s", filepath.Base(argv[0]), err, oneLine(stderr.String()))
	}
	return s
}

func bodyFile(c config, n int, ext string) string {
	return filepath.Join(c.dataDir, fmt.Sprintf("body-%d.%s", n, ext))
}

func curlPut(url, uid, file, contentType string) []string {
	return []string{"curl", "-sSf", "-o", "/dev/null", "-X", "PUT", "-H", "Content-Type: " + contentType, "--data-binary", "@" + file,
		url + "/metrics/job/step-metrics/namespace/bench/workflow_id/" + uid}
}

// countSeries runs step-metrics --dry-run at n nodes, counts the series
// and writes what it pushes (the same families, protobuf-delimited, as
// client_golang's Pusher encodes them) for the Pushgateway-alone line.
func countSeries(c config, n int) (int, error) {
	out, err := exec.Command(c.bin, "push", "-f", input(c, n, false), "--dry-run", "--log-level", "error", "--max-series", "0").Output()
	if err != nil {
		return 0, fmt.Errorf("dry run at %d nodes: %w", n, err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(out))
	if err != nil {
		return 0, fmt.Errorf("dry run at %d nodes: %w", n, err)
	}
	names := make([]string, 0, len(fams))
	for name := range fams {
		names = append(names, name)
	}
	slices.Sort(names)
	var pb bytes.Buffer
	enc := expfmt.NewEncoder(&pb, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, name := range names {
		if err := enc.Encode(fams[name]); err != nil {
			return 0, err
		}
	}
	if err := os.WriteFile(bodyFile(c, n, "pb"), pb.Bytes(), 0o644); err != nil {
		return 0, err
	}
	series := 0
	for _, l := range bytes.Split(out, []byte("\n")) {
		if len(l) > 0 && l[0] != '#' {
			series++
		}
	}
	return series, nil
}

type pushgateway struct {
	cmd     *exec.Cmd
	url     string
	version string
	done    chan struct{}
}

// startPushgateway starts a Pushgateway with no persistence and the admin
// API (for wipes) on a free loopback port, and waits until it is ready.
func startPushgateway(bin string) (*pushgateway, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--persistence.file=", "--web.enable-admin-api", "--log.level=error")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	pg := &pushgateway{cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(pg.done) }()
	for i := 0; i < 100; i++ {
		select {
		case <-pg.done:
			return nil, fmt.Errorf("%s exited at start (port %s taken?)", bin, addr)
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get(pg.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				out, _ := exec.Command(bin, "--version").CombinedOutput()
				if f := strings.Fields(string(out)); len(f) >= 3 {
					pg.version = strings.TrimSuffix(f[2], ",")
				}
				return pg, nil
			}
		}
	}
	pg.stop()
	return nil, fmt.Errorf("%s not ready at %s", bin, pg.url)
}

func (p *pushgateway) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// wipe deletes every group and waits until the store is empty.
func (p *pushgateway) wipe() error {
	req, _ := http.NewRequest(http.MethodPut, p.url+"/api/v1/admin/wipe", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	for i := 0; i < 200; i++ {
		resp, err := http.Get(p.url + "/api/v1/metrics")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(b, []byte(`"data":[]`)) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("pushgateway not empty after wipe")
}

// pushes returns the push requests the Pushgateway has counted.
func (p *pushgateway) pushes() (int, error) {
	resp, err := http.Get(p.url + "/metrics?name[]=pushgateway_http_requests_total")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	total := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "pushgateway_http_requests_total{") && strings.Contains(l, `handler="push"`) {
			f := strings.Fields(l)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				return 0, err
			}
			total += int(v)
		}
	}
	return total, sc.Err()
}

// scrape GETs /metrics and returns its size and how many samples it holds.
func (p *pushgateway) scrape() (int64, int, error) {
	resp, err := http.Get(p.url + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var size int64
	series := 0
	r := bufio.NewReaderSize(resp.Body, 1<<20)
	for {
		line, err := r.ReadSlice('\n')
		size += int64(len(line))
		if len(line) > 0 && line[0] != '#' {
			series++
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				size += int64(len(line))
			}
		}
		if err == io.EOF {
			return size, series, nil
		}
		if err != nil {
			return 0, 0, err
		}
	}
}

func (p *pushgateway) rssKB() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

func wallOf(s sample) int64 { return int64(s.wall) }
func cpuOf(s sample) int64  { return int64(s.cpu) }
func rssOf(s sample) int64  { return s.rssKB }

func median(ss []sample, f func(sample) int64) time.Duration {
	if len(ss) == 0 {
		return 0
	}
	v := make([]int64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return time.Duration(v[len(v)/2])
	}
	return time.Duration((v[len(v)/2-1] + v[len(v)/2]) / 2)
}

func errs(ss []sample) error {
	for _, s := range ss {
		if s.err != nil {
			return s.err
		}
	}
	return nil
}

func ms(d time.Duration) string {
	f := float64(d) / 1e6
	if f >= 100 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func fileSize(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return "?"
	}
	switch s := float64(fi.Size()); {
	case s >= 1e6:
		return fmt.Sprintf("%.1f MB", s/1e6)
	default:
		return fmt.Sprintf("%.0f KB", s/1e3)
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return "Go ?"
	}
	return strings.TrimSpace(string(out))
}

func jqVersion() string {
	out, err := exec.Command("jq", "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "jq-")
}
