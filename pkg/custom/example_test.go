package custom_test

import (
	"fmt"
	"os"

	"github.com/step-metrics/step-metrics/pkg/custom"
	"github.com/step-metrics/step-metrics/pkg/schema"
)

// What a step wrote is read with the exit handler's limits and the reserved
// labels; what cannot be pushed is dropped, each with a warning.
func ExampleParse() {
	text := `# HELP accuracy Accuracy on C:\\data.
accuracy{split="test"} 0.93
pipeline_custom_training_seconds 812.5
forged{workflow_id="other"} 1
not a metric line
`
	samples, warnings := custom.Parse([]byte(text), custom.DefaultLimits, schema.IsReservedLabel)
	for _, s := range samples {
		fmt.Printf("%s %v %v help=%q\n", s.Name, s.Labels, s.Value, s.Help)
	}
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
	// Output:
	// accuracy [{split test}] 0.93 help="Accuracy on C:\\data."
	// training_seconds [] 812.5 help=""
	// warning: metric "forged": label "workflow_id" is reserved (set by step-metrics); dropped
	// warning: line 5: expected float as value, got "a"; dropped
}

// Write escapes as the text format says, so Parse (or any Prometheus
// parser) reads the values back unchanged.
func ExampleWrite() {
	_ = custom.Write(os.Stdout, []custom.Sample{
		{Name: "rows_read", Value: 1e6},
		{Name: "accuracy", Help: `On C:\data`, Labels: []custom.Label{{Name: "file", Value: `C:\data\"test".csv`}}, Value: 0.93},
	})
	// Output:
	// # HELP accuracy On C:\\data
	// # TYPE accuracy gauge
	// accuracy{file="C:\\data\\\"test\".csv"} 0.93
	// # TYPE rows_read gauge
	// rows_read 1e+06
}
