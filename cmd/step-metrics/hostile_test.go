package main

// Hostile input through the real binary and into a real Pushgateway: huge
// label values, invalid UTF-8, names that collide after sanitizing; and
// secrets that must never reach the output, at any log level.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/step-metrics/step-metrics/pkg/schema"

	"github.com/step-metrics/step-metrics/internal/faultproxy"
	"github.com/step-metrics/step-metrics/internal/testenv"
)

// exampleWith returns the bundled example with more annotations.
func exampleWith(t *testing.T, annotations map[string]string) []byte {
	t.Helper()
	src, err := os.ReadFile("../../internal/example/ml-pipeline-running-exit-handler.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var extra strings.Builder
	for k, v := range annotations {
		fmt.Fprintf(&extra, "    %q: %q\n", k, v)
	}
	out := strings.Replace(string(src), "  annotations:\n", "  annotations:\n"+extra.String(), 1)
	if out == string(src) {
		t.Fatal("the example has no annotations: update exampleWith")
	}
	return []byte(out)
}

func TestHostileLabels(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	huge := strings.Repeat("é", 1<<19) // 1 MiB
	wf := exampleWith(t, map[string]string{
		"example.com/cost-center": huge,
		"team.name":               "a",
		"team/name":               "b",
		"x.job":                   "c",
	})

	t.Run("huge value and invalid UTF-8 are cut and repaired, and the Pushgateway takes them", func(t *testing.T) {
		invalid := "ok\xff\xfe" + strings.Repeat("z", 2000)
		r := runCLI(t, wf, nil, "push", "-f", "-", "--pushgateway", pg.URL, "--strict",
			"--label-from-workflow", "example.com/cost-center", "--label", "note="+invalid)
		r.want(t, 0)
		s := testenv.Series(pg.Scrape(t), "pipeline_run_result", map[string]string{"workflow_id": exampleUID, "result": "success"})
		if len(s) != 1 {
			t.Fatalf("run result series: %+v", s)
		}
		cost, note := s[0].Labels["example_com_cost_center"], s[0].Labels["note"]
		if cost != schema.SanitizeLabelValue(huge) || len(cost) > schema.MaxLabelValueLength || len(cost) < schema.MaxLabelValueLength-1 {
			t.Errorf("cost center: %d bytes, want %d", len(cost), schema.MaxLabelValueLength)
		}
		if !utf8.ValidString(note) || !strings.HasPrefix(note, "ok\uFFFDzzz") || len(note) > schema.MaxLabelValueLength {
			t.Errorf("note %q...: %d bytes, valid UTF-8 %v", note[:10], len(note), utf8.ValidString(note))
		}
	})

	for _, tt := range []struct {
		name, keys, want string
	}{
		// Refused by validate, before the workflow is read: exit 2, one line.
		{"names collide after sanitizing", "team.name,team/name", `step-metrics push: --label-from-workflow: workflow labels "team.name" and "team/name" both become label "team_name"`},
		{"a key sanitizes to a reserved name", "x/job,job", `step-metrics push: --label-from-workflow: workflow label "job" becomes label "job", which is reserved`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pg.Wipe(t)
			r := runCLI(t, wf, nil, "push", "-f", "-", "--pushgateway", pg.URL, "--label-from-workflow", tt.keys)
			r.want(t, exitUsage)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr does not contain %s:\n%s", tt.want, r.stderr)
			}
			if len(pg.Groups(t)) != 0 {
				t.Error("pushed despite the usage error")
			}
		})
	}

	t.Run("a --label name that needs sanitizing is refused with the fix", func(t *testing.T) {
		r := runCLI(t, nil, nil, "push", "--example", "--dry-run", "--label", "cost.center=x")
		r.want(t, exitUsage)
		if !strings.Contains(r.stderr, `(try "cost_center")`) {
			t.Errorf("no suggestion:\n%s", r.stderr)
		}
	})
}

