// Package testenv starts the real components the tests run against: a
// Pushgateway process on loopback (plain HTTP or TLS, optionally requiring
// client certificates), and a private certificate authority to issue its
// certificates. Nothing here is a fake.
//
// The Pushgateway binary is found through $PUSHGATEWAY_BIN, then
// `pushgateway` or `prometheus-pushgateway` (Debian's package) on $PATH;
// scripts/test-deps.sh installs it. When it is missing a test fails, unless
// it runs with -short, where it is skipped.
package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// PushgatewayBinary returns the path of a Pushgateway binary.
func PushgatewayBinary() (string, error) {
	if p := os.Getenv("PUSHGATEWAY_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("PUSHGATEWAY_BIN: %w", err)
		}
		return p, nil
	}
	for _, name := range []string{"pushgateway", "prometheus-pushgateway"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Pushgateway binary: set PUSHGATEWAY_BIN or run scripts/test-deps.sh (Debian package prometheus-pushgateway)")
}

// NeedBinary returns the path from find, or fails the test (skips it with
// -short) when there is none.
func NeedBinary(t testing.TB, find func() (string, error)) string {
	t.Helper()
	p, err := find()
	if err != nil {
		if testing.Short() {
			t.Skipf("-short: %v", err)
		}
		t.Fatal(err)
	}
	return p
}

// PushgatewayOptions configure StartPushgateway.
type PushgatewayOptions struct {
	// TLS, when set, serves HTTPS with a certificate for 127.0.0.1 and
	// localhost issued by this CA.
	TLS *CA
	// ClientCA, when set with TLS, requires client certificates issued by it.
	ClientCA *CA
	// Args are extra command-line flags.
	Args []string
	// Addr is the host:port to listen on; default a free loopback port.
	Addr string
	// PersistenceFile, when set, is where the Pushgateway keeps its groups
	// across restarts (written on SIGTERM, see Stop); default: nowhere.
	PersistenceFile string
	// ServerCert tunes the server certificate issued by TLS (an expired
	// one, other names). The readiness check and Client then only check
	// that TLS signed it.
	ServerCert CertOptions
}

// Pushgateway is a running Pushgateway process.
type Pushgateway struct {
	// URL is the base URL (http:// or https://127.0.0.1:PORT).
	URL string
	// Addr is host:port.
	Addr string
	// Client trusts the Pushgateway's certificate (and presents a client
	// certificate when one is required).
	Client *http.Client
	cmd    *exec.Cmd
	log    *syncBuffer
	done   chan struct{} // closed when the process has exited
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartPushgateway starts a Pushgateway on a free loopback port, waits until
// it is ready, and stops it when the test ends. Its admin API is enabled (to
// wipe it) and it persists nothing.
func StartPushgateway(t testing.TB, opts PushgatewayOptions) *Pushgateway {
	t.Helper()
	bin := NeedBinary(t, PushgatewayBinary)
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		pg, err := startPushgateway(t, bin, dir, opts)
		if err == nil {
			return pg
		}
		lastErr = err
	}
	t.Fatalf("start pushgateway: %v", lastErr)
	return nil
}

func startPushgateway(t testing.TB, bin, dir string, opts PushgatewayOptions) (*Pushgateway, error) {
	addr := opts.Addr
	if addr == "" {
		addr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	}
	args := []string{
		"--web.listen-address=" + addr,
		"--persistence.file=" + opts.PersistenceFile,
		"--web.enable-admin-api",
		"--log.level=warn",
	}
	pg := &Pushgateway{Addr: addr, URL: "http://" + addr, log: &syncBuffer{}}
	client := &http.Client{Timeout: 5 * time.Second}
	if opts.TLS != nil {
		cert, key := opts.TLS.IssueWith(t, "pushgateway", false, opts.ServerCert)
		cfg := fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n", cert, key)
		tlsCfg := &tls.Config{RootCAs: opts.TLS.Pool()}
		if sc := opts.ServerCert; !sc.NotBefore.IsZero() || !sc.NotAfter.IsZero() || len(sc.DNSNames) > 0 || len(sc.IPs) > 0 {
			// A certificate made to be refused (expired, other names):
			// the test's own client only checks that the CA signed it.
			tlsCfg.InsecureSkipVerify = true
			tlsCfg.VerifyPeerCertificate = opts.TLS.verifySignedBy
		}
		if opts.ClientCA != nil {
			cfg += fmt.Sprintf("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: %s\n", opts.ClientCA.CertFile)
			ccert, ckey := opts.ClientCA.Issue(t, "test-client", true)
			pair, err := tls.LoadX509KeyPair(ccert, ckey)
			if err != nil {
				return nil, err
			}
			tlsCfg.Certificates = []tls.Certificate{pair}
		}
		webCfg := filepath.Join(dir, "web-config.yml")
		if err := os.WriteFile(webCfg, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--web.config.file="+webCfg)
		pg.URL = "https://" + addr
		client.Transport = &http.Transport{TLSClientConfig: tlsCfg}
	}
	pg.Client = client
	args = append(args, opts.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = pg.log, pg.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	pg.cmd = cmd
	pg.done = make(chan struct{})
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); close(pg.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-pg.done
		if t.Failed() {
			t.Logf("pushgateway log:\n%s", pg.log.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return nil, fmt.Errorf("pushgateway exited (%w): %s", err, pg.log.String())
		default:
		}
		resp, err := client.Get(pg.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return pg, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return nil, fmt.Errorf("pushgateway on %s not ready after 15s: %s", addr, pg.log.String())
}

// PID is the Pushgateway's process ID (for /proc/PID/status).
func (p *Pushgateway) PID() int { return p.cmd.Process.Pid }

// Stop asks the Pushgateway to shut down (SIGTERM: it writes its
// persistence file, if it has one) and waits until it has exited.
func (p *Pushgateway) Stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stop pushgateway: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("pushgateway did not exit within 30s of SIGTERM")
	}
}

// Log returns what the Pushgateway printed so far.
func (p *Pushgateway) Log() string { return p.log.String() }

// Wipe deletes every group (admin API).
func (p *Pushgateway) Wipe(t testing.TB) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, p.URL+"/api/v1/admin/wipe", nil)
	resp, err := p.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("wipe: %s", resp.Status)
	}
}

