package prune

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// family renders one metric family of a group in /api/v1/metrics, one
// sample per value (labels cut, as in listJSON).
func family(name string, values ...string) string {
	var samples []string
	for i, v := range values {
		samples = append(samples, fmt.Sprintf(`{"labels":{"result":"r%d"},"value":%q}`, i, v))
	}
	return fmt.Sprintf(`%q:{"time_stamp":"2026-11-20T10:00:00Z","type":"GAUGE","help":"h","metrics":[%s]}`, name, strings.Join(samples, ","))
}

// TestUnfinishedDecisions: which values of pipeline_run_result and
// pipeline_run_steps_unfinished make a group a run in progress, and what
// Select then does with it at each age. A run is finished when a
// pipeline_run_result series is 1 and pipeline_run_steps_unfinished (if
// there) is 0; any unfinished step (1, 2...) keeps it in progress.
func TestUnfinishedDecisions(t *testing.T) {
	const (
		result     = "pipeline_run_result"
		unfinished = "pipeline_run_steps_unfinished"
	)
	day := 24 * time.Hour
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	policy := Policy{Job: "step-metrics", MaxAge: 7 * day, MaxAgeUnfinished: 30 * day, Now: now}
	for _, tt := range []struct {
		name       string
		families   []string
		unfinished bool
	}{
		{"success", []string{family(result, "0", "1"), family(unfinished, "0")}, false},
		{"one result series at 1", []string{family(result, "1")}, false},
		{"no result at 1", []string{family(result, "0", "0"), family(unfinished, "0")}, true},
		{"result family without series", []string{family(result), family(unfinished, "0")}, true},
		{"finished but 1 step unfinished", []string{family(result, "1", "0"), family(unfinished, "1")}, true},
		{"finished but 2 steps unfinished", []string{family(result, "0", "1"), family(unfinished, "2")}, true},
		{"half a step unfinished", []string{family(result, "1"), family(unfinished, "0.5")}, true},
		{"result 0.5 is not 1", []string{family(result, "0.5", "0")}, true},
		{"result 2 is not 1", []string{family(result, "2")}, true},
		{"no result family, steps 0", []string{family(unfinished, "0")}, false},
		{"no result family, 1 step unfinished", []string{family(unfinished, "1")}, true},
		{"step's own group (neither family)", nil, false},
		{"result family null", []string{`"pipeline_run_result":null`}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				ago                 time.Duration
				deleted, keptForRun bool
			}{
				{6 * day, false, false},
				{7 * day, false, false}, // exactly MaxAge: not older
				{7*day + time.Second, !tt.unfinished, tt.unfinished},
				{30 * day, !tt.unfinished, tt.unfinished}, // exactly MaxAgeUnfinished
				{30*day + time.Second, true, false},
			} {
				push := now.Add(-c.ago)
				fams := append([]string{family("push_time_seconds", fmt.Sprint(push.Unix())), family("push_failure_time_seconds", "0")}, tt.families...)
				body := `{"status":"success","data":[{"labels":{"job":"step-metrics","namespace":"ml","workflow_id":"w"},` + strings.Join(fams, ",") + `}]}`
				groups, err := decodeList(bytes.NewReader([]byte(body)))
				if err != nil {
					t.Fatal(err)
				}
				if len(groups) != 1 || groups[0].Unfinished != tt.unfinished || !groups[0].PushTime.Equal(push) {
					t.Fatalf("decoded %+v, want one group pushed at %v with Unfinished %v", groups, push, tt.unfinished)
				}
				plan := Select(groups, policy)
				deleted := len(plan.Delete) == 1
				if deleted != c.deleted || (plan.KeptUnfinished == 1) != c.keptForRun || plan.Matched != 1 {
					t.Errorf("pushed %v ago: deleted %v, kept because in progress %v (plan %+v); want %v and %v",
						c.ago, deleted, plan.KeptUnfinished == 1, plan, c.deleted, c.keptForRun)
				}
				if deleted && (plan.Delete[0].Unfinished != tt.unfinished || plan.Delete[0].Age != c.ago) {
					t.Errorf("pushed %v ago: candidate %+v, want Unfinished %v and Age %v", c.ago, plan.Delete[0], tt.unfinished, c.ago)
				}
			}
		})
	}
}

// TestUnfinishedStepGroupHoldsRun: one unfinished group holds every group
// of its run, whatever order they are listed in, and a finished run beside
// it under another workflow_id goes.
func TestUnfinishedStepGroupHoldsRun(t *testing.T) {
	day := 24 * time.Hour
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	push := fmt.Sprint(now.Add(-8 * day).Unix())
	group := func(id, step string, fams ...string) string {
		labels := fmt.Sprintf(`"job":"step-metrics","namespace":"ml","workflow_id":%q`, id)
		if step != "" {
			labels += fmt.Sprintf(`,"step":%q`, step)
		}
		return `{"labels":{` + labels + `},` + strings.Join(append([]string{family("push_time_seconds", push)}, fams...), ",") + `}`
	}
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}} {
		all := []string{
			group("running", "", family("pipeline_run_result", "1"), family("pipeline_run_steps_unfinished", "1")),
			group("running", "train"),
			group("done", "", family("pipeline_run_result", "1"), family("pipeline_run_steps_unfinished", "0")),
		}
		var listed []string
		for _, i := range order {
			listed = append(listed, all[i])
		}
		groups, err := decodeList(strings.NewReader(`{"data":[` + strings.Join(listed, ",") + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		plan := Select(groups, Policy{Job: "step-metrics", MaxAge: 7 * day, MaxAgeUnfinished: 30 * day, Now: now})
		if len(plan.Delete) != 1 || plan.Delete[0].Labels["workflow_id"] != "done" || plan.KeptUnfinished != 2 {
			t.Errorf("order %v: delete %+v, kept in progress %d; want only the done run deleted and 2 kept", order, plan.Delete, plan.KeptUnfinished)
		}
	}
}
