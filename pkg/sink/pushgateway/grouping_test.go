package pushgateway

import (
	"encoding/base64"
	"net/url"
	"path"
	"strings"
	"testing"
)

// pushgatewayLabels decodes a request URI as Pushgateway 1.5 does: the
// path as net/http unescapes it, split at '/', a name ending in @base64
// followed by its value in base64url (padding ignored).
func pushgatewayLabels(t *testing.T, requestURI string) map[string]string {
	t.Helper()
	u, err := url.ParseRequestURI(requestURI)
	if err != nil {
		t.Fatalf("%s: %v", requestURI, err)
	}
	rest, ok := strings.CutPrefix(u.Path, "/metrics/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts)%2 != 0 {
		t.Fatalf("%s: path %q is not /metrics/job/<job>/<name>/<value>...", requestURI, u.Path)
	}
	labels := map[string]string{}
	for i := 0; i < len(parts); i += 2 {
		name, value := parts[i], parts[i+1]
		if base, ok := strings.CutSuffix(name, "@base64"); ok {
			b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(value, "="))
			if err != nil {
				t.Fatalf("%s: %s: %v", requestURI, name, err)
			}
			name, value = base, string(b)
		}
		if _, dup := labels[name]; dup {
			t.Fatalf("%s: %s twice", requestURI, name)
		}
		labels[name] = value
	}
	return labels
}

func TestGroupURL(t *testing.T) {
	for _, tt := range []struct {
		target Target
		want   string
	}{
		{Target{URL: "http://pg:9091/", Job: "step-metrics", Grouping: []Label{{Name: "namespace", Value: "ml"}, {Name: "workflow_id", Value: "5f0c-uid"}}},
			"http://pg:9091/metrics/job/step-metrics/namespace/ml/workflow_id/5f0c-uid"},
		{Target{URL: "pg:9091", Job: "j", Grouping: []Label{{Name: "workflow_id", Value: "a b"}}},
			"http://pg:9091/metrics/job/j/workflow_id@base64/YSBi"},
		{Target{URL: "https://h/prefix", Job: "a/b", Grouping: []Label{{Name: "e", Value: ""}, {Name: "d", Value: ".."}, {Name: "p", Value: "a+b"}}},
			"https://h/prefix/metrics/job@base64/YS9i/e@base64/=/d@base64/Li4/p@base64/YSti"},
	} {
		u, err := groupURL(tt.target)
		if err != nil || u.String() != tt.want {
			t.Errorf("groupURL(%+v) = %v, %v; want %s", tt.target, u, err, tt.want)
		}
	}
}

// FuzzGroupPath: whatever the job and grouping values, the Pushgateway
// decodes the path groupPath writes back to exactly those values, and the
// path has no dot segment or empty segment that a client, proxy or
// router could clean away.
func FuzzGroupPath(f *testing.F) {
	for _, s := range []string{"", "ml", "a b", "a+b", "a/b", "100%", "%2F", ".", "..", "=", "ünï", "\x00", "\xff", "a?b#c", "@base64"} {
		f.Add("step-metrics", s, s+"x")
	}
	f.Fuzz(func(t *testing.T, job, namespace, id string) {
		if job == "" {
			return // Push refuses an empty job before any request
		}
		tg := Target{URL: "http://pg:9091", Job: job, Grouping: []Label{{Name: "namespace", Value: namespace}, {Name: "workflow_id", Value: id}}}
		u, err := groupURL(tg)
		if err != nil {
			t.Fatalf("groupURL: %v", err)
		}
		p := u.EscapedPath()
		if path.Clean(p) != p {
			t.Fatalf("path %q is not clean: a router would redirect it", p)
		}
		got := pushgatewayLabels(t, u.RequestURI())
		want := map[string]string{"job": job, "namespace": namespace, "workflow_id": id}
		if len(got) != len(want) {
			t.Fatalf("%s decodes to %q, want %q", p, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s decodes %s to %q, want %q", p, k, got[k], v)
			}
		}
	})
}
