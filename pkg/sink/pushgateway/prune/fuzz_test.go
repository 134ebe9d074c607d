package prune

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeList: whatever a Pushgateway (or something in its place)
// answers, decoding does not panic, and what it returns is usable: every
// group has a label map and believable push times.
func FuzzDecodeList(f *testing.F) {
	f.Add([]byte(listJSON))
	f.Add([]byte(`{"status":"success","data":[]}`))
	f.Add([]byte(`{"data":[{}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		groups, err := decodeList(bytes.NewReader(data))
		if err != nil {
			if groups != nil {
				t.Fatalf("groups with an error: %v", err)
			}
			return
		}
		limit := time.Unix(maxUnix, 0)
		for _, g := range groups {
			if g.Labels == nil {
				t.Fatal("nil labels")
			}
			for _, ts := range []time.Time{g.PushTime, g.PushFailureTime} {
				if !ts.IsZero() && (ts.Before(time.Unix(0, 0)) || ts.After(limit)) {
					t.Fatalf("push time %v", ts)
				}
			}
			_ = g.Key()
		}
		now := time.Unix(2e9, 0)
		plan := Select(groups, Policy{Job: "step-metrics", MaxAge: time.Hour, MaxAgeUnfinished: 2 * time.Hour, Now: now})
		if plan.Kept+len(plan.Delete) != plan.Matched || plan.Matched > plan.Listed || plan.KeptUnfinished > plan.Kept {
			t.Fatalf("plan does not add up: %+v", plan)
		}
	})
}
