// Package step is the Go API for a pipeline step (an Argo or Tekton step
// written in Go) that reports metrics about itself: training time,
// accuracy, rows read. A Step wraps a *prometheus.Registry, so the step
// may register its own client_golang collectors (counters, gauge vectors,
// histograms) beside the convenience gauges Set, SetWithLabels and Time
// keep, and delivers them all in one of two ways:
//
//   - WriteFile writes them to the file the step declares as its output
//     parameter (Argo) or result (Tekton) named schema.OutputName; the exit
//     handler pushes them, in the run's group, as
//     schema.CustomPrefix + name with the run's and the step's labels. No
//     network from the step.
//   - Push sends them straight to a Pushgateway, in the step's own group
//     (schema.StepKey: job, namespace, workflow_id, step), beside, never
//     over, the run group the exit handler pushes; every series gets the
//     step's labels workflow, node_id and pod, and its name gets
//     schema.CustomPrefix, as the exit handler would give it.
//
// In a pod:
//
//	s := step.FromEnv()                 // identity and Pushgateway from the environment
//	defer s.Push(context.Background())  // fail-safe: a failure is a logged warning
//	defer s.Time("training_seconds")()  // monotonic wall time until return
//	s.Set("accuracy", 0.93)             // pipeline_custom_accuracy
//
//	rows := prometheus.NewCounter(prometheus.CounterOpts{Name: "rows_read_total", Help: "Rows read."})
//	s.Registry().MustRegister(rows)     // pushed as pipeline_custom_rows_read_total
//
// Everything is fail-safe: a metric the exit handler would drop is refused
// with a logged warning and an error, a failed push or write is logged and
// returned, and nothing panics or exits, so a metrics outage cannot fail
// the step. FromEnv is the one place that reads the environment.
package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/step-metrics/step-metrics/internal/atomicfile"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/step-metrics/step-metrics/pkg/custom"
	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/schema"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"
)

// ServiceAccountNamespaceFile holds the pod's namespace when its service
// account token is mounted: InfoFromEnv's fallback when no variable names
// the namespace.
const ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Info identifies the step a process runs in. Workflow, NodeID and Pod
// become labels of every pushed series; Namespace, WorkflowUID and Step
// are the step group's grouping key, with the job.
type Info struct {
	// Workflow is the workflow's name (label workflow).
	Workflow string
	// WorkflowUID is the workflow's UID, the group's workflow_id; Push
	// falls back to Workflow when it is empty.
	WorkflowUID string
	// Namespace is the workflow's namespace.
	Namespace string
	// Step names the step (grouping label step); Push falls back to
	// NodeID, then Pod, so two steps never share a group.
	Step string
	// NodeID is the engine's node ID of the step (label node_id).
	NodeID string
	// Pod is the step's pod name (label pod).
	Pod string
}

// InfoFromEnv reads a step's identity from environment variables (getenv,
// usually os.Getenv), first found wins:
//
//	Workflow     STEP_METRICS_WORKFLOW, ARGO_WORKFLOW_NAME
//	WorkflowUID  STEP_METRICS_WORKFLOW_UID, ARGO_WORKFLOW_UID
//	Namespace    STEP_METRICS_NAMESPACE, POD_NAMESPACE, then the service
//	             account's namespace file (read with readFile; nil skips it)
//	Step         STEP_METRICS_STEP
//	NodeID       STEP_METRICS_NODE_ID, ARGO_NODE_ID
//	Pod          STEP_METRICS_POD, POD_NAME, ARGO_POD_NAME, then HOSTNAME
//	             inside Kubernetes (KUBERNETES_SERVICE_HOST set)
//
// Argo v3.7 gives a step's main container ARGO_NODE_ID only (the ARGO_
// workflow and pod variables are its executor's), so a template that pushes
// directly sets the rest from Argo's variables:
//
//	env:
//	  - {name: STEP_METRICS_WORKFLOW, value: "{{workflow.name}}"}
//	  - {name: STEP_METRICS_WORKFLOW_UID, value: "{{workflow.uid}}"}
//	  - {name: STEP_METRICS_NAMESPACE, value: "{{workflow.namespace}}"}
//	  - {name: STEP_METRICS_STEP, value: train}
func InfoFromEnv(getenv func(string) string, readFile func(string) ([]byte, error)) Info {
	first := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return v
			}
		}
		return ""
	}
	i := Info{
		Workflow:    first("STEP_METRICS_WORKFLOW", "ARGO_WORKFLOW_NAME"),
		WorkflowUID: first("STEP_METRICS_WORKFLOW_UID", "ARGO_WORKFLOW_UID"),
		Namespace:   first("STEP_METRICS_NAMESPACE", "POD_NAMESPACE"),
		Step:        first("STEP_METRICS_STEP"),
		NodeID:      first("STEP_METRICS_NODE_ID", "ARGO_NODE_ID"),
		Pod:         first("STEP_METRICS_POD", "POD_NAME", "ARGO_POD_NAME"),
	}
	if i.Pod == "" && getenv("KUBERNETES_SERVICE_HOST") != "" {
		i.Pod = first("HOSTNAME")
	}
	if i.Namespace == "" && readFile != nil {
		if b, err := readFile(ServiceAccountNamespaceFile); err == nil {
			i.Namespace = strings.TrimSpace(string(b))
		}
	}
	return i
}

