package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/step-metrics/step-metrics/internal/testenv"
	"github.com/step-metrics/step-metrics/pkg/engine/argo"
	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/sink/pushgateway"
	"github.com/step-metrics/step-metrics/pkg/source"
)

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestEnvCommandLineSourceWins: a step's environment may hold
// STEP_METRICS_WORKFLOW (pkg/step reads it); when the command line names
// the run's source, the environment's other sources are not applied.
func TestEnvCommandLineSourceWins(t *testing.T) {
	t.Setenv("STEP_METRICS_WORKFLOW", "x")
	code, stdout, stderr := runMain(t, "push", "--example", "--dry-run")
	if code != exitOK || !strings.Contains(stdout, "pipeline_") {
		t.Fatalf("STEP_METRICS_WORKFLOW=x step-metrics push --example --dry-run: exit %d, want 0\n%s", code, stderr)
	}
	t.Setenv("STEP_METRICS_PIPELINE_RUN", "pr")
	t.Setenv("STEP_METRICS_EXAMPLE", "true")
	if code, _, stderr := runMain(t, "push", "-f", "../../internal/example/ml-pipeline-running-exit-handler.yaml", "--dry-run"); code != exitOK {
		t.Errorf("push -f FILE with three sources in the environment: exit %d, want 0\n%s", code, stderr)
	}
	// No source on the command line: the environment's are all applied,
	// and still exclude each other.
	if code, _, stderr := runMain(t, "push", "--dry-run"); code != exitUsage || !strings.Contains(stderr, "exclude each other") {
		t.Errorf("sources only from the environment: exit %d, want 2 (exclude each other)\n%s", code, stderr)
	}
}

// TestEnvOnlySourceStillWorks: the environment alone may name the source.
func TestEnvOnlySourceStillWorks(t *testing.T) {
	t.Setenv("STEP_METRICS_EXAMPLE", "true")
	t.Setenv("STEP_METRICS_NAMESPACE", "ml")
	if code, stdout, stderr := runMain(t, "push", "--dry-run"); code != exitOK || !strings.Contains(stdout, "pipeline_") || !strings.Contains(stderr, `namespace=\"ml\"`) {
		t.Errorf("STEP_METRICS_EXAMPLE=true: exit %d\n%s", code, stderr)
	}
}

// TestFlagValues: the typed flags parse once, as they are set, and never
// quote a credential.
func TestFlagValues(t *testing.T) {
	var c clientFlags
	var l logFlags
	var p pushgatewayURL
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.addFlags(fs)
	l.addFlags(fs)
	fs.Var(&p, "pushgateway", "")
	err := fs.Parse([]string{"-H", "X-A: 1", "--header", "Authorization Bearer SECRET-1", "-H", "x-a: 2", "-H", "bad", "--pushgateway", "http://u:SECRET-2@pg:9091"})
	if err != nil {
		t.Fatalf("Parse: %v (a bad header or URL is reported by validate, never by pflag, which would quote it)", err)
	}
	if err := c.validate(); err == nil || !strings.HasPrefix(err.Error(), "--header: ") || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "<redacted>") {
		t.Errorf("validate = %v: want the first bad header, redacted", err)
	}
	if got := c.config().Headers.Values("X-A"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("X-A headers %q", got)
	}
	if err := p.check(); err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "no credentials in the URL") {
		t.Errorf("check = %v", err)
	}
	for _, bad := range []string{"pushgateway:9091", "ftp://pg", "http://"} {
		if err := p.Set(bad); err != nil || p.check() == nil || !strings.Contains(p.check().Error(), "want an http:// or https:// URL") {
			t.Errorf("Set(%q) = %v, check = %v", bad, err, p.check())
		}
	}
	if err := p.Set("https://pg:9091"); err != nil || p.check() != nil || !p.given() || p.String() != "https://pg:9091" {
		t.Errorf("a good URL: %v %v", err, p.check())
	}
	if l.level.String() != "info" || l.format.String() != "text" {
		t.Errorf("defaults %q %q", l.level.String(), l.format.String())
	}
	for _, bad := range [][]string{{"--log-level", "loud"}, {"--log-format", "xml"}} {
		if err := fs.Parse(bad); err == nil || !strings.Contains(err.Error(), bad[0]) || !strings.Contains(err.Error(), "want ") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := fs.Parse([]string{"--log-level", "DEBUG", "--log-format", "json"}); err != nil || l.level.level != -4 || !l.format.json {
		t.Errorf("debug/json: %v %+v", err, l)
	}
}

