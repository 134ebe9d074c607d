package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/schema"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/step-metrics/step-metrics/pkg/custom"
)

// ServiceAccountNamespaceFile holds the pod's namespace when its service
// account token is mounted: StepInfoFromEnv's fallback when no variable
// names the namespace.
const ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// StepInfo identifies the step a process runs in. Workflow, NodeID and Pod
// become labels of every pushed series; Namespace, WorkflowUID and Step are
// the group's grouping key, with the job.
type StepInfo struct {
	// Workflow is the workflow's name (label workflow).
	Workflow string
	// WorkflowUID is the workflow's UID, the run group's workflow_id; pushgateway.Push
	// falls back to Workflow when it is empty.
	WorkflowUID string
	// Namespace is the workflow's namespace.
	Namespace string
	// Step names the step (grouping label step); pushgateway.Push falls back to NodeID,
	// then Pod, so two steps never share a group.
	Step string
	// NodeID is the engine's node ID of the step (label node_id).
	NodeID string
	// Pod is the step's pod name (label pod).
	Pod string
}

// StepInfoFromEnv reads a step's identity from environment variables
// (getenv, usually os.Getenv), first found wins:
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
func StepInfoFromEnv(getenv func(string) string, readFile func(string) ([]byte, error)) StepInfo {
	first := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return v
			}
		}
		return ""
	}
	i := StepInfo{
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

// stepHelp is the HELP of a custom metric without one; the exit handler
// uses the same text, so the Pushgateway sees one HELP per name.
const stepHelp = "Custom metric published by a pipeline step (step-metrics output convention)."

// reservedStepLabels are the labels a step may not set itself: its identity
// (set by pushgateway.Push or the exit handler), step-metrics' own labels, and the
// Pushgateway's.
var reservedStepLabels = map[string]bool{
	"job": true, "instance": true, "namespace": true, "workflow_id": true,
	"workflow": true, "step": true, "node_id": true, "pod": true,
	"engine": true, "pipeline": true, "template": true, "node": true, "attempt": true,
	"result": true, "phase": true, "resource": true, "le": true, "quantile": true,
}

// IsReservedStepLabel reports whether a step may not set label name on its
// own metrics.
func IsReservedStepLabel(name string) bool { return reservedStepLabels[name] }

// Step collects the metrics one pipeline step reports about itself
// (training time, accuracy, throughput) and delivers them in one of two
// ways:
//
//   - WriteFile writes them for the exit handler: the step declares the file
//     as an output parameter named custom.OutputName ("step-metrics"), and the
//     exit handler pushes its lines as custom.Prefix+name with the run's and
//     the step's labels, in the run's own group. No network from the step.
//   - pushgateway.Push sends them straight to a Pushgateway, in the step's own group
//     (job, namespace, workflow_id, step), beside, never over, the run group
//     the exit handler pushes (job, namespace, workflow_id).
//
// Both are fail-safe: a failure is logged and returned, never a panic or an
// exit, so a metrics outage cannot fail the step. StepFromEnv is the one
// place in this package that reads the environment: the Go API runs inside
// the user's program, whose environment (set by Argo and the pod's downward
// API) is where a step learns who it is.
//
// Its methods are safe for concurrent use; set the exported fields before
// the first pushgateway.Push.
type Step struct {
	// Info says who the step is.
	Info StepInfo
	// URL is the Pushgateway's base URL; pushgateway.Push without one logs and returns
	// an error.
	URL string
	// Job is the group's job label; empty means schema.DefaultJob.
	Job string
	// Client sends the push (see NewClient); nil means http.DefaultClient.
	Client *http.Client
	// pushgateway.Retry bounds the attempts; the zero value means pushgateway.DefaultRetry.
	Retry pushgateway.Retry
	// Timeout bounds Push, retries included; zero means 10s.
	Timeout time.Duration
	// Logger receives the fail-safe warnings; nil means slog.Default().
	Logger *slog.Logger
	// File, when set, makes pushgateway.Push write the metrics there (see WriteFile)
	// instead of pushing them. StepFromEnv sets it from STEP_METRICS_FILE,
	// which `step-metrics run` gives its command: the wrapper then merges
	// them with its own and delivers them all, to its output file or to the
	// step's group, which a push from the command would otherwise race.
	File string

	clientErr error // from StepFromEnv's client set-up, reported by pushgateway.Push

	mu      sync.Mutex
	seq     int
	samples map[string]*entry
	help    map[string]string
}

type entry struct {
	custom.Sample
	seq int // when the series was first set: WriteFile keeps the earliest
}

// NewStep returns an empty Step for info.
func NewStep(info StepInfo) *Step {
	return &Step{Info: info, samples: map[string]*entry{}, help: map[string]string{}}
}

// StepFromEnv returns a Step whose identity comes from StepInfoFromEnv,
// whose File is STEP_METRICS_FILE (set under `step-metrics run`), and
// whose Pushgateway settings come from the variables the CLI's flags read:
// STEP_METRICS_PUSHGATEWAY (or PUSHGATEWAY_URL), STEP_METRICS_JOB,
// STEP_METRICS_TIMEOUT, and the TLS and auth files STEP_METRICS_CA_FILE,
// _CERT_FILE, _KEY_FILE, _TLS_SERVER_NAME, _BEARER_TOKEN_FILE, _USERNAME,
// _PASSWORD_FILE, _HEADER (one "Name: value" per line). It never fails: a
// bad setting is logged, and reported again by pushgateway.Push.
func StepFromEnv() *Step {
	s := NewStep(StepInfoFromEnv(os.Getenv, os.ReadFile))
	env := func(name string) string { return strings.TrimSpace(os.Getenv("STEP_METRICS_" + name)) }
	s.File = env("FILE")
	s.URL = env("PUSHGATEWAY")
	if s.URL == "" {
		s.URL = strings.TrimSpace(os.Getenv("PUSHGATEWAY_URL"))
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
	for _, line := range strings.Split(os.Getenv("STEP_METRICS_HEADER"), "\n") {
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

// Set sets the gauge name (without custom.Prefix, which is added when the
// metrics are pushed) to value. A name the exit handler would drop (not
// [a-zA-Z_][a-zA-Z0-9_]*, too long, "__" first), a value that is not
// finite, or a series beyond the exit handler's sample limit is refused:
// Set logs a warning and returns the error; nothing panics.
func (s *Step) Set(name string, value float64) error {
	return s.SetWithLabels(name, nil, value)
}

// SetWithLabels is Set for one series of name with labels. Labels may not
// be reserved ones (see IsReservedStepLabel): the step's identity is added
// by Push, or by the exit handler.
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
	if !validName(strings.TrimPrefix(name, custom.Prefix)) {
		return fmt.Errorf("metric name %q is not a valid Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*)", name)
	}
	ls := make([]custom.Label, 0, len(labels))
	for k, v := range labels {
		if !validName(k) {
			return fmt.Errorf("metric %q: label name %q is not a valid Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*)", name, k)
		}
		if v != "" { // an empty label is no label, in Prometheus
			ls = append(ls, custom.Label{Name: k, Value: v})
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	// Check the series exactly as the exit handler will read it back.
	var line bytes.Buffer
	writeSample(&line, custom.Sample{Name: name, Labels: ls, Value: value})
	got, warnings := custom.Parse(line.Bytes(), custom.DefaultLimits, IsReservedStepLabel)
	if len(warnings) > 0 {
		return errors.New(strings.Join(warnings, "; "))
	}
	if len(got) != 1 || !sameSeries(got[0], strings.TrimPrefix(name, custom.Prefix), ls) {
		return fmt.Errorf("metric %q: not a valid metric name ([a-zA-Z_][a-zA-Z0-9_]*) or label set", name)
	}
	smp := got[0]
	smp.Help = ""
	key := seriesKey(smp)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.samples == nil {
		s.samples, s.help = map[string]*entry{}, map[string]string{}
	}
	if e, ok := s.samples[key]; ok {
		e.Value = smp.Value
		return nil
	}
	if max := custom.DefaultLimits.MaxSamples; len(s.samples) >= max {
		return fmt.Errorf("metric %q: the step already has %d series, the most the exit handler reads", name, max)
	}
	s.seq++
	s.samples[key] = &entry{Sample: smp, seq: s.seq}
	return nil
}

// Describe sets the HELP text of name (one line; pushed and written with
// the metric). Without one, a generic text is used.
func (s *Step) Describe(name, help string) {
	help = strings.Join(strings.Fields(help), " ")
	if len(help) > 300 {
		help = strings.ToValidUTF8(help[:300], "")
	}
	name = strings.TrimPrefix(name, custom.Prefix)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.help == nil {
		s.samples, s.help = map[string]*entry{}, map[string]string{}
	}
	s.help[name] = help
}

// Time starts a timer and returns the function that stops it and sets name
// to the elapsed seconds, measured on the monotonic clock (so never
// negative, whatever the wall clock does):
//
//	defer step.Time("training_seconds")()
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

// Samples returns the step's series, sorted by name and labels, without
// custom.Prefix and without the automatic labels.
func (s *Step) Samples() []custom.Sample {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]custom.Sample, 0, len(s.samples))
	for _, e := range s.samples {
		smp := e.Sample
		smp.Help = s.help[smp.Name]
		out = append(out, smp)
	}
	sortSamples(out)
	return out
}

// pushgateway.Target returns where pushgateway.Push sends the step's metrics: the group job,
// namespace, workflow_id (the WorkflowUID, else the workflow's name) and
// step (Step, else NodeID, else Pod). It fails without a workflow ID or a
// step.
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
	return pushgateway.Target{URL: s.URL, Job: job, Grouping: []pushgateway.Label{
		{Name: "namespace", Value: s.Info.Namespace},
		{Name: "workflow_id", Value: id},
		{Name: "step", Value: step},
	}}, nil
}

// Gather returns the step's metrics as pushgateway.Push sends them: gauges named
// custom.Prefix+name, with the labels workflow, node_id and pod (those
// known) besides the series' own. It implements prometheus.Gatherer.
func (s *Step) Gather() ([]*dto.MetricFamily, error) {
	if s == nil {
		return nil, nil
	}
	auto := []custom.Label{{Name: "node_id", Value: s.Info.NodeID}, {Name: "pod", Value: s.Info.Pod}, {Name: "workflow", Value: s.Info.Workflow}}
	byName := map[string]*dto.MetricFamily{}
	var names []string
	for _, smp := range s.Samples() {
		f := byName[smp.Name]
		if f == nil {
			help := smp.Help
			if help == "" {
				help = stepHelp
			}
			f = &dto.MetricFamily{Name: proto.String(custom.Prefix + smp.Name), Help: proto.String(help), Type: dto.MetricType_GAUGE.Enum()}
			byName[smp.Name] = f
			names = append(names, smp.Name)
		}
		m := &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(smp.Value)}}
		for _, l := range append(append([]custom.Label(nil), smp.Labels...), auto...) {
			if l.Value != "" {
				m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
			}
		}
		sort.Slice(m.Label, func(i, j int) bool { return m.Label[i].GetName() < m.Label[j].GetName() })
		f.Metric = append(f.Metric, m)
	}
	sort.Strings(names)
	out := make([]*dto.MetricFamily, 0, len(names))
	for _, n := range names {
		out = append(out, byName[n])
	}
	return out, nil
}

