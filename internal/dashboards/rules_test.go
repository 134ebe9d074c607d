package dashboards

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/step-metrics/step-metrics/internal/testenv"
)

func readYAML(t testing.TB, path string, out any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func promtool(t *testing.T, args ...string) string {
	t.Helper()
	bin := testenv.NeedBinary(t, func() (string, error) { return exec.LookPath("promtool") })
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtoolCheckRules: Prometheus's own checker accepts the rules file
// and the rules of the PrometheusRule's spec.
func TestPromtoolCheckRules(t *testing.T) {
	out := promtool(t, "check", "rules", filepath.Join(root, RulesFile))
	if !strings.Contains(out, "SUCCESS: 5 rules found") {
		t.Errorf("promtool check rules:\n%s", out)
	}
	var pr struct {
		Spec any `json:"spec"`
	}
	readYAML(t, filepath.Join(root, PrometheusRuleFile), &pr)
	b, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(t.TempDir(), "spec.yml")
	if err := os.WriteFile(spec, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := promtool(t, "check", "rules", spec); !strings.Contains(out, "SUCCESS: 5 rules found") {
		t.Errorf("promtool check rules (PrometheusRule spec):\n%s", out)
	}
}

// TestPromtoolTestRules runs the alert unit tests (alerts/tests.yml).
func TestPromtoolTestRules(t *testing.T) {
	if out := promtool(t, "test", "rules", filepath.Join(root, "alerts", "tests.yml")); !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules:\n%s", out)
	}
}