// TestSecretsNeverInOutput runs push, prune and run with every kind of
// credential (token file, password file, header, Argo Server token,
// kubeconfig token) at every log level and both formats, through success
// and failure, and checks that no secret appears on stdout or stderr.
func TestSecretsNeverInOutput(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secrets := map[string]string{
		"bearer token":     "tok-SECRET-5b7e1c",
		"password":         "pw-SECRET-9d2f4a",
		"header value":     "hdr-SECRET-3c8a6e",
		"bad header":       "hdr-SECRET-BAD-77f1",
		"argo token":       "argo-SECRET-1e5b9d",
		"kubeconfig token": "kube-token-never-logged",
	}
	tokenFile := write("token", secrets["bearer token"]+"\n")
	passwordFile := write("password", secrets["password"])
	argoTokenFile := write("argo-token", "Bearer "+secrets["argo token"])
	refused := "https://127.0.0.1:" + fmt.Sprint(testenv.FreePort(t))
	// A Pushgateway that refuses everyone (401), and one that works.
	denied := faultproxy.Start(t, pg.Addr, faultproxy.Always(faultproxy.Answer(http.StatusUnauthorized, "Unauthorized")))
	argo, _ := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "denied", http.StatusForbidden) })
	_, kubeconfig := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) { apiStatus(w, 401, "Unauthorized", "Unauthorized") })

	type invocation struct {
		name string
		args []string
	}
	var runs []invocation
	for _, target := range []string{pg.URL, "http://" + denied.Addr, refused} {
		auth := [][]string{
			{"--bearer-token-file", tokenFile, "--header", "X-Api-Key: " + secrets["header value"]},
			{"--username", "ci", "--password-file", passwordFile},
		}
		for _, a := range auth {
			runs = append(runs,
				invocation{"push " + target, append([]string{"push", "--example", "--pushgateway", target, "--timeout", "2s", "--retries", "1"}, a...)},
				invocation{"push from the API " + target, append([]string{"push", "--workflow", "w-1", "--namespace", "ml", "--kubeconfig", kubeconfig,
					"--pushgateway", target, "--timeout", "2s", "--retries", "1"}, a...)},
				invocation{"push from Argo Server " + target, append([]string{"push", "--workflow", "w-1", "--namespace", "ml", "--argo-server", argo,
					"--argo-token-file", argoTokenFile, "--argo-insecure-skip-verify", "--pushgateway", target, "--timeout", "2s", "--retries", "1"}, a...)},
				invocation{"prune " + target, append([]string{"prune", "--pushgateway", target, "--timeout", "2s", "--retries", "1"}, a...)},
				invocation{"run " + target, append([]string{"run", "--pushgateway", target, "--workflow-uid", "u", "--namespace", "ml", "--step", "s",
					"--timeout", "2s", "--retries", "1"}, a...)},
			)
		}
	}
	runs = append(runs,
		invocation{"bad header", []string{"push", "--example", "--pushgateway", pg.URL, "--header", "Authorization Bearer " + secrets["bad header"]}},
		invocation{"bad header, prune", []string{"prune", "--pushgateway", pg.URL, "--header", "Authorization Bearer " + secrets["bad header"]}},
	)
	checked := 0
	for _, inv := range runs {
		for _, level := range []string{"debug", "info", "warn", "error"} {
			for _, format := range []string{"text", "json"} {
				args := append(append([]string{}, inv.args...), "--log-level", level, "--log-format", format)
				if inv.args[0] == "run" {
					args = append(args, "--", "/bin/true")
				}
				r := runCLI(t, nil, nil, args...)
				for what, secret := range secrets {
					if strings.Contains(r.stdout+r.stderr, secret) {
						t.Errorf("%s (%s, %s): the %s is in the output:\n%s%s", inv.name, level, format, what, r.stdout, r.stderr)
					}
				}
				checked++
			}
		}
	}
	if checked != len(runs)*8 || checked < 200 {
		t.Errorf("checked %d runs", checked)
	}
	// The checks above looked at real output: the debug runs said things.
	r := runCLI(t, nil, nil, "push", "--example", "--pushgateway", "http://"+denied.Addr, "--bearer-token-file", tokenFile, "--log-level", "debug", "--retries", "0")
	if !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "level=DEBUG") {
		t.Errorf("the denied push said nothing useful:\n%s", r.stderr)
	}
}

