package tekton

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/step-metrics/step-metrics/pkg/metrics"
	"github.com/step-metrics/step-metrics/pkg/pipeline"
)

// FuzzDecodeTekton does for Tekton input what FuzzDecodeArgo does: decode,
// the run model (as read plainly, and from a finally task with each
// $(tasks.status)), the metric families and the text exposition. Nothing
// panics, no duration is negative, errors and warnings are one line, and
// the exposition parses back.
func FuzzDecodeTekton(f *testing.F) {
	for _, pattern := range []string{"../../../testdata/tekton/*.yaml", "../../../testdata/tekton/generated/*.yaml", "../../../testdata/tekton/controller/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "{}", "[]", "null", "---", "kind: PipelineRun", "kind: List\nitems: [{kind: List}]",
		"kind: PipelineRun\nmetadata: {name: p}\nstatus: {conditions: [{type: Succeeded, status: 'False', reason: Failed}], startTime: '2026-01-01T00:00:10Z', completionTime: '2026-01-01T00:00:00Z'}",
		"kind: PipelineRun\nmetadata: {name: p}\nstatus: {childReferences: [{name: t}], skippedTasks: [{name: s}], taskRuns: {e: {status: {retriesStatus: [{}, {steps: [{}]}]}}}}\n---\nkind: TaskRun\nmetadata: {name: t}\nstatus: {steps: [{terminated: {exitCode: -1}}]}",
		`{"kind":"PipelineRun","metadata":{"name":"p","labels":{"a\"b":"\u0000\n"}},"status":{"childReferences":[{"name":"p","pipelineTaskName":"\u0000"}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, warnings, err := decode(data)
		_ = detect(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if tr == nil || tr.PipelineRun.Name == "" {
			t.Fatal("no error but no named PipelineRun")
		}
		for _, w := range warnings {
			if strings.Contains(w, "\n") {
				t.Fatalf("warning is not one line: %q", w)
			}
		}
		self := ""
		if len(tr.TaskRuns) > 0 {
			self = tr.TaskRuns[0].Name
		}
		for _, opts := range []options{{}, {Status: "Failed", SelfTaskRun: self}, {Status: "None", SelfTaskRun: self}, {Status: "Completed"}} {
			run := fromObjects(tr, opts)
			if run.Duration < 0 {
				t.Fatalf("negative run duration %v", run.Duration)
			}
			if run.Finished && run.Result == pipeline.ResultNone {
				t.Fatal("a duration without an outcome")
			}
			for _, w := range run.Warnings {
				if strings.Contains(w, "\n") {
					t.Fatalf("run warning is not one line: %q", w)
				}
			}
			for _, s := range run.Steps {
				if s.Duration < 0 {
					t.Fatalf("step %q: negative duration %v", s.ID, s.Duration)
				}
				if s.ID == self && self != "" && opts.SelfTaskRun == self {
					t.Fatalf("own TaskRun %q is a step", self)
				}
			}
			fams, err := metrics.Families(run, metrics.Options{})
			if err != nil {
				continue
			}
			var buf bytes.Buffer
			if err := metrics.WriteText(&buf, fams); err != nil {
				t.Fatalf("write: %v", err)
			}
			p := expfmt.NewTextParser(model.LegacyValidation)
			if _, err := p.TextToMetricFamilies(bytes.NewReader(buf.Bytes())); err != nil {
				t.Fatalf("exposition does not parse: %v\n%s", err, buf.String())
			}
		}
	})
}