// Step collects the metrics one pipeline step reports about itself and
// delivers them with Push or WriteFile (see the package documentation).
//
// Its metrics are the convenience gauges (Set, SetWithLabels, Time) and
// whatever the step registers in Registry. Both obey the exit handler's
// rules (custom.Parse with custom.DefaultLimits and schema.ReservedLabels):
// names [a-zA-Z_][a-zA-Z0-9_]*, given without schema.CustomPrefix (a
// leading one is ignored), none of the reserved labels (the step's
// identity, step-metrics' own labels, le and quantile), finite values, at
// most custom.DefaultLimits.MaxSamples series. Set refuses a gauge that
// breaks them at once; a registered collector's series that breaks them
// is left out of Push and WriteFile with a logged warning.
//
// Its methods are safe for concurrent use; set the exported fields before
// the first Push. The zero value is an empty Step with no identity.
type Step struct {
	// Info says who the step is.
	Info Info
	// URL is the Pushgateway's base URL; Push without one logs and returns
	// an error.
	URL string
	// Job is the group's job label; empty means schema.DefaultJob.
	Job string
	// Client sends the push (see httpclient.New); nil means
	// http.DefaultClient.
	Client *http.Client
	// Retry bounds the attempts; the zero value means
	// pushgateway.DefaultRetry.
	Retry pushgateway.Retry
	// Timeout bounds Push, retries included; zero means 10s.
	Timeout time.Duration
	// Logger receives the fail-safe warnings; nil means slog.Default().
	Logger *slog.Logger
	// File, when set, makes Push write the metrics there (see WriteFile)
	// instead of pushing them. FromEnv sets it from STEP_METRICS_FILE,
	// which `step-metrics run` gives its command: the wrapper then merges
	// them with its own and delivers them all, to its output file or to the
	// step's group, which a push from the command would otherwise race.
	File string

	clientErr error // from FromEnv's client set-up, reported by Push

	mu      sync.Mutex
	reg     *prometheus.Registry // the user's collectors
	own     *prometheus.Registry // the convenience gauges
	seq     int
	samples map[string]*entry
	help    map[string]string
}

type entry struct {
	custom.Sample
	seq int // when the series was first set: WriteFile keeps the earliest
}

// New returns an empty Step for info, with a fresh registry.
func New(info Info) *Step {
	return NewWithRegistry(info, nil)
}

// NewWithRegistry returns an empty Step for info whose Registry is reg, a
// registry the program already has its metrics in (nil: a fresh one).
func NewWithRegistry(info Info, reg *prometheus.Registry) *Step {
	s := &Step{Info: info, reg: reg}
	s.mu.Lock()
	s.initLocked()
	s.mu.Unlock()
	return s
}

