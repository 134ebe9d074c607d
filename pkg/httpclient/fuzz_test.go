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
		"\x00000000=00000000", // a name whose quoted escape looks like the value
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
			// The value (after the first ':' or '=') must not be echoed,
			// as it may be a secret: the same header with every letter and
			// digit of its value changed gives the same message. (Comparing
			// messages, not searching one for the value, because the name is
			// shown quoted and "\x00" then "000000" reads as a value of zeros.)
			if i := strings.IndexAny(s, ":="); i >= 0 {
				other := s[:i+1] + strings.Map(func(r rune) rune {
					switch {
					case r == 'Z':
						return 'Y'
					case ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9'):
						return 'Z'
					}
					return r
				}, s[i+1:])
				if _, _, err2 := ParseHeader(other); err2 == nil || err2.Error() != msg {
					t.Fatalf("the message depends on the value: %q gives %q, %q gives %v", s, msg, other, err2)
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
