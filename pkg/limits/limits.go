// Package limits derives step-metrics' memory budgets from the memory the
// process may use: the container's limit (cgroup v2 memory.max, cgroup v1
// memory.limit_in_bytes) or GOMEMLIMIT, whichever is smaller. An exit
// handler that is OOM-killed fails the workflow it measures, so every
// read and every decompression is bounded by a share of that memory rather
// than by a fixed constant.
//
//	limits.Apply()               // once, in main: the GC's soft limit below the container's
//	max := limits.Input()        // the largest object read whole
package limits

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
)

// DefaultMemory is what Memory returns when no limit is set: the memory
// limit of the shipped templates (256 MiB).
const DefaultMemory int64 = 256 << 20

// MinMemory is the least Memory returns, so that a tiny or unreadable
// limit still leaves room to work.
const MinMemory int64 = 32 << 20

// cgroupRoot is where the cgroup file systems are mounted; tests change it.
var cgroupRoot = "/sys/fs/cgroup"

// goMemLimit returns the runtime's soft memory limit (GOMEMLIMIT, or
// debug.SetMemoryLimit); math.MaxInt64 when unset. Tests replace it.
var goMemLimit = func() int64 { return debug.SetMemoryLimit(-1) }

// cached is Memory's value once computed: Apply lowers the runtime's limit
// that Memory reads, so it must not read it again. Tests reset it.
var cached atomic.Int64

// Memory returns the memory the process may use, in bytes: the smallest of
// the cgroup v2 limit, the cgroup v1 limit and GOMEMLIMIT; DefaultMemory
// when none is set, never less than MinMemory. It is computed once.
func Memory() int64 {
	if v := cached.Load(); v > 0 {
		return v
	}
	v := memory()
	cached.Store(v)
	return v
}

func memory() int64 {
	m := int64(math.MaxInt64)
	for _, f := range []string{"memory.max", "memory/memory.limit_in_bytes"} {
		if v, ok := readLimit(filepath.Join(cgroupRoot, f)); ok {
			m = min(m, v)
		}
	}
	if g := goMemLimit(); g > 0 {
		m = min(m, g)
	}
	// cgroup v1 spells "no limit" as a huge number rounded to pages.
	if m >= 1<<50 {
		m = DefaultMemory
	}
	return max(m, MinMemory)
}

// readLimit reads a cgroup memory limit file: a number of bytes, or "max".
func readLimit(path string) (int64, bool) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: a fixed cgroup path
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
}

// Input is the largest status object a source reads whole (a file, a
// Kubernetes or Argo Server answer), and the most a compressed node map
// may inflate to: a quarter of Memory. Decoding holds the input and what it
// decodes to at the same time, so a half would already be too much.
func Input() int64 { return Memory() / 4 }

// ErrorBody is the most of an error answer's body (a Pushgateway's or an
// API server's 4xx/5xx) that is read and shown: enough for a message.
const ErrorBody = 4 << 10

// Apply sets the garbage collector's soft memory limit to 80% of Memory,
// unless GOMEMLIMIT is set, so that the heap is collected harder before
// the container's limit is reached. It returns the limit in effect.
func Apply() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1)
	}
	limit := Memory() / 10 * 8 // computed, and kept, before the limit changes
	debug.SetMemoryLimit(limit)
	return limit
}

// Set makes Memory return m (at least MinMemory) until the returned
// function restores what it returned before: for tests, and for a caller
// that knows the budget better than the container does.
func Set(m int64) (restore func()) {
	old := cached.Swap(max(m, MinMemory))
	return func() { cached.Store(old) }
}