var _ prometheus.Gatherer = (*Step)(nil)

// pushgateway.Push replaces the step's group (see pushgateway.Target) with its metrics, in one
// HTTP PUT under Timeout, retried as pushgateway.Retry says; with File set, it calls
// WriteFile(File) instead. It is fail-safe: any failure (no URL, no
// workflow ID, a client that could not be set up, the Pushgateway down or
// refusing) is logged as a warning and returned, for callers that want
// it; nothing panics or exits. Use it with defer:
//
//	defer step.Push(context.Background())
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
	start := time.Now()
	if s.Client != nil {
		err = pushgateway.Push(ctx, t, s, s.Client, retry)
	} else {
		err = pushgateway.Push(ctx, t, s, nil, retry) // a nil *http.Client would be a non-nil HTTPDoer
	}
	if err != nil {
		return err
	}
	s.logger().Debug("step metrics pushed", "group", pushgateway.Group(t), "series", len(s.Samples()), "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// WriteFile writes the step's metrics to path for the exit handler, in the
// Prometheus text format, without custom.Prefix and without the automatic
// labels (the exit handler adds both): `training_seconds 812.5`.
//
// It merges: what path already holds (the text format or a JSON object,
// read as the exit handler reads it, say lines a wrapped command appended)
// is kept, except the series the Step sets, whose values replace it. The
// result is written to a temporary file in path's directory and renamed
// over path, so a reader never sees half a file and writing twice never
// duplicates a line. It is not safe against another process writing path
// at the same moment. Should the text exceed what the exit handler reads
// (custom.DefaultLimits.MaxBytes), the series already in the file go
// first, then the Step's latest; a warning says so.
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
	s.mu.Lock()
	mine := make([]*entry, 0, len(s.samples))
	for _, e := range s.samples {
		mine = append(mine, e)
	}
	help := make(map[string]string, len(s.help))
	for k, v := range s.help {
		help[k] = v
	}
	s.mu.Unlock()
	sort.Slice(mine, func(i, j int) bool { return mine[i].seq < mine[j].seq })

	// Keep order: the Step's series by when they were first set, then the
	// file's others.
	keep := make([]custom.Sample, 0, len(mine))
	seen := map[string]bool{}
	for _, e := range mine {
		keep = append(keep, e.Sample)
		seen[seriesKey(e.Sample)] = true
	}
	old, err := readExisting(path)
	if err != nil {
		return err
	}
	if len(old) > 0 {
		got, warnings := custom.Parse(old, custom.DefaultLimits, IsReservedStepLabel)
		for _, w := range warnings {
			s.logger().Warn("existing metrics file: "+w, "file", path)
		}
		for _, smp := range got {
			if _, ok := help[smp.Name]; !ok && smp.Help != "" {
				help[smp.Name] = smp.Help
			}
			smp.Help = ""
			if !seen[seriesKey(smp)] {
				keep = append(keep, smp)
				seen[seriesKey(smp)] = true
			}
		}
	}
	if max := custom.DefaultLimits.MaxSamples; len(keep) > max {
		s.logger().Warn(fmt.Sprintf("%d series exceed the exit handler's limit of %d; the last are not written", len(keep), max), "file", path)
		keep = keep[:max]
	}
	if n, max := len(keep), custom.DefaultLimits.MaxBytes; n > 0 {
		keep = fitBytes(keep, help, max)
		if len(keep) < n {
			s.logger().Warn(fmt.Sprintf("the metrics text would exceed the exit handler's limit of %d bytes; %d series are not written", max, n-len(keep)), "file", path)
		}
	}
	text := render(keep, help)
	return writeAtomic(path, text)
}

