package argo

import (
	"os"
	"strings"
	"testing"

	"github.com/step-metrics/step-metrics/pkg/engine"
)

// TestArgoV4Fields: failedPodRestarts reaches the step (not as a retry),
// and a finished step whose outputs were not synced yet is a warning; both
// from plain status.nodes and from status.compressedNodes.
func TestArgoV4Fields(t *testing.T) {
	plain, err := os.ReadFile("../../../testdata/argo/v4/failed-pod-restarts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"nodes": plain, "compressedNodes": compress(t, plain, gzipB64)} {
		run, _, err := Engine{}.Read(data, engine.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		restarts := map[string]int{}
		for _, s := range run.Steps {
			restarts[s.Name] = s.PodRestarts
		}
		if len(restarts) != 2 || restarts["extract"] != 2 || restarts["load"] != 0 {
			t.Errorf("%s: pod restarts %v, want extract 2, load 0", name, restarts)
		}
		if len(run.Retries) != 0 {
			t.Errorf("%s: pod restarts became retries: %+v", name, run.Retries)
		}
		warned := false
		for _, w := range run.Warnings {
			if strings.Contains(w, "taskResultSynced") && strings.Contains(w, "load") {
				warned = true
			}
		}
		if !warned {
			t.Errorf("%s: no warning for the unsynced outputs of load: %q", name, run.Warnings)
		}
	}
}
