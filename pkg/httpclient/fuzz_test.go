package httpclient

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParseHeader: a --header it accepts is one net/http sends as given
// (a token name, a value without control characters, never Host); an
// error never repeats the value, which may be a secret.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		"X-Scope-OrgID: team-a", "Authorization: Bearer s3cr3t-token", "Authorization Bearer s3cr3t-token",
		"Authorization=Bearer s3cr3t-token", "x: \x00", ": v", "Host: x", "a b: c", "X: a\r\nY: b", "X:\tv\t",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, value, err := ParseHeader(s)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is not one line: %q", msg)
			}
			// The value (after the first ':' or '=') must not be echoed
			// when it is long enough to be a secret and is not also part
			// of the name or of the message's own words.
			if i := strings.IndexAny(s, ":="); i >= 0 {
				secret := strings.TrimSpace(s[i+1:])
				if len(secret) >= 8 && strings.Contains(msg, secret) && !strings.Contains(s[:i], secret) {
					t.Fatalf("error %q repeats the value %q", msg, secret)
				}
			}
			return
		}
		if name == "" || !isToken(name) || name != http.CanonicalHeaderKey(name) || name == "Host" {
			t.Fatalf("ParseHeader(%q) accepted name %q", s, name)
		}
		if !validValue(value) || value != strings.TrimSpace(value) {
			t.Fatalf("ParseHeader(%q) accepted value %q", s, value)
		}
		n2, v2, err := ParseHeader(name + ": " + value)
		if err != nil || n2 != name || v2 != value {
			t.Fatalf("ParseHeader(%q) = %q, %q; again: %q, %q, %v", s, name, value, n2, v2, err)
		}
	})
}
