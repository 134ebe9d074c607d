// Command cmd regenerates the dashboards (dashboards/*.json) and the
// PrometheusRule (alerts/prometheusrule.yaml) from internal/dashboards:
//
//	go run ./internal/dashboards/cmd            # from the repository root
//	go generate ./internal/dashboards
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/step-metrics/step-metrics/internal/dashboards"
)

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	if err := dashboards.Write(*root); err != nil {
		fmt.Fprintln(os.Stderr, "generate dashboards:", err)
		os.Exit(1)
	}
}
