package schema

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestSanitizeLabelValueLongValuesStayDistinct: two 2000-byte node IDs
// that share their first 1500 bytes (a deep DAG's IDs, say) stay two
// values after the cut, each within the bound, valid UTF-8 and the same on
// every call: before, both became the same 1024-byte prefix, client_golang
// refused the push ("collected before") and the run lost all its metrics.
func TestSanitizeLabelValueLongValuesStayDistinct(t *testing.T) {
	// "é" is 2 bytes and the prefix is 1500 bytes: the cut falls inside a
	// rune unless it looks for a boundary.
	prefix := "x" + strings.Repeat("é", 749) + "y"
	if len(prefix) != 1500 {
		t.Fatalf("prefix is %d bytes", len(prefix))
	}
	a := prefix + strings.Repeat("a", 500)
	b := prefix + strings.Repeat("b", 500)
	sa, sb := SanitizeLabelValue(a), SanitizeLabelValue(b)
	if sa == sb {
		t.Fatalf("two different 2000-byte values became the same %d-byte label value", len(sa))
	}
	for _, s := range []string{sa, sb} {
		if len(s) > MaxLabelValueLength || !utf8.ValidString(s) {
			t.Errorf("%d bytes (bound %d), valid UTF-8 %v", len(s), MaxLabelValueLength, utf8.ValidString(s))
		}
		// The cut keeps as much of the value as the bound allows.
		if len(s) < MaxLabelValueLength-utf8.UTFMax {
			t.Errorf("%d bytes: cut more than needed (bound %d)", len(s), MaxLabelValueLength)
		}
		// The form is documented: the value's start, then ~ and 16 hex digits.
		head, sum, ok := cutHashSuffix(s)
		if !ok || !strings.HasPrefix(prefix, head) || len(sum) != 16 {
			t.Errorf("value ends %q: want <prefix of the value>~<16 hex digits>", s[len(s)-24:])
		}
	}
	if again := SanitizeLabelValue(a); again != sa {
		t.Error("not stable: the same value gave two labels")
	}
	if again := SanitizeLabelValue(sa); again != sa {
		t.Error("not idempotent: sanitizing the result changed it")
	}
}

// cutHashSuffix splits a cut value into its kept start and its hash.
func cutHashSuffix(s string) (head, sum string, ok bool) {
	i := strings.LastIndexByte(s, '~')
	if i < 0 {
		return "", "", false
	}
	head, sum = s[:i], s[i+1:]
	for _, c := range sum {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return "", "", false
		}
	}
	return head, sum, true
}

func TestSanitizeLabelValue(t *testing.T) {
	exactly := strings.Repeat("a", MaxLabelValueLength)
	for _, tt := range []struct{ name, in, want string }{
		{"short value unchanged", "train-step-1", "train-step-1"},
		{"empty", "", ""},
		{"at the bound unchanged", exactly, exactly},
		{"invalid UTF-8 repaired", "ok\xffbad", "ok\uFFFDbad"},
	} {
		if got := SanitizeLabelValue(tt.in); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	// One byte over the bound is cut and hashed; a value whose repair
	// makes it too long too.
	for _, in := range []string{exactly + "b", strings.Repeat("a\xff", MaxLabelValueLength/3)} {
		got := SanitizeLabelValue(in)
		if len(got) > MaxLabelValueLength || !utf8.ValidString(got) {
			t.Errorf("%d bytes in: %d bytes out, valid UTF-8 %v", len(in), len(got), utf8.ValidString(got))
		}
		if _, _, ok := cutHashSuffix(got); !ok {
			t.Errorf("%d bytes in: no hash suffix", len(in))
		}
	}
}

// FuzzSanitizeLabelValue: any string becomes valid UTF-8 of at most
// MaxLabelValueLength bytes; valid values within the bound stay as they
// are; sanitizing twice changes nothing; two values that differ after
// repairing their UTF-8 stay different; a cut value keeps the start of the
// repaired value and at most a rune's worth less of it than the bound
// allows.
func FuzzSanitizeLabelValue(f *testing.F) {
	long := strings.Repeat("é", 700)
	for _, s := range []string{"", "x", "a\xffb", "\x00", long, long + "\xff", strings.Repeat("a", MaxLabelValueLength) + "é",
		strings.Repeat("a", MaxLabelValueLength-1) + "€", strings.Repeat("\xff", 600)} {
		f.Add(s, s+"z")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		sa, sb := SanitizeLabelValue(a), SanitizeLabelValue(b)
		for _, c := range []struct{ in, out string }{{a, sa}, {b, sb}} {
			if !utf8.ValidString(c.out) || len(c.out) > MaxLabelValueLength {
				t.Fatalf("SanitizeLabelValue(%q) = %q: %d bytes, valid UTF-8 %v", c.in, c.out, len(c.out), utf8.ValidString(c.out))
			}
			if again := SanitizeLabelValue(c.out); again != c.out {
				t.Fatalf("not idempotent: %q -> %q", c.out, again)
			}
			repaired := strings.ToValidUTF8(c.in, "\uFFFD")
			if len(repaired) <= MaxLabelValueLength {
				if c.out != repaired {
					t.Fatalf("SanitizeLabelValue(%q) = %q, want %q", c.in, c.out, repaired)
				}
				continue
			}
			head, _, ok := cutHashSuffix(c.out)
			if !ok || !strings.HasPrefix(repaired, head) || len(c.out) < MaxLabelValueLength-utf8.UTFMax {
				t.Fatalf("SanitizeLabelValue of %d bytes = %d bytes ending %q: want the value's start, ~ and a hash, within %d bytes of the bound", len(c.in), len(c.out), c.out[max(0, len(c.out)-24):], utf8.UTFMax)
			}
		}
		if strings.ToValidUTF8(a, "\uFFFD") != strings.ToValidUTF8(b, "\uFFFD") && sa == sb {
			t.Fatalf("%q and %q both became %q", a, b, sa)
		}
	})
}