func (s *Step) initLocked() {
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	if s.own == nil {
		s.own = prometheus.NewRegistry()
		s.own.MustRegister(gauges{s})
	}
	if s.samples == nil {
		s.samples, s.help = map[string]*entry{}, map[string]string{}
	}
}

// FromEnv returns a Step whose identity comes from InfoFromEnv(os.Getenv,
// os.ReadFile), whose File is STEP_METRICS_FILE (set under `step-metrics
// run`), and whose Pushgateway settings come from the variables the CLI's
// flags read: STEP_METRICS_PUSHGATEWAY (or PUSHGATEWAY_URL),
// STEP_METRICS_JOB, STEP_METRICS_TIMEOUT, and the TLS and auth files
// STEP_METRICS_CA_FILE, _CERT_FILE, _KEY_FILE, _TLS_SERVER_NAME,
// _BEARER_TOKEN_FILE, _USERNAME, _PASSWORD_FILE, _HEADER (one "Name:
// value" per line). It never fails: a bad setting is logged, and reported
// again by Push.
func FromEnv() *Step {
	return fromEnv(os.Getenv, os.ReadFile)
}

func fromEnv(getenv func(string) string, readFile func(string) ([]byte, error)) *Step {
	s := New(InfoFromEnv(getenv, readFile))
	env := func(name string) string { return strings.TrimSpace(getenv("STEP_METRICS_" + name)) }
	s.File = env("FILE")
	s.URL = env("PUSHGATEWAY")
	if s.URL == "" {
		s.URL = strings.TrimSpace(getenv("PUSHGATEWAY_URL"))
	}
	s.Job = env("JOB")
	if v := env("TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			s.logger().Warn("ignoring STEP_METRICS_TIMEOUT: want a positive duration such as 10s", "value", v)
		} else {
			s.Timeout = d
		}
	}
	if s.URL == "" {
		return s
	}
	cfg := httpclient.Config{
		CAFile: env("CA_FILE"), CertFile: env("CERT_FILE"), KeyFile: env("KEY_FILE"), ServerName: env("TLS_SERVER_NAME"),
		BearerTokenFile: env("BEARER_TOKEN_FILE"), Username: env("USERNAME"), PasswordFile: env("PASSWORD_FILE"),
		Headers: http.Header{},
	}
	for _, line := range strings.Split(getenv("STEP_METRICS_HEADER"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, err := httpclient.ParseHeader(line)
		if err != nil {
			s.clientErr = fmt.Errorf("STEP_METRICS_HEADER: %w", err)
			break
		}
		cfg.Headers.Add(name, value)
	}
	if s.clientErr == nil {
		s.Client, s.clientErr = httpclient.New(cfg)
	}
	if s.clientErr != nil {
		s.logger().Warn("cannot set up the Pushgateway client; metrics will not be pushed", "err", s.clientErr)
	}
	return s
}