// TestHelpShowsFlagTypes: the typed values show in the help as the plain
// ones did.
func TestHelpShowsFlagTypes(t *testing.T) {
	code, _, _ := runMain(t, "push", "--help")
	var o pushOptions
	fs := pflag.NewFlagSet("push", pflag.ContinueOnError)
	o.addFlags(fs)
	u := fs.FlagUsages()
	for _, want := range []string{
		`--pushgateway string `,
		`-H, --header stringArray `,
		`--log-level string `, `(default "info")`,
		`--log-format string `, `(default "text")`,
	} {
		if !strings.Contains(u, want) {
			t.Errorf("help lacks %q:\n%s", want, u)
		}
	}
	if code != exitOK {
		t.Errorf("--help: exit %d", code)
	}
}

// TestPushHints: the CLI's advice on a refused certificate names its
// flags (the sink's errors keep their x509 cause for it).
func TestPushHints(t *testing.T) {
	ca := testenv.NewCA(t, "hints")
	tests := []struct {
		name string
		cert testenv.CertOptions
		cfg  httpclient.Config
		want []string
	}{
		{"unknown CA", testenv.CertOptions{}, httpclient.Config{},
			[]string{"certificate signed by unknown authority", "--ca-file"}},
		{"expired", testenv.CertOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, httpclient.Config{CAFile: ca.CertFile},
			[]string{"expired", "renew it"}},
		{"wrong host name", testenv.CertOptions{DNSNames: []string{"pushgateway.monitoring.svc"}}, httpclient.Config{CAFile: ca.CertFile},
			[]string{"127.0.0.1", "--tls-server-name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certFile, keyFile := ca.IssueWith(t, "pg", false, tt.cert)
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.StartTLS()
			defer srv.Close()
			client, err := httpclient.New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "h"}))
			err = pushgateway.Push(context.Background(), pushgateway.Target{URL: srv.URL, Job: "step-metrics"}, reg, client, pushgateway.Retry{MaxAttempts: 5, InitialBackoff: 200 * time.Millisecond})
			if err == nil {
				t.Fatal("push accepted a bad certificate")
			}
			err = withHint(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if again := withHint(err); again.Error() != err.Error() {
				t.Errorf("hinted twice: %q", again)
			}
		})
	}
}

