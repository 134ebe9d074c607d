package dashboards

import (
	"bytes"
	"errors"
	"strings"
)

const prometheusRuleHeader = `# Generated from alerts/step-metrics.rules.yml by ` + "`go generate ./internal/dashboards`" + `: do not edit.
# The same rules as a Prometheus Operator PrometheusRule. Your Prometheus's
# ruleSelector may want a label here (kube-prometheus-stack: release: <name>).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: step-metrics
  labels:
    app.kubernetes.io/name: step-metrics
    app.kubernetes.io/component: alert-rules
spec:
`

// PrometheusRule wraps a Prometheus rules file into a PrometheusRule
// manifest: its text from the top-level "groups:" key on becomes the spec,
// unchanged but indented, so both files hold the very same rules.
func PrometheusRule(rules []byte) ([]byte, error) {
	lines := strings.Split(strings.TrimRight(string(rules), "\n"), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "groups:") {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, errors.New("rules file: no top-level groups: key")
	}
	var b bytes.Buffer
	b.WriteString(prometheusRuleHeader)
	for _, l := range lines[start:] {
		if strings.TrimSpace(l) != "" {
			b.WriteString("  ")
			b.WriteString(l)
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}