func (s *Step) logger() *slog.Logger {
	if s != nil && s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Registry returns the registry the step's own collectors go in: what is
// registered there is pushed and written with the convenience gauges,
// named and labelled the same way (see Gather and WriteFile). Register
// collectors without the step's labels (workflow, node_id, pod: Push adds
// them) and without schema.CustomPrefix (added too). On a nil Step it
// returns a registry nobody reads.
func (s *Step) Registry() *prometheus.Registry {
	if s == nil {
		return prometheus.NewRegistry()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	return s.reg
}

// Set sets the gauge name (without schema.CustomPrefix, which is added when
// the metrics are pushed) to value. A name the exit handler would drop
// (not [a-zA-Z_][a-zA-Z0-9_]*, too long, "__" first), a value that is not
// finite, or a series beyond the exit handler's sample limit is refused:
// Set logs a warning and returns the error; nothing panics.
func (s *Step) Set(name string, value float64) error {
	return s.SetWithLabels(name, nil, value)
}

// SetWithLabels is Set for one series of name with labels; an empty value
// is no label, as in Prometheus. Labels may not be reserved ones (see
// schema.ReservedLabels): the step's identity is added by Push, or by the
// exit handler.
func (s *Step) SetWithLabels(name string, labels map[string]string, value float64) error {
	if err := s.set(name, labels, value); err != nil {
		s.logger().Warn("metric not recorded", "metric", name, "err", err)
		return err
	}
	return nil
}

func (s *Step) set(name string, labels map[string]string, value float64) error {
	if s == nil {
		return errors.New("nil Step")
	}
	if !schema.ValidName(baseName(name)) {
		return fmt.Errorf("metric name %q is not a valid Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*)", name)
	}
	ls := make([]custom.Label, 0, len(labels))
	for k, v := range labels {
		if !schema.ValidName(k) {
			return fmt.Errorf("metric %q: label name %q is not a valid Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*)", name, k)
		}
		if v != "" {
			ls = append(ls, custom.Label{Name: k, Value: v})
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	smp, err := check(custom.Sample{Name: name, Labels: ls, Value: value})
	if err != nil {
		return err
	}
	key := seriesKey(smp)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if e, ok := s.samples[key]; ok {
		e.Value = smp.Value
		return nil
	}
	if limit := custom.DefaultLimits.MaxSamples; len(s.samples) >= limit {
		return fmt.Errorf("metric %q: the step already has %d series, the most the exit handler reads", name, limit)
	}
	s.seq++
	s.samples[key] = &entry{Sample: smp, seq: s.seq}
	return nil
}

// check returns smp as the exit handler reads it back (written with
// custom.Write, read with custom.Parse), or why it would drop it: a name or
// label that smuggles text format syntax in reads back as something else.
func check(smp custom.Sample) (custom.Sample, error) {
	smp.Help = ""
	var b bytes.Buffer
	if err := custom.Write(&b, []custom.Sample{smp}); err != nil {
		return custom.Sample{}, err
	}
	got, warnings := custom.Parse(b.Bytes(), custom.DefaultLimits, schema.IsReservedLabel)
	if len(warnings) > 0 {
		return custom.Sample{}, errors.New(strings.Join(warnings, "; "))
	}
	if len(got) != 1 || !sameSeries(got[0], baseName(smp.Name), smp.Labels) {
		return custom.Sample{}, fmt.Errorf("metric %q: not a valid metric name ([a-zA-Z_][a-zA-Z0-9_]*) or label set", smp.Name)
	}
	return got[0], nil
}

// Describe sets the HELP text of the convenience gauge name (one line;
// pushed and written with the metric). Without one, schema.CustomHelp is
// pushed. A registered collector's HELP is its own.
func (s *Step) Describe(name, help string) {
	help = strings.Join(strings.Fields(help), " ")
	if len(help) > 300 {
		help = strings.ToValidUTF8(help[:300], "")
	}
	name = baseName(name)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	s.help[name] = help
}

// Time starts a timer and returns the function that stops it and sets name
// to the elapsed seconds, measured on the monotonic clock (so never
// negative, whatever the wall clock does):
//
//	defer s.Time("training_seconds")()
//
// Calling the returned function again sets the time up to then.
func (s *Step) Time(name string) (stop func()) {
	start := time.Now()
	return func() {
		d := time.Since(start)
		if d < 0 {
			d = 0
		}
		_ = s.Set(name, d.Seconds())
	}
}

// Samples returns the step's series as WriteFile writes them (without
// schema.CustomPrefix and without the step's labels), sorted by name and
// labels: the convenience gauges, then the registry's series (a histogram
// or summary as its _sum and _count) that obey the exit handler's rules.
func (s *Step) Samples() []custom.Sample {
	if s == nil {
		return nil
	}
	out, _ := s.fileSamples()
	help := s.helpTexts(out)
	for i := range out {
		out[i].Help = help[out[i].Name]
	}
	sortSamples(out)
	return out
}

// Target returns where Push sends the step's metrics: the group
// schema.StepKey of the job, the namespace, the workflow ID (WorkflowUID,
// else the workflow's name) and the step (Step, else NodeID, else Pod). It
// fails without a workflow ID or a step.
func (s *Step) Target() (pushgateway.Target, error) {
	job := s.Job
	if job == "" {
		job = schema.DefaultJob
	}
	id := s.Info.WorkflowUID
	if id == "" {
		id = s.Info.Workflow
	}
	if id == "" {
		return pushgateway.Target{}, errors.New("no workflow ID: set STEP_METRICS_WORKFLOW_UID to {{workflow.uid}} (or STEP_METRICS_WORKFLOW to {{workflow.name}})")
	}
	step := s.Info.Step
	for _, alt := range []string{s.Info.NodeID, s.Info.Pod} {
		if step == "" {
			step = alt
		}
	}
	if step == "" {
		return pushgateway.Target{}, errors.New("no step name: set STEP_METRICS_STEP")
	}
	return pushgateway.TargetOf(s.URL, schema.StepKey(job, s.Info.Namespace, id, step)), nil
}

// Gather returns the step's metrics as Push sends them: the convenience
// gauges and the registry's metrics, each named schema.CustomPrefix+name,
// with the labels workflow, node_id and pod (those known) besides its own,
// and without timestamps (the Pushgateway refuses them). Histograms and
// summaries stay whole. A series that breaks the exit handler's rules,
// one beyond custom.DefaultLimits.MaxSamples, or one the registries could
// not gather consistently is left out and reported in the error, with the
// rest returned. It implements prometheus.Gatherer.
func (s *Step) Gather() ([]*dto.MetricFamily, error) {
	if s == nil {
		return nil, nil
	}
	fams, problems := s.pushFamilies()
	return fams, errors.Join(problems...)
}

var _ prometheus.Gatherer = (*Step)(nil)

func (s *Step) registries() (own, user *prometheus.Registry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	return s.own, s.reg
}

// gather gathers the user's registry and, withOwn, the convenience
// gauges; the problems are the metrics they could not give.
func (s *Step) gather(withOwn bool) ([]*dto.MetricFamily, []error) {
	own, user := s.registries()
	g := prometheus.Gatherers{user}
	if withOwn {
		g = prometheus.Gatherers{own, user}
	}
	fams, err := g.Gather()
	var problems []error
	var multi prometheus.MultiError
	if errors.As(err, &multi) {
		problems = append(problems, multi...)
	} else if err != nil {
		problems = append(problems, err)
	}
	return fams, problems
}

func (s *Step) pushFamilies() ([]*dto.MetricFamily, []error) {
	fams, problems := s.gather(true)
	var auto []*dto.LabelPair
	for _, l := range []custom.Label{{Name: schema.LabelNodeID, Value: s.Info.NodeID}, {Name: schema.LabelPod, Value: s.Info.Pod}, {Name: schema.LabelWorkflow, Value: s.Info.Workflow}} {
		if l.Value != "" {
			auto = append(auto, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
		}
	}
	// Names with and without the prefix become one family.
	byName := map[string]*dto.MetricFamily{}
	seen := map[string]bool{}
	var out []*dto.MetricFamily
	total, over := 0, 0
	for _, mf := range fams {
		base := baseName(mf.GetName())
		name := schema.CustomPrefix + base
		f := byName[name]
		if f != nil && f.GetType() != mf.GetType() {
			problems = append(problems, fmt.Errorf("metric %s: %s and %s are both a %s and a %s; the second is not pushed", name, f.GetName(), mf.GetName(), f.GetType(), mf.GetType()))
			continue
		}
		if f == nil {
			help := mf.GetHelp()
			if help == "" {
				help = schema.CustomHelp
			}
			f = &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: mf.Type, Unit: mf.Unit}
			byName[name] = f
			out = append(out, f)
		}
		for _, m := range mf.GetMetric() {
			if err := checkMetric(base, mf.GetType(), m); err != nil {
				problems = append(problems, err)
				continue
			}
			key := name
			for _, lp := range m.GetLabel() {
				key += "\x00" + lp.GetName() + "\x00" + lp.GetValue()
			}
			if seen[key] {
				problems = append(problems, fmt.Errorf("metric %s: series %v given twice; the first is pushed", name, m.GetLabel()))
				continue
			}
			seen[key] = true
			if total >= custom.DefaultLimits.MaxSamples {
				over++
				continue
			}
			total++
			c := proto.Clone(m).(*dto.Metric)
			c.TimestampMs = nil
			c.Label = append(c.Label, auto...)
			sort.Slice(c.Label, func(i, j int) bool { return c.Label[i].GetName() < c.Label[j].GetName() })
			f.Metric = append(f.Metric, c)
		}
	}
	kept := out[:0]
	for _, f := range out {
		if len(f.Metric) > 0 {
			kept = append(kept, f)
		}
	}
	out = kept
	if over > 0 {
		problems = append(problems, fmt.Errorf("%d series over the limit of %d per step are not pushed", over, custom.DefaultLimits.MaxSamples))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, problems
}

// checkMetric says why the exit handler would drop the series m of the
// family base, or nil.
func checkMetric(base string, t dto.MetricType, m *dto.Metric) error {
	for _, smp := range flatten(base, t, m) {
		if _, err := check(smp); err != nil {
			return err
		}
	}
	return nil
}

// flatten returns the samples a series is written to the file as: its
// value for a gauge, counter or untyped series; _sum and _count for a
// histogram or a summary (its buckets and quantiles would need the
// reserved labels le and quantile, which the exit handler drops).
func flatten(base string, t dto.MetricType, m *dto.Metric) []custom.Sample {
	var labels []custom.Label
	for _, lp := range m.GetLabel() {
		labels = append(labels, custom.Label{Name: lp.GetName(), Value: lp.GetValue()})
	}
	one := func(name string, v float64) custom.Sample {
		return custom.Sample{Name: name, Labels: append([]custom.Label(nil), labels...), Value: v}
	}
	switch t {
	case dto.MetricType_GAUGE:
		return []custom.Sample{one(base, m.GetGauge().GetValue())}
	case dto.MetricType_COUNTER:
		return []custom.Sample{one(base, m.GetCounter().GetValue())}
	case dto.MetricType_UNTYPED:
		return []custom.Sample{one(base, m.GetUntyped().GetValue())}
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		h := m.GetHistogram()
		count := float64(h.GetSampleCount())
		if h.SampleCountFloat != nil {
			count = h.GetSampleCountFloat()
		}
		return []custom.Sample{one(base+"_sum", h.GetSampleSum()), one(base+"_count", count)}
	case dto.MetricType_SUMMARY:
		sm := m.GetSummary()
		return []custom.Sample{one(base+"_sum", sm.GetSampleSum()), one(base+"_count", float64(sm.GetSampleCount()))}
	}
	return []custom.Sample{one(base, math.NaN())} // refused by check
}

// fileSamples returns the step's samples for the file: the convenience
// gauges in the order they were first set, then the registry's series,
// flattened, sorted, each with its family's HELP. The problems are the
// series left out.
func (s *Step) fileSamples() ([]custom.Sample, []error) {
	fams, problems := s.gather(false)
	s.mu.Lock()
	mine := make([]*entry, 0, len(s.samples))
	for _, e := range s.samples {
		mine = append(mine, e)
	}
	s.mu.Unlock()
	sort.Slice(mine, func(i, j int) bool { return mine[i].seq < mine[j].seq })
	out := make([]custom.Sample, 0, len(mine))
	seen := map[string]bool{}
	for _, e := range mine {
		out = append(out, e.Sample)
		seen[seriesKey(e.Sample)] = true
	}
	var theirs []custom.Sample
	for _, mf := range fams {
		base := baseName(mf.GetName())
		for _, m := range mf.GetMetric() {
			var ok []custom.Sample
			var err error
			for _, smp := range flatten(base, mf.GetType(), m) {
				var got custom.Sample
				if got, err = check(smp); err != nil {
					break
				}
				got.Help = mf.GetHelp()
				ok = append(ok, got)
			}
			if err != nil {
				problems = append(problems, err)
				continue
			}
			theirs = append(theirs, ok...)
		}
	}
	sortSamples(theirs)
	for _, smp := range theirs {
		if k := seriesKey(smp); !seen[k] {
			seen[k] = true
			out = append(out, smp)
		}
	}
	return out, problems
}

// helpTexts returns the HELP of each name of samples: Describe's, else the
// first the samples carry.
func (s *Step) helpTexts(samples []custom.Sample) map[string]string {
	help := map[string]string{}
	s.mu.Lock()
	for k, v := range s.help {
		help[k] = v
	}
	s.mu.Unlock()
	for _, smp := range samples {
		if _, ok := help[smp.Name]; !ok && smp.Help != "" {
			help[smp.Name] = smp.Help
		}
	}
	return help
}

// Push replaces the step's group (see Target) with its metrics (see
// Gather), in one HTTP PUT under Timeout through
// pushgateway.Push, retried as Retry says; with File set, it calls
// WriteFile(File) instead. It is fail-safe: any failure (no URL, no
// workflow ID, a client that could not be set up, the Pushgateway down or
// refusing) is logged as a warning and returned, for callers that want
// it; nothing panics or exits. A series Gather leaves out is a warning,
// not a failure: the rest are pushed. Use it with defer:
//
//	defer s.Push(context.Background())
func (s *Step) Push(ctx context.Context) error {
	if s == nil {
		return errors.New("nil Step")
	}
	if s.File != "" {
		s.logger().Debug("under step-metrics run: writing the metrics for the wrapper", "file", s.File)
		return s.WriteFile(s.File)
	}
	err := s.push(ctx)
	if err != nil {
		s.logger().Warn("step metrics not pushed; the step goes on", "err", err)
	}
	return err
}

func (s *Step) push(ctx context.Context) error {
	if s.clientErr != nil {
		return fmt.Errorf("set up the Pushgateway client: %w", s.clientErr)
	}
	if s.URL == "" {
		return errors.New("no Pushgateway URL (set STEP_METRICS_PUSHGATEWAY or PUSHGATEWAY_URL)")
	}
	t, err := s.Target()
	if err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	retry := s.Retry
	if retry.MaxAttempts == 0 {
		retry = pushgateway.DefaultRetry
	}
	fams, problems := s.pushFamilies()
	for _, p := range problems {
		s.logger().Warn("step metric not pushed", "err", p)
	}
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return fams, nil })
	start := time.Now()
	if s.Client != nil {
		err = pushgateway.Push(ctx, t, g, s.Client, retry)
	} else {
		err = pushgateway.Push(ctx, t, g, nil, retry) // a nil *http.Client would be a non-nil HTTPDoer
	}
	if err != nil {
		return err
	}
	series := 0
	for _, f := range fams {
		series += len(f.GetMetric())
	}
	s.logger().Debug("step metrics pushed", "group", pushgateway.Group(t), "series", series, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// WriteFile writes the step's metrics to path for the exit handler, with
// custom.Write (the Prometheus text format, escaped as expfmt escapes it),
// without schema.CustomPrefix and without the step's labels (the exit
// handler adds both): `training_seconds 812.5`. A registered histogram or
// summary is written as its _sum and _count: the exit handler reads plain
// values only (buckets and quantiles would need the reserved labels le and
// quantile); Push sends it whole.
//
// It merges: what path already holds (the text format or a JSON object,
// read as the exit handler reads it, say lines a wrapped command appended)
// is kept, except the series the Step has, whose values replace it. The
// result is written to a temporary file in path's directory and renamed
// over path, so a reader never sees half a file and writing twice never
// duplicates a line. It is not safe against another process writing path
// at the same moment. Should the text exceed what the exit handler reads
// (custom.DefaultLimits.MaxSamples series, MaxBytes bytes), the
// convenience gauges go first, in the order they were first set, then the
// registry's series, then the file's others; what does not fit is left out
// with a warning.
//
// Failures are logged as warnings and returned; nothing panics.
func (s *Step) WriteFile(path string) error {
	if s == nil {
		return errors.New("nil Step")
	}
	err := s.writeFile(path)
	if err != nil {
		s.logger().Warn("step metrics not written", "file", path, "err", err)
	}
	return err
}

func (s *Step) writeFile(path string) error {
	if path == "" {
		return errors.New("no file name")
	}
	keep, problems := s.fileSamples()
	for _, p := range problems {
		s.logger().Warn("step metric not written", "file", path, "err", p)
	}
	seen := map[string]bool{}
	for _, smp := range keep {
		seen[seriesKey(smp)] = true
	}
	old, err := readExisting(path)
	if err != nil {
		return err
	}
	if len(old) > 0 {
		got, warnings := custom.Parse(old, custom.DefaultLimits, schema.IsReservedLabel)
		for _, w := range warnings {
			s.logger().Warn("existing metrics file: "+w, "file", path)
		}
		for _, smp := range got {
			if !seen[seriesKey(smp)] {
				keep = append(keep, smp)
				seen[seriesKey(smp)] = true
			}
		}
	}
	help := s.helpTexts(keep)
	for i := range keep {
		keep[i].Help = help[keep[i].Name]
	}
	if limit := custom.DefaultLimits.MaxSamples; len(keep) > limit {
		s.logger().Warn(fmt.Sprintf("%d series exceed the exit handler's limit of %d; the last are not written", len(keep), limit), "file", path)
		keep = keep[:limit]
	}
	text, err := render(keep)
	if err != nil {
		return err
	}
	if limit := custom.DefaultLimits.MaxBytes; len(text) > limit {
		n := len(keep)
		// The longest prefix of keep whose text fits.
		fit := sort.Search(n+1, func(i int) bool {
			b, _ := render(keep[:i])
			return len(b) > limit
		}) - 1
		keep = keep[:fit]
		s.logger().Warn(fmt.Sprintf("the metrics text would exceed the exit handler's limit of %d bytes; %d series are not written", limit, n-fit), "file", path)
		if text, err = render(keep); err != nil {
			return err
		}
	}
	return atomicfile.Write(path, bytes.NewReader(text), 0o644)
}

func render(samples []custom.Sample) ([]byte, error) {
	var b bytes.Buffer
	err := custom.Write(&b, samples)
	return b.Bytes(), err
}

// readExisting returns path's content, at most one byte over what the
// exit handler reads (which then refuses it whole), or nothing when there
// is no file.
//
// It never blocks: the file is opened with O_NONBLOCK (where there is
// one) and refused unless it is a regular file, so a FIFO or a device put
// at the path cannot hang the step.
func readExisting(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlock, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	return io.ReadAll(io.LimitReader(f, int64(custom.DefaultLimits.MaxBytes)+1))
}

// gauges is the collector of a Step's convenience gauges. It describes
// nothing (an unchecked collector): its names and labels change as the
// step sets them.
type gauges struct{ s *Step }

func (gauges) Describe(chan<- *prometheus.Desc) {}

func (g gauges) Collect(ch chan<- prometheus.Metric) {
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	for _, e := range g.s.samples {
		names := make([]string, len(e.Labels))
		values := make([]string, len(e.Labels))
		for i, l := range e.Labels {
			names[i], values[i] = l.Name, l.Value
		}
		desc := prometheus.NewDesc(e.Name, g.s.help[e.Name], names, nil)
		m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, e.Value, values...)
		if err != nil {
			m = prometheus.NewInvalidMetric(desc, err)
		}
		ch <- m
	}
}

// baseName is name without schema.CustomPrefix, however often it is there.
func baseName(name string) string {
	for strings.HasPrefix(name, schema.CustomPrefix) {
		name = name[len(schema.CustomPrefix):]
	}
	return name
}

// sameSeries reports whether smp is the series name{ls}.
func sameSeries(smp custom.Sample, name string, ls []custom.Label) bool {
	if smp.Name != name || len(smp.Labels) != len(ls) {
		return false
	}
	for i, l := range ls {
		if smp.Labels[i] != l {
			return false
		}
	}
	return true
}

func seriesKey(smp custom.Sample) string {
	var b strings.Builder
	b.WriteString(smp.Name)
	for _, l := range smp.Labels {
		b.WriteByte(0)
		b.WriteString(l.Name)
		b.WriteByte(0)
		b.WriteString(l.Value)
	}
	return b.String()
}

func sortSamples(s []custom.Sample) {
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Name != s[j].Name {
			return s[i].Name < s[j].Name
		}
		return seriesKey(s[i]) < seriesKey(s[j])
	})
}
