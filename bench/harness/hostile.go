package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/step-metrics/step-metrics/bench/synth"
)

// templateLimitMiB is the memory limit of the shipped templates: an exit
// handler above it is OOM-killed, and the workflow fails.
const templateLimitMiB = 256

// budgets measures what the issue of bounded memory and time asks
// (docs/security.md): peak RSS of `push --dry-run` at the largest size in
// every --steps mode; decode speed against jq computing only step
// durations from the same file; and the hostile inputs, each of which
// must end below the templates' memory limit, in bounded time, with a
// clear error instead of an OOM kill.
func budgets(c config, rep *report) error {
	big := 0
	for _, n := range c.sizes {
		big = max(big, n)
	}
	reps := 5
	if c.quick {
		reps = 3
	}
	rep.printf("## Memory and time budgets\n\n")
	rep.printf("`step-metrics push --dry-run` (read, decode, compute, print), whole process, median of %d; the jq line is `jq -r -f bench/diy/durations.jq` (only each Pod's duration: the least an exit handler computes) on the same file. Ratio = jq's wall time / step-metrics'.\n\n", reps)
	rep.printf("| what | measured | target | met |\n|---|---|---|---|\n")
	for _, mode := range []string{"node --max-series 0", "node", "template", "none"} {
		argv := append([]string{c.bin, "push", "--steps"}, strings.Fields(mode)...)
		ss := repeat(reps, c, append(argv, "-f", input(c, big, false), "--dry-run", "--log-level", "error"))
		if err := errs(ss); err != nil {
			return fmt.Errorf("--steps %s at %d nodes: %w", mode, big, err)
		}
		r := float64(median(ss, rssOf)) / 1024
		rep.printf("| peak RSS, `--steps %s`, %s nodes | %.1f MiB | ≤ 64 MiB | %s |\n", mode, thousands(big), r, yesNo(r <= 64))
	}
	for _, n := range c.sizes {
		if n != 10000 && n != big {
			continue
		}
		sm := repeat(reps, c, []string{c.bin, "push", "--steps", "template", "-f", input(c, n, false), "--dry-run", "--log-level", "error"})
		jq := repeat(reps, c, []string{"jq", "-r", "-f", filepath.Join(filepath.Dir(c.diy), "durations.jq"), input(c, n, false)})
		if err := errs(append(sm, jq...)); err != nil {
			return err
		}
		w, j := median(sm, wallOf), median(jq, wallOf)
		ratio := float64(j) / float64(w)
		rep.printf("| `--dry-run` at %s nodes against jq's step durations | %s ms against %s ms: %.2f× | ≥ 3× | %s |\n", thousands(n), ms(w), ms(j), ratio, yesNo(ratio >= 3))
		if n == 50000 {
			rep.printf("| `--dry-run` at 50,000 nodes | %s ms | ≤ 250 ms | %s |\n", ms(w), yesNo(w <= 250*time.Millisecond))
		}
	}

	// Hostile inputs.
	bombMiB, emptyNodes := 2048, 1_000_000
	if c.quick {
		bombMiB, emptyNodes = 256, 500_000
	}
	inputs, err := hostileInputs(c, bombMiB, emptyNodes)
	if err != nil {
		return err
	}
	srv, err := endlessArgoServer()
	if err != nil {
		return err
	}
	defer srv.Close()
	cases := []struct {
		name string
		argv []string
	}{
		{fmt.Sprintf("zstd bomb: a %s workflow whose compressedNodes inflates to %d MiB", fileSize(inputs.zstdBomb), bombMiB), []string{"-f", inputs.zstdBomb}},
		{fmt.Sprintf("gzip bomb: a %s workflow, compressedNodes of %s empty nodes", fileSize(inputs.manyNodes), thousands(emptyNodes)), []string{"-f", inputs.manyNodes}},
		{"Argo Server answering an endless workflow (1 GB and more)", []string{"--workflow", "endless", "-n", "ml", "--argo-server", srv.url}},
		{fmt.Sprintf("40,000 nodes in one boundaryID chain under an exit hook (%s)", fileSize(inputs.chain)), []string{"-f", inputs.chain}},
	}
	for _, tc := range cases {
		argv := append([]string{c.bin, "push", "--dry-run", "--log-level", "error", "--timeout", "20s"}, tc.argv...)
		s := measure(c.runTimeout, argv)
		r := float64(s.rssKB) / 1024
		outcome := "exit 0"
		if s.err != nil {
			outcome = "refused: " + oneLine(s.err.Error())
			if len(outcome) > 160 {
				outcome = outcome[:160] + "..."
			}
		}
		rep.printf("| %s | %.1f MiB, %s ms; %s | < %d MiB, < 20 s | %s |\n", tc.name, r, ms(s.wall), strings.ReplaceAll(outcome, "|", "/"), templateLimitMiB, yesNo(r < templateLimitMiB && s.wall < 20*time.Second))
	}
	rep.printf("\n")
	return nil
}

func repeat(n int, c config, argv []string) []sample {
	var ss []sample
	for i := 0; i < n; i++ {
		ss = append(ss, measure(c.runTimeout, argv))
	}
	return ss
}

type hostile struct {
	zstdBomb, manyNodes, chain string
}

