package metrics

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/step-metrics/step-metrics/pkg/custom"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

func TestCustomFamilies(t *testing.T) {
	run := &pipeline.Run{
		Engine: "argo", Name: "train-x7k2p", Pipeline: "train",
		Steps: []pipeline.Step{
			{ID: "n1", Name: "train", Template: "train", Attempt: -1, Outputs: map[string]string{
				"step-metrics": "# HELP training_seconds Time in fit().\ntraining_seconds 812.5\naccuracy{split=\"test\"} 0.93\n",
				"model-uri":    "s3://bucket/model", // not a metrics output
			}},
			{ID: "n2", Name: "evaluate", Template: "eval", Attempt: 1, Outputs: map[string]string{
				"step-metrics-eval": `{"accuracy": 0.91}`,
				"step-metrics":      "x{workflow_id=\"forged\"} 1\nteam_cost{team=\"a\"} 3\n",
			}},
			{ID: "n3", Name: "plain", Template: "plain", Attempt: -1},
		},
	}
	fams, warnings := CustomFamilies(run, Options{Labels: map[string]string{"team": "vision"}}, custom.DefaultLimits)
	var buf bytes.Buffer
	if err := WriteText(&buf, fams); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{
		"# HELP pipeline_custom_training_seconds Time in fit().",
		`pipeline_custom_training_seconds{engine="argo",node_id="n1",pipeline="train",step="train",team="vision",template="train",workflow="train-x7k2p"} 812.5`,
		`pipeline_custom_accuracy{engine="argo",node_id="n1",pipeline="train",split="test",step="train",team="vision",template="train",workflow="train-x7k2p"} 0.93`,
		`pipeline_custom_accuracy{attempt="1",engine="argo",node_id="n2",pipeline="train",step="evaluate",team="vision",template="eval",workflow="train-x7k2p"} 0.91`,
		"# HELP pipeline_custom_accuracy Custom metric published",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s\nin:\n%s", want, got)
		}
	}
	if strings.Contains(got, "forged") || strings.Contains(got, "s3://") || strings.Contains(got, "team_cost") {
		t.Errorf("forbidden content pushed:\n%s", got)
	}
	wantWarn := []string{`step "evaluate" (output step-metrics): metric "x": label "workflow_id" is reserved`, `metric "team_cost": label "team" is reserved`}
	if len(warnings) != len(wantWarn) {
		t.Fatalf("warnings %q", warnings)
	}
	for i, w := range wantWarn {
		if !strings.Contains(warnings[i], w) {
			t.Errorf("warning %q lacks %q", warnings[i], w)
		}
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	if _, err := p.TextToMetricFamilies(strings.NewReader(got)); err != nil {
		t.Errorf("exposition does not parse: %v", err)
	}
}

func TestCustomFamiliesRunLimit(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "m{i=\"%d\"} 1\n", i)
	}
	run := &pipeline.Run{Engine: "argo", Name: "w", Pipeline: "p"}
	for i := 0; i < 40; i++ {
		run.Steps = append(run.Steps, pipeline.Step{ID: "n" + strings.Repeat("i", i+1), Name: "s", Attempt: -1, Outputs: map[string]string{"step-metrics": b.String()}})
	}
	fams, warnings := CustomFamilies(run, Options{}, custom.DefaultLimits)
	n := 0
	for _, f := range fams {
		n += len(f.GetMetric())
	}
	if n != MaxCustomSamplesPerRun {
		t.Errorf("%d samples", n)
	}
	if len(warnings) == 0 || !strings.Contains(warnings[len(warnings)-1], "over the limit") {
		t.Errorf("no limit warning: %q", warnings)
	}
}
