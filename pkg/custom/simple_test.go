package custom

import (
	"math"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// FuzzSimpleSample holds the fast path to expfmt: a line it accepts is
// one sample expfmt reads with the same name, no labels and the same value.
func FuzzSimpleSample(f *testing.F) {
	for _, s := range []string{"acc 0.93", "a:b_c 1e3", "x\t+Inf", "x NaN", "x 0x1p3", "x 1_0", "x{a=\"b\"} 1", "x 1 1700000000", "1x 2", "x  -0.5", "x 1.", "x .5e-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		name, v, ok := simpleSample(line)
		if !ok {
			return
		}
		p := &parser{text: expfmt.NewTextParser(model.UTF8Validation)}
		fams, err := p.parseLines(line)
		if err != nil {
			t.Fatalf("simpleSample(%q) = %q, %v; expfmt refuses it: %v", line, name, v, err)
		}
		mf, found := fams[name]
		if len(fams) != 1 || !found || len(mf.GetMetric()) != 1 || len(mf.GetMetric()[0].GetLabel()) != 0 {
			t.Fatalf("simpleSample(%q) = %q; expfmt reads %v", line, name, fams)
		}
		if got := value(mf.GetMetric()[0]); got != v && !(math.IsNaN(got) && math.IsNaN(v)) {
			t.Fatalf("simpleSample(%q) = %v; expfmt reads %v", line, v, got)
		}
	})
}