// Scrape returns the Pushgateway's /metrics, parsed.
func (p *Pushgateway) Scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	body := p.get(t, "/metrics")
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse pushgateway /metrics: %v", err)
	}
	return fams
}

// ScrapeText returns the Pushgateway's /metrics as text.
func (p *Pushgateway) ScrapeText(t testing.TB) string {
	t.Helper()
	return string(p.get(t, "/metrics"))
}

// Group is one group as the Pushgateway's /api/v1/metrics lists it.
type Group struct {
	Labels map[string]string
	// Metrics are the names of the group's metric families, without
	// push_time_seconds and push_failure_time_seconds.
	Metrics            []string
	LastPushSuccessful bool
	PushTime           float64
	PushFailureTime    float64
}

// Groups returns the groups the Pushgateway holds.
func (p *Pushgateway) Groups(t testing.TB) []Group {
	t.Helper()
	var resp struct {
		Status string                       `json:"status"`
		Data   []map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(p.get(t, "/api/v1/metrics"), &resp); err != nil {
		t.Fatalf("decode /api/v1/metrics: %v", err)
	}
	var out []Group
	for _, d := range resp.Data {
		var g Group
		for k, v := range d {
			switch k {
			case "labels":
				_ = json.Unmarshal(v, &g.Labels)
			case "last_push_successful":
				_ = json.Unmarshal(v, &g.LastPushSuccessful)
			case "push_time_seconds", "push_failure_time_seconds":
				var f struct {
					Metrics []struct {
						Value string `json:"value"`
					} `json:"metrics"`
				}
				_ = json.Unmarshal(v, &f)
				if len(f.Metrics) == 1 {
					var x float64
					_, _ = fmt.Sscan(f.Metrics[0].Value, &x)
					if k == "push_time_seconds" {
						g.PushTime = x
					} else {
						g.PushFailureTime = x
					}
				}
			default:
				g.Metrics = append(g.Metrics, k)
			}
		}
		out = append(out, g)
	}
	return out
}

func (p *Pushgateway) get(t testing.TB, path string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	resp, err := p.Client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b
}

// Series returns the samples of one metric family whose labels include
// match, as label sets with values.
func Series(fams map[string]*dto.MetricFamily, name string, match map[string]string) []Sample {
	f := fams[name]
	if f == nil {
		return nil
	}
	var out []Sample
	for _, m := range f.GetMetric() {
		ls := map[string]string{}
		for _, lp := range m.GetLabel() {
			ls[lp.GetName()] = lp.GetValue()
		}
		ok := true
		for k, v := range match {
			if ls[k] != v {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		var v float64
		switch {
		case m.Gauge != nil:
			v = m.GetGauge().GetValue()
		case m.Counter != nil:
			v = m.GetCounter().GetValue()
		case m.Untyped != nil:
			v = m.GetUntyped().GetValue()
		case m.Summary != nil:
			v = m.GetSummary().GetSampleSum()
		}
		out = append(out, Sample{Labels: ls, Value: v})
	}
	return out
}

// Sample is one series and its value (a summary's sum).
type Sample struct {
	Labels map[string]string
	Value  float64
}
