package limits

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestMemory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v2, v1 string // file contents; "" means no file
		gomem  int64
		want   int64
	}{
		{name: "nothing set", gomem: math.MaxInt64, want: DefaultMemory},
		{name: "cgroup v2", v2: "268435456\n", gomem: math.MaxInt64, want: 256 << 20},
		{name: "cgroup v2 max", v2: "max\n", gomem: math.MaxInt64, want: DefaultMemory},
		{name: "cgroup v1", v1: "134217728\n", gomem: math.MaxInt64, want: 128 << 20},
		{name: "cgroup v1 unlimited", v1: "9223372036854771712\n", gomem: math.MaxInt64, want: DefaultMemory},
		{name: "GOMEMLIMIT smaller", v2: "268435456", gomem: 100 << 20, want: 100 << 20},
		{name: "cgroup smaller", v2: "67108864", gomem: 100 << 20, want: 64 << 20},
		{name: "tiny", v2: "1024", gomem: math.MaxInt64, want: MinMemory},
		{name: "garbage", v2: "lots", v1: "-5", gomem: math.MaxInt64, want: DefaultMemory},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.v2 != "" {
				write(t, filepath.Join(root, "memory.max"), tc.v2)
			}
			if tc.v1 != "" {
				write(t, filepath.Join(root, "memory", "memory.limit_in_bytes"), tc.v1)
			}
			oldRoot, oldGo := cgroupRoot, goMemLimit
			t.Cleanup(func() { cgroupRoot, goMemLimit = oldRoot, oldGo })
			cgroupRoot, goMemLimit = root, func() int64 { return tc.gomem }
			cached.Store(0)
			t.Cleanup(func() { cached.Store(0) })
			if got := Memory(); got != tc.want {
				t.Errorf("Memory() = %d, want %d", got, tc.want)
			}
			if got := Input(); got != tc.want/4 {
				t.Errorf("Input() = %d, want %d", got, tc.want/4)
			}
		})
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestApplyKeepsMemory: Apply lowers the runtime's soft limit to 80% of
// Memory, and Memory does not then read that lowered limit back (which
// shrank every budget by a fifth).
func TestApplyKeepsMemory(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	oldRoot, oldGo := cgroupRoot, goMemLimit
	t.Cleanup(func() { cgroupRoot, goMemLimit = oldRoot, oldGo; cached.Store(0); debug.SetMemoryLimit(math.MaxInt64) })
	root := t.TempDir()
	write(t, filepath.Join(root, "memory.max"), "268435456")
	cgroupRoot, goMemLimit = root, func() int64 { return debug.SetMemoryLimit(-1) }
	cached.Store(0)
	if got := Apply(); got != 256<<20/10*8 {
		t.Errorf("Apply() = %d, want 80%% of 256 MiB", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 256<<20/10*8 {
		t.Errorf("runtime limit %d", got)
	}
	if got := Memory(); got != 256<<20 {
		t.Errorf("after Apply, Memory() = %d, want 256 MiB", got)
	}
}

func TestSet(t *testing.T) {
	restore := Set(100 << 20)
	if Memory() != 100<<20 || Input() != 25<<20 {
		t.Errorf("after Set: Memory %d, Input %d", Memory(), Input())
	}
	restore()
	inner := Set(1)
	if Memory() != MinMemory {
		t.Errorf("Set(1): Memory %d, want MinMemory", Memory())
	}
	inner()
}
