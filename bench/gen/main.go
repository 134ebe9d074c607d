// Command gen writes synthetic Argo Workflows of N nodes as JSON, as
// `kubectl get wf -o json` prints them while the exit handler runs (see
// package synth for their shape), for the benchmarks in bench/.
//
//	go run ./bench/gen -n 10000 > wf-10000.json
//	go run ./bench/gen -n 10000 -compressed > wf-10000.gz.json
//	go run ./bench/gen -dir bench/out -sizes 100,1000,10000,50000   # both forms of each size
//
// The output is deterministic for a given -seed.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/step-metrics/step-metrics/bench/synth"
)

func main() {
	n := flag.Int("n", 1000, "number of nodes in status.nodes")
	seed := flag.Uint64("seed", 1, "random seed")
	compressed := flag.Bool("compressed", false, "write status.compressedNodes (base64 gzip) instead of status.nodes")
	dir := flag.String("dir", "", "write wf-N.json and wf-N.gz.json for each of -sizes into this directory instead of one workflow to stdout")
	sizes := flag.String("sizes", "100,1000,10000,50000", "node counts for -dir, comma-separated")
	flag.Parse()
	if err := run(*n, *seed, *compressed, *dir, *sizes); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(n int, seed uint64, compressed bool, dir, sizes string) error {
	if dir == "" {
		b, err := synth.JSON(synth.Options{Nodes: n, Seed: seed, Compressed: compressed})
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(b)
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-sizes: %q is not a number", s)
		}
		for _, c := range []bool{false, true} {
			b, err := synth.JSON(synth.Options{Nodes: n, Seed: seed, Compressed: c})
			if err != nil {
				return err
			}
			name := fmt.Sprintf("wf-%d.json", n)
			if c {
				name = fmt.Sprintf("wf-%d.gz.json", n)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "gen: %s: %d nodes, %d bytes\n", name, n, len(b))
		}
	}
	return nil
}
