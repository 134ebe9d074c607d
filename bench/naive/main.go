// Command naive is the baseline a per-function timing helper gives: it
// reads the Workflow JSON and, for every step, pushes one metric (the
// step's duration, its outcome as a label) to the Pushgateway with
// client_golang, one push per step. Each push is a PUT to the step's own
// group, as such helpers do so that pushes do not replace each other:
//
//	naive -f wf.json -pushgateway http://127.0.0.1:9091 -workflow-uid UID
//
// It exists only to be measured by bench/run.sh; do not use it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
)

type node struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	DisplayName  string    `json:"displayName"`
	Type         string    `json:"type"`
	TemplateName string    `json:"templateName"`
	Phase        string    `json:"phase"`
	StartedAt    time.Time `json:"startedAt"`
	FinishedAt   time.Time `json:"finishedAt"`
	NodeFlag     *struct {
		Hooked bool `json:"hooked"`
	} `json:"nodeFlag"`
}

type workflow struct {
	Metadata struct {
		Name, Namespace, UID string
	} `json:"metadata"`
	Status struct {
		Nodes map[string]node `json:"nodes"`
	} `json:"status"`
}

func main() {
	file := flag.String("f", "", "workflow JSON file")
	url := flag.String("pushgateway", "", "Pushgateway URL")
	uid := flag.String("workflow-uid", "", "workflow_id grouping label (default: the object's UID)")
	flag.Parse()
	if err := run(*file, *url, *uid); err != nil {
		fmt.Fprintln(os.Stderr, "naive:", err)
		os.Exit(1)
	}
}

func run(file, url, uid string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var wf workflow
	if err := json.Unmarshal(data, &wf); err != nil {
		return err
	}
	if uid == "" {
		uid = wf.Metadata.UID
	}
	pushes := 0
	for _, n := range wf.Status.Nodes {
		switch n.Type {
		case "Pod", "Container", "Suspend":
		default:
			continue
		}
		if (n.NodeFlag != nil && n.NodeFlag.Hooked) || strings.HasSuffix(n.Name, ".onExit") || n.FinishedAt.IsZero() {
			continue
		}
		// The helper: a gauge per step, pushed on its own.
		g := prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pipeline_step_duration_seconds",
			Help: "Wall time of a step.",
			ConstLabels: prometheus.Labels{
				"workflow": wf.Metadata.Name, "step": n.DisplayName, "template": n.TemplateName, "phase": n.Phase,
			},
		})
		g.Set(n.FinishedAt.Sub(n.StartedAt).Seconds())
		err := push.New(url, "naive").
			Grouping("namespace", wf.Metadata.Namespace).Grouping("workflow_id", uid).Grouping("node_id", n.ID).
			Collector(g).Push()
		if err != nil {
			return fmt.Errorf("push %d: %w", pushes+1, err)
		}
		pushes++
	}
	fmt.Fprintf(os.Stderr, "naive: %d pushes\n", pushes)
	return nil
}
