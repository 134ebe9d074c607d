package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

const (
	loadRuns        = 500
	loadParallelism = 50
)

// loadWorkflow is the bundled example turned into run n: its own name
// (nodes and IDs follow it), UID and training time, so a series that lands
// in another run's group, or a value from another run, shows.
func loadWorkflow(src []byte, n int) (wf []byte, name, uid string, trainingSeconds float64) {
	name = fmt.Sprintf("train-load%03d", n)
	uid = fmt.Sprintf("00000000-load-4000-8000-%012d", n)
	trainingSeconds = 1000 + float64(n)
	s := strings.ReplaceAll(string(src), "train-x7k2p", name)
	s = strings.ReplaceAll(s, exampleUID, uid)
	s = strings.Replace(s, "training_seconds 431.2", fmt.Sprintf("training_seconds %v", trainingSeconds), 1)
	return []byte(s), name, uid, trainingSeconds
}

// TestLoad500ExitHandlers: 500 exit handlers (the real binary, one process
// each, 50 at a time) push 500 distinct runs to one real Pushgateway.
// Every group must be there, complete, with its own values: none lost,
// none mixed. It reports the time and the Pushgateway's memory.
func TestLoad500ExitHandlers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 500 processes")
	}
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	src, err := os.ReadFile("../../internal/example/ml-pipeline-running-exit-handler.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, _ = loadWorkflow(src, 0); !bytes.Contains(src, []byte("training_seconds 431.2")) || !bytes.Contains(src, []byte(exampleUID)) {
		t.Fatal("the example changed shape: update loadWorkflow")
	}
	// What one run must hold: the dry run of run 0, labels and all.
	wf0, name0, _, _ := loadWorkflow(src, 0)
	dry := runCLI(t, wf0, nil, "push", "-f", "-", "--dry-run")
	dry.want(t, 0)
	want0 := allSeries(parseText(t, dry.stdout))
	rssIdle := vmRSS(t, pg.PID())

	type outcome struct {
		code   int
		stderr string
		err    error
		took   time.Duration
	}
	outcomes := make([]outcome, loadRuns)
	sem := make(chan struct{}, loadParallelism)
	var wg sync.WaitGroup
	var peakMu sync.Mutex
	peakRSS := rssIdle
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // sample the Pushgateway's RSS while the load runs
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
				if r := vmRSS(t, pg.PID()); r > 0 {
					peakMu.Lock()
					if r > peakRSS {
						peakRSS = r
					}
					peakMu.Unlock()
				}
			}
		}
	}()
	start := time.Now()
	for i := 0; i < loadRuns; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			wf, _, _, _ := loadWorkflow(src, i)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "push", "-f", "-", "--pushgateway", pg.URL, "--timeout", "60s")
			cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + os.TempDir()}
			cmd.Stdin = bytes.NewReader(wf)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			s := time.Now()
			err := cmd.Run()
			o := outcome{stderr: stderr.String(), took: time.Since(s)}
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				o.code = ee.ExitCode()
			} else {
				o.err = err
			}
			outcomes[i] = o
		}(i)
	}
	wg.Wait()
	took := time.Since(start)
	close(stopSampling)
	<-sampled
	rssAfter := vmRSS(t, pg.PID())

	var slowest time.Duration
	for i, o := range outcomes {
		if o.err != nil || o.code != 0 || !strings.Contains(o.stderr, "msg=pushed") || strings.Contains(o.stderr, "level=WARN") {
			t.Errorf("run %d: exit %d, %v:\n%s", i, o.code, o.err, o.stderr)
		}
		if o.took > slowest {
			slowest = o.took
		}
	}

	fams := pg.Scrape(t)
	groups := pg.Groups(t)
	if len(groups) != loadRuns {
		t.Errorf("the Pushgateway holds %d groups, want %d", len(groups), loadRuns)
	}
	byRun := seriesByRun(fams)
	nameLabel := regexp.MustCompile(`workflow=([^,}]*)`)
	lost, mixed := 0, 0
	for i := 0; i < loadRuns; i++ {
		_, name, uid, training := loadWorkflow(src, i)
		got := byRun[exampleNS+"/"+uid]
		if len(got) != len(want0) {
			lost++
			t.Errorf("run %d: %d series in its group, want %d", i, len(got), len(want0))
			continue
		}
		for k, v := range got {
			if m := nameLabel.FindStringSubmatch(k); m == nil || m[1] != name {
				mixed++
				t.Errorf("run %d: series of another run in its group: %s", i, k)
				break
			}
			// Same series as run 0's, with this run's name; same values
			// but the training time, which is this run's.
			k0 := strings.ReplaceAll(k, name, name0)
			w, ok := want0[k0]
			switch {
			case !ok:
				mixed++
				t.Errorf("run %d: unexpected series %s", i, k)
			case strings.HasPrefix(k, "pipeline_custom_training_seconds{") && strings.Contains(k, "train(0:lr-0.01)"):
				if v != training {
					mixed++
					t.Errorf("run %d: training_seconds %v, want %v", i, v, training)
				}
			case v != w && !strings.HasPrefix(k, "pipeline_custom_training_seconds{"):
				mixed++
				t.Errorf("run %d: %s = %v, want %v", i, k, v, w)
			}
		}
	}
	t.Logf("%d exit handlers, %d at a time: %v in all, the slowest %v; %d groups of %d series in the Pushgateway, %d lost, %d mixed; Pushgateway RSS %d MiB idle, %d MiB at peak, %d MiB after",
		loadRuns, loadParallelism, took.Round(time.Millisecond), slowest.Round(time.Millisecond), len(groups), len(want0), lost, mixed, rssIdle>>20, peakRSS>>20, rssAfter>>20)
}

// seriesByRun is groupSeries for every group of the job at once, keyed by
// namespace/workflow_id.
func seriesByRun(fams map[string]*dto.MetricFamily) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for name, f := range fams {
		if name == "push_time_seconds" || name == "push_failure_time_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			ls := map[string]string{}
			for _, lp := range m.GetLabel() {
				ls[lp.GetName()] = lp.GetValue()
			}
			if ls["job"] != "step-metrics" {
				continue
			}
			k := ls["namespace"] + "/" + ls["workflow_id"]
			if out[k] == nil {
				out[k] = map[string]float64{}
			}
			out[k][seriesKey(name, m, "job", "namespace", "workflow_id", "instance")] = value(m)
		}
	}
	return out
}