// readExisting returns path's content, at most one byte over what the
// exit handler reads (which then refuses it whole), or nothing when there
// is no file.
func readExisting(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(custom.DefaultLimits.MaxBytes)+1))
}

func writeAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	ok = true
	return nil
}

// fitBytes returns the longest prefix of samples whose text (see render)
// takes at most max bytes.
func fitBytes(samples []custom.Sample, help map[string]string, max int) []custom.Sample {
	size := 0
	named := map[string]bool{}
	var line bytes.Buffer
	for i, smp := range samples {
		line.Reset()
		writeSample(&line, smp)
		n := line.Len()
		if h := help[smp.Name]; h != "" && !named[smp.Name] {
			n += len("# HELP ") + len(smp.Name) + len(" ") + len(h) + len("\n")
		}
		if size+n > max {
			return samples[:i]
		}
		size += n
		named[smp.Name] = true
	}
	return samples
}

// render writes samples in the text format, sorted, each name's HELP first.
func render(samples []custom.Sample, help map[string]string) []byte {
	sorted := append([]custom.Sample(nil), samples...)
	sortSamples(sorted)
	var b bytes.Buffer
	last := ""
	for _, smp := range sorted {
		if smp.Name != last {
			if h := help[smp.Name]; h != "" {
				fmt.Fprintf(&b, "# HELP %s %s\n", smp.Name, h)
			}
			last = smp.Name
		}
		writeSample(&b, smp)
	}
	return b.Bytes()
}

func writeSample(b *bytes.Buffer, smp custom.Sample) {
	b.WriteString(smp.Name)
	if len(smp.Labels) > 0 {
		b.WriteByte('{')
		for i, l := range smp.Labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.Name)
			b.WriteString(`="`)
			b.WriteString(labelEscaper.Replace(l.Value))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatValue(smp.Value))
	b.WriteByte('\n')
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// validName: [a-zA-Z_][a-zA-Z0-9_]*, the names the exit handler reads
// (no colons: they are for recording rules).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// sameSeries reports whether smp is the series name{ls}: a name or label
// that smuggles text format syntax in reads back as something else.
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
	sort.Slice(s, func(i, j int) bool {
		if s[i].Name != s[j].Name {
			return s[i].Name < s[j].Name
		}
		return seriesKey(s[i]) < seriesKey(s[j])
	})
}
