package step

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// testRegistry holds one metric of each common type, with fixed values.
func testRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	retries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "test_step_retries_total", Help: "Retries of a step.",
	}, []string{"step"})
	retries.WithLabelValues("train").Add(2)
	retries.WithLabelValues("evaluate").Add(0)
	duration := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "test_pipeline_duration_seconds", Help: "Wall time of the run.",
	})
	duration.Set(512.25)
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "test_step_duration_seconds", Help: "Step durations.", Buckets: []float64{1, 60, 3600},
	})
	hist.Observe(30)
	hist.Observe(90)
	reg.MustRegister(retries, duration, hist)
	return reg
}