func TestPushHintText(t *testing.T) {
	if h := hint(nil); h != "" {
		t.Errorf("hint(nil) = %q", h)
	}
	if h := hint(&net.OpError{Op: "dial", Err: errString("connection refused")}); h != "" {
		t.Errorf("a refused connection got a hint: %q", h)
	}
	if h := hint(errString("remote error: tls: certificate required")); !strings.Contains(h, "--cert-file") {
		t.Errorf("mTLS hint %q", h)
	}
	if h := hint(errString(`http: server gave HTTP response to HTTPS client`)); !strings.Contains(h, "http://") {
		t.Errorf("plain HTTP hint %q", h)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestIncompleteReason: each way a read fails has its reason, from the
// error's type where there is one (the apiserver's Status, a network
// error, pkg/source's TooLargeError), never from free text but for Argo
// Server's answers, which have no type.
func TestIncompleteReason(t *testing.T) {
	gr := schema.GroupResource{Group: "argoproj.io", Resource: "workflows"}
	wrap := func(err error) error { return fmt.Errorf("get workflow ml/w: %w", err) }
	for _, c := range []struct {
		err  error
		want string
	}{
		{wrap(apierrors.NewForbidden(gr, "w", errors.New("no"))), "forbidden"},
		{wrap(apierrors.NewUnauthorized("no")), "unauthorized"},
		{wrap(apierrors.NewNotFound(gr, "w")), "not_found"},
		{wrap(apierrors.NewTimeoutError("slow", 1)), "timeout"},
		{wrap(context.DeadlineExceeded), "timeout"},
		{wrap(&url.Error{Op: "Get", URL: "https://k", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}), "unreachable"},
		{wrap(io.ErrUnexpectedEOF), "unreachable"},
		{wrap(&source.TooLargeError{Limit: 64 << 20}), "too_large"},
		{wrap(apierrors.NewRequestEntityTooLargeError("big")), "too_large"},
		{fmt.Errorf("decode workflow: status.nodes: 70000 nodes need more than 64 MiB: %w", argo.ErrTooLarge), "too_large"},
		{fmt.Errorf("decode workflow: more than 8 MiB of bytes in one string: %w", argo.ErrLongToken), "too_large"},
		{errors.New("get workflow ml/w from argo server: HTTP 403 (the token's account needs get on workflows.argoproj.io): denied"), "forbidden"},
		{errors.New("get workflow ml/w from argo server: HTTP 401 (token missing or not accepted): x"), "unauthorized"},
		{errors.New("get workflow ml/w from argo server: HTTP 404 (no such workflow): x"), "not_found"},
		{errors.New("get workflow ml/w from argo server: HTTP 500: x"), "unreadable"},
		{fmt.Errorf("kubernetes client config (not in a cluster, no usable kubeconfig): %w", errors.New("invalid configuration")), "unauthorized"},
		{errors.New("decode workflow: status.nodes: want an object"), "unreadable"},
	} {
		if got := incompleteReason(c.err); got != c.want {
			t.Errorf("incompleteReason(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

// TestHookFlags: with --hook (or $STEP_METRICS_HOOK) a bad flag is a
// warning and its default; without it, exit 2 as before; nothing can
// stand in for a run or a Pushgateway that is not named.
func TestHookFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want bool
	}{
		{[]string{"--example"}, "", false},
		{[]string{"--hook", "--example"}, "", true},
		{[]string{"--hook=false"}, "true", false},
		{[]string{"--hook=maybe"}, "", true},
		{nil, "true", true},
		{nil, "yes", true},
		{[]string{"--", "--hook"}, "", false},
	} {
		t.Setenv("STEP_METRICS_HOOK", c.env)
		if got := hookMode(c.args); got != c.want {
			t.Errorf("hookMode(%q) with STEP_METRICS_HOOK=%q = %v, want %v", c.args, c.env, got, c.want)
		}
	}
	t.Setenv("STEP_METRICS_HOOK", "")

	o, ignored, _, fatal := parseHookFlags([]string{"--example", "--dry-run", "--timeout=30", "--retries=50", "--label", "ok=1", "--label", "bad", "-H", "nocolon",
		"--label-from-workflow", "team,job", "--status", "Done", "--unknown", "value", "--log-level=loud", "--max-series=lots", "extra"}, io.Discard)
	if fatal != nil {
		t.Fatal(fatal)
	}
	// A number that does not parse is the default, not pflag's 0 (for
	// --max-series, no budget at all).
	if o.timeout != 30*time.Second || o.retries != 4 || o.maxSeries != defaultMaxSeries || o.status != "" || len(o.staticLabels) != 1 || o.staticLabels[0].Name != "ok" ||
		len(o.labelsFromWorkflow) != 1 || o.labelsFromWorkflow[0] != "team" || o.logging.level.String() != "info" || o.client.validate() != nil {
		t.Errorf("not repaired to the defaults: %+v", o)
	}
	var msgs []string
	for _, err := range ignored {
		msgs = append(msgs, err.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, s := range []string{`--timeout "30"`, "--retries must be between 0 and 20", `label "bad": want name=value`, "--header", `workflow label "job"`,
		`--status "Done"`, "unknown flag: --unknown", `--log-level "loud"`, `unexpected arguments ["extra"]`} {
		if !strings.Contains(all, s) {
			t.Errorf("no warning about %s in:\n%s", s, all)
		}
	}
	if strings.Contains(all, "nocolon") {
		t.Errorf("a header's text in a warning:\n%s", all)
	}
	if _, _, _, fatal := parseHookFlags([]string{"--timeout=1"}, io.Discard); fatal == nil || !strings.Contains(fatal.Error(), "say which run") {
		t.Errorf("no run named: fatal %v", fatal)
	}
	if _, _, _, fatal := parseHookFlags([]string{"--example"}, io.Discard); fatal == nil || !strings.Contains(fatal.Error(), "no Pushgateway") {
		t.Errorf("no Pushgateway: fatal %v", fatal)
	}

	// Through run: exit 0 and a warning, exit 2 with strict, exit 2
	// without --hook.
	if code, stdout, stderr := runMain(t, "push", "--hook", "--example", "--dry-run", "--timeout=30", "--strict=yes"); code != exitOK || !strings.Contains(stdout, "pipeline_run_result") ||
		!strings.Contains(stderr, `--strict \"yes\"`) {
		t.Errorf("--hook with typos: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runMain(t, "push", "--hook", "--example", "--dry-run", "--timeout=30", "--strict"); code != exitUsage || !strings.Contains(stderr, `step-metrics push: --timeout "30"`) {
		t.Errorf("--hook --strict with a typo: exit %d, want 2\n%s", code, stderr)
	}
	if code, _, _ := runMain(t, "push", "--example", "--dry-run", "--timeout=30"); code != exitUsage {
		t.Errorf("a typo outside the hook: exit %d, want 2", code)
	}
	if code, _, stderr := runMain(t, "push", "--hook", "--timeout=30s"); code != exitOK || !strings.Contains(stderr, "nothing to push") {
		t.Errorf("--hook without a run: exit %d, want 0 and a warning\n%s", code, stderr)
	}
}
