// Package sink says where step-metrics delivers metrics: a Sink takes the
// metric families of one group (a run's, or a step's own) under its
// grouping key and replaces what it held under that key.
//
// pkg/sink/pushgateway is the Sink for a Prometheus Pushgateway, with
// client_golang's Pusher as its transport. A second sink (Prometheus remote
// write, say) implements the same interface: it adds the key's labels to
// every series and stamps the samples with the time of the Write.
//
//	var s sink.Sink = pushgateway.New("http://pushgateway:9091", client, pushgateway.DefaultRetry)
//	err := s.Write(ctx, schema.RunKey(schema.DefaultJob, "ml", uid), fams)
package sink

import (
	"context"

	dto "github.com/prometheus/client_model/go"

	"github.com/step-metrics/step-metrics/pkg/schema"
)

// Sink is a destination of metrics, grouped by grouping key.
//
// Implementations are safe for concurrent use: several goroutines may
// Write at once, each call with its own retries, bounded by its ctx. A
// Write neither keeps nor changes fams after it returns.
type Sink interface {
	// Write replaces the group key identifies with fams. The key's labels
	// are part of every series' identity: fams must not carry them (the
	// Pushgateway refuses series that do). It retries what a retry can fix
	// within ctx's deadline and returns the last error, keeping its cause
	// (errors.As finds, say, an x509 error).
	Write(ctx context.Context, key schema.GroupingKey, fams []*dto.MetricFamily) error
}

// Deleter is a Sink that can delete a group as a whole (the Pushgateway
// can; remote write cannot, its series go stale instead). It is safe for
// concurrent use, as Sink is.
type Deleter interface {
	Sink
	// Delete removes the group key identifies; deleting a group that is
	// not there is not an error.
	Delete(ctx context.Context, key schema.GroupingKey) error
}