// TestMaliciousStepOutput: a step writes whatever it likes to its
// step-metrics output. It cannot forge the run's own metrics, set reserved
// labels, exceed the limits, or reach another run's group: the grouping
// key comes from the exit handler's arguments, not from the step.
func TestMaliciousStepOutput(t *testing.T) {
	pg := testenv.StartPushgateway(t, testenv.PushgatewayOptions{})
	// The victim: another run, in another namespace.
	runCLI(t, nil, nil, "push", "--example", "--workflow-uid", "victim-uid", "--namespace", "prod", "--pushgateway", pg.URL).want(t, 0)
	before := groupSeries(pg.Scrape(t), "prod", "victim-uid")
	if len(before) == 0 {
		t.Fatal("no victim group")
	}

	src, err := os.ReadFile("../../internal/example/ml-pipeline-running-exit-handler.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var evil strings.Builder
	for _, line := range []string{
		`pipeline_run_result{result="failure"} 1`,
		`forged{workflow_id="victim-uid",namespace="prod",job="step-metrics"} 666`,
		`forged_step{step="evaluate",node_id="x"} 666`,
		`push_time_seconds 0`,
		`pipeline_custom_accuracy 1`,
		`many{a="1",b="2",c="3",d="4",e="5",f="6",g="7",h="8",i="9"} 1`,
		`long{v="` + strings.Repeat("x", 300) + `"} 1`,
		`training_seconds 431.2`,
	} {
		evil.WriteString("            " + line + "\n")
	}
	for i := 0; i < 600; i++ {
		fmt.Fprintf(&evil, "            flood_%03d 1\n", i)
	}
	wf := strings.Replace(string(src), "            # HELP training_seconds Time spent in model.fit().\n            training_seconds 431.2\n", evil.String(), 1)
	wf = strings.Replace(wf, `value: '{"accuracy": 0.9312, "f1": 0.904, "inference_seconds_per_1k": 1.83}'`,
		`value: '{"accuracy": 0.9312, "blob": "`+strings.Repeat("A", 300<<10)+`"}'`, 1)
	if wf == string(src) || !strings.Contains(wf, "flood_599") || !strings.Contains(wf, `"blob"`) {
		t.Fatal("the example changed shape: update this test")
	}

	r := runCLI(t, []byte(wf), nil, "push", "-f", "-", "--pushgateway", pg.URL, "--strict")
	r.want(t, 0)
	for _, w := range []string{`label \"workflow_id\" is reserved`, `label \"result\" is reserved`, "has 9 labels, more than 8", `value longer than 256 bytes`, "exceed the limit of 500", "exceeds the 262144-byte limit; all of it is dropped"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("no warning about %q:\n%s", w, r.stderr)
		}
	}
	fams := pg.Scrape(t)
	if after := groupSeries(fams, "prod", "victim-uid"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the victim's group changed: %d series before, %d after", len(before), len(after))
	}
	ours := groupSeries(fams, exampleNS, exampleUID)
	custom := 0
	for k, v := range ours {
		switch {
		case strings.HasPrefix(k, "pipeline_run_result{") && strings.Contains(k, "result=failure") && v != 0:
			t.Errorf("the step forged the run's result: %s = %v", k, v)
		case strings.Contains(k, "forged"):
			t.Errorf("a sample with reserved labels got through: %s", k)
		case strings.HasPrefix(k, "pipeline_custom_") && strings.Contains(k, "step=train(0:lr-0.01)"):
			custom++
		case strings.HasPrefix(k, "pipeline_custom_") && strings.Contains(k, "step=evaluate"):
			t.Errorf("the oversized output got through: %s", k)
		}
		if strings.HasPrefix(k, "push_time_seconds") {
			t.Errorf("a step wrote push_time_seconds: %s", k)
		}
	}
	if custom == 0 || custom > 500 {
		t.Errorf("%d custom series from the flooding step, want 1..500", custom)
	}
	// Names land in the custom namespace: push_time_seconds is the step's
	// pipeline_custom_push_time_seconds, not the Pushgateway's.
	found := false
	for k := range ours {
		found = found || strings.HasPrefix(k, "pipeline_custom_push_time_seconds{")
	}
	if !found {
		t.Errorf("push_time_seconds from the step is not pipeline_custom_push_time_seconds: %v", keys(ours))
	}
	for _, g := range pg.Groups(t) {
		if id := g.Labels["workflow_id"]; id != exampleUID && id != "victim-uid" {
			t.Errorf("a group the step made up: %v", g.Labels)
		}
	}
}
