package httpclient

import (
	"net/http"
	"net/url"
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

// FuzzRedactURL: RedactURL never panics and always gives one printable
// line; for a URL with user info and a query, the output does not depend on
// the password or on the query value (the same URL with every letter and
// digit of either changed gives the same output), so it cannot show them.
// The password and the value are given raw (without what RFC 3986 wants
// percent-encoded in user info, '/', '?', '#' and '@', and without '&',
// ';' or '#', which would end the value) or escaped (url.UserPassword,
// url.QueryEscape); with or without a scheme ("u:PASS@host:9091").
func FuzzRedactURL(f *testing.F) {
	f.Add(uint8(0), "u", "PASS", "host:9091", "", "access_token", "SECRET")
	f.Add(uint8(1), "u", "PASS", "pushgateway:9091", "/metrics/job/j", "x", "y")
	f.Add(uint8(6), "user", "p@ss/w?rd#", "[::1]:9091", "/a b", "k", "v&w;z")
	f.Add(uint8(3), "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, form uint8, user, pw, host, path, key, value string) {
		schemes := []string{"", "http://", "https://", "HTTP://"}
		scheme := schemes[int(form)%len(schemes)]
		escaped := form&4 != 0
		build := func(pw, value string) string {
			userinfo := user + ":" + pw
			if escaped {
				userinfo = url.UserPassword(user, pw).String()
				value = url.QueryEscape(value)
			}
			return scheme + userinfo + "@" + host + path + "?" + key + "=" + value
		}
		s := build(pw, value)
		for _, in := range []string{s, user + pw + host + path + key + value} {
			out := RedactURL(in)
			for i := 0; i < len(out); i++ {
				if out[i] <= ' ' || out[i] >= 0x7f {
					t.Fatalf("RedactURL(%q) = %q: byte %#x is not printable", in, out, out[i])
				}
			}
			_ = RedactURLsIn("get " + in + ": failed")
		}
		if !escaped && (strings.ContainsAny(user, ":/?#@") || strings.ContainsAny(pw, "/?#@") || strings.ContainsAny(value, "&;#")) {
			return // a structure the RFC does not allow unescaped: no secret to speak of
		}
		out := RedactURL(s)
		other := func(s string) string {
			return strings.Map(func(r rune) rune {
				switch {
				case r == 'Z':
					return 'Y'
				case ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9'):
					return 'Z'
				}
				return r
			}, s)
		}
		if out2 := RedactURL(build(other(pw), value)); out2 != out {
			t.Fatalf("the output depends on the password: %q gives %q, with the password changed %q", s, out, out2)
		}
		if out2 := RedactURL(build(pw, other(value))); out2 != out {
			t.Fatalf("the output depends on the query value: %q gives %q, with the value changed %q", s, out, out2)
		}
		// And directly, for a password no other part spells.
		visible := scheme + host + path + "?" + key + "=REDACTED&REDACTED"
		if len(pw) >= 8 && !strings.Contains(visible, pw) && strings.Contains(out, pw) {
			t.Fatalf("RedactURL(%q) = %q shows the password", s, out)
		}
	})
}