// hostileInputs writes the hostile inputs unless they are there already.
func hostileInputs(c config, bombMiB, emptyNodes int) (hostile, error) {
	h := hostile{
		zstdBomb:  filepath.Join(c.dataDir, fmt.Sprintf("hostile-zstd-bomb-%d.json", bombMiB)),
		manyNodes: filepath.Join(c.dataDir, fmt.Sprintf("hostile-many-nodes-%d.json", emptyNodes)),
		chain:     filepath.Join(c.dataDir, "hostile-chain.json"),
	}
	if _, err := os.Stat(h.zstdBomb); err == nil {
		if _, err := os.Stat(h.manyNodes); err == nil {
			return h, nil
		}
	}
	// zstd: one node whose message is 2 GiB of "x".
	var zb bytes.Buffer
	zw, err := zstd.NewWriter(&zb, zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	if err != nil {
		return h, err
	}
	zs := &sticky{w: zw}
	zs.write(`{"bomb":{"id":"bomb","message":"`)
	chunk := strings.Repeat("x", 1<<20)
	for i := 0; i < bombMiB; i++ {
		zs.write(chunk)
	}
	zs.write(`"}}`)
	if zs.err != nil {
		return h, zs.err
	}
	if err := zw.Close(); err != nil {
		return h, err
	}
	if err := writeWorkflow(h.zstdBomb, "bomb", zb.Bytes()); err != nil {
		return h, err
	}
	// gzip: 4 million empty nodes.
	var gb bytes.Buffer
	gw, err := gzip.NewWriterLevel(&gb, gzip.BestCompression)
	if err != nil {
		return h, err
	}
	gs := &sticky{w: gw}
	gs.write("{")
	for i := 0; i < emptyNodes; i++ {
		if i > 0 {
			gs.write(",")
		}
		gs.write(fmt.Sprintf(`"n%d":{}`, i))
	}
	gs.write("}")
	if gs.err != nil {
		return h, gs.err
	}
	if err := gw.Close(); err != nil {
		return h, err
	}
	if err := writeWorkflow(h.manyNodes, "many", gb.Bytes()); err != nil {
		return h, err
	}
	// A chain: an exit hook, then 40,000 nodes each bounded by the one
	// before (the shape that was quadratic), plus the finished root.
	var b bytes.Buffer
	start := synth.Start.Format(time.RFC3339)
	end := synth.Start.Add(time.Hour).Format(time.RFC3339)
	fmt.Fprintf(&b, `{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"name":"chain","namespace":"ml","uid":"u"},"status":{"phase":"Running","startedAt":%q,"nodes":{`, start)
	fmt.Fprintf(&b, `"chain":{"id":"chain","name":"chain","displayName":"chain","type":"DAG","phase":"Succeeded","startedAt":%q,"finishedAt":%q},`, start, end)
	fmt.Fprintf(&b, `"hook":{"id":"hook","name":"chain.onExit","displayName":"chain.onExit","type":"Steps","phase":"Running","boundaryID":"chain","nodeFlag":{"hooked":true},"startedAt":%q}`, end)
	prev := "hook"
	for i := 0; i < 40000; i++ {
		id := fmt.Sprintf("c%d", i)
		fmt.Fprintf(&b, `,%q:{"id":%q,"name":"chain.onExit.%d","displayName":"s%d","type":"Pod","phase":"Succeeded","boundaryID":%q,"startedAt":%q,"finishedAt":%q}`, id, id, i, i, prev, start, end)
		prev = id
	}
	b.WriteString("}}}")
	return h, os.WriteFile(h.chain, b.Bytes(), 0o644)
}

func writeWorkflow(path, name string, compressed []byte) error {
	wf := fmt.Sprintf(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"name":%q,"namespace":"ml","uid":"u"},"status":{"phase":"Running","startedAt":"2026-11-20T10:00:00Z","compressedNodes":%q}}`,
		name, base64.StdEncoding.EncodeToString(compressed))
	return os.WriteFile(path, []byte(wf), 0o644)
}

type argoServer struct {
	url string
	srv *http.Server
}

func (a *argoServer) Close() { a.srv.Close() }

// endlessArgoServer answers every GET with a Workflow whose node map never
// ends: what an Argo Server (or anything at its URL) can send.
func endlessArgoServer() (*argoServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		sw := &sticky{w: w}
		sw.write(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"name":"endless","namespace":"ml"},"status":{"nodes":{`)
		node := `"id":"x","name":"endless.step","displayName":"step","type":"Pod","phase":"Succeeded","startedAt":"2026-11-20T10:00:00Z","finishedAt":"2026-11-20T10:01:00Z","templateName":"t","message":"` + strings.Repeat("m", 400) + `"`
		for i := 0; r.Context().Err() == nil && sw.err == nil && i < 3_000_000; i++ {
			if i > 0 {
				sw.write(",")
			}
			sw.write(fmt.Sprintf(`"n%d":{%s}`, i, node))
		}
		sw.write("}}}")
	})}
	go func() { _ = srv.Serve(ln) }()
	return &argoServer{url: "http://" + ln.Addr().String(), srv: srv}, nil
}

// sticky writes until the first error, which it keeps.
type sticky struct {
	w   io.Writer
	err error
}

func (s *sticky) write(str string) {
	if s.err == nil {
		_, s.err = io.WriteString(s.w, str)
	}
}
