package argo

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/step-metrics/step-metrics/bench/synth"
)

// longestRun is runBound's reference: byte by byte, the longest string
// (escapes counted as bytes) and the longest run without a quote outside
// strings.
func longestRun(b []byte) int64 {
	var longest, run int64
	in, esc := false, false
	for _, c := range b {
		switch {
		case in && esc:
			esc = false
			run++
		case in && c == '\\':
			esc = true
			run++
		case c == '"':
			longest = max(longest, run)
			in, run = !in, 0
		default:
			run++
		}
	}
	return max(longest, run)
}

// readBounded reads data through runBound in whole, one-byte or
// half-size chunks (chunking 0, 1, 2).
func readBounded(data []byte, limit int64, chunking int) ([]byte, error) {
	var r io.Reader = bytes.NewReader(data)
	switch chunking {
	case 1:
		r = iotest.OneByteReader(r)
	case 2:
		r = iotest.HalfReader(r)
	}
	return io.ReadAll(&runBound{r: r, max: limit})
}

func TestRunBound(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int64
		fail  bool
	}{
		{`{"a":"bcd"}`, 3, false},
		{`{"a":"bcde"}`, 3, true},
		{`{"a":"b\"cd"}`, 5, false},  // the escaped quote does not end the string
		{`{"a":"b\"cd"}`, 4, true},   // ... so its five bytes count
		{`{"a":"b\\"}`, 3, false},    // an escaped backslash, then the end
		{`{"a":"b\\\"c"}`, 6, false}, // b, an escaped backslash, an escaped quote, c
		{`{"a":"b\\\"c"}`, 5, true},
		{`{"a":123456789}`, 8, true}, // a long number outside strings
		{`{"a":12345678}`, 12, false},
	} {
		for oneByte := range 3 {
			out, err := readBounded([]byte(tc.in), tc.limit, oneByte)
			if (err != nil) != tc.fail {
				t.Errorf("%s, max %d, chunking %d: error %v, want failure %v", tc.in, tc.limit, oneByte, err, tc.fail)
			}
			if err == nil && string(out) != tc.in {
				t.Errorf("%s: passed %q", tc.in, out)
			}
			if err != nil && !errors.Is(err, ErrLongToken) {
				t.Errorf("%s: %v does not wrap ErrLongToken", tc.in, err)
			}
		}
	}
}

// FuzzRunBound holds runBound to the byte-by-byte reference, whatever the
// chunking.
func FuzzRunBound(f *testing.F) {
	f.Add([]byte(`{"a":"b\\\"c","d":[1,2]}`), uint8(4))
	f.Add([]byte(`"\\\\\\\""`), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, limit uint8) {
		want := longestRun(data) > int64(limit)
		for oneByte := range 3 {
			out, err := readBounded(data, int64(limit), oneByte)
			if (err != nil) != want {
				t.Fatalf("%q, max %d, chunking %d: error %v, longest run %d", data, limit, oneByte, err, longestRun(data))
			}
			if err == nil && !bytes.Equal(out, data) {
				t.Fatalf("changed the bytes")
			}
		}
	})
}

// TestDecodeLongToken: one string too long to buffer, plain or in a
// compressed node map (a few KB that inflate to it), is refused before it
// is buffered, with an error that says why.
func TestDecodeLongToken(t *testing.T) {
	old := maxRun
	maxRun = 1 << 20
	defer func() { maxRun = old }()
	long := `{"a":{"id":"a","message":"` + strings.Repeat("x", 2<<20) + `"}}`
	for name, in := range map[string]string{
		"plain":      `{"kind":"Workflow","metadata":{"name":"w"},"status":{"nodes":` + long + `}}`,
		"zstd":       `{"kind":"Workflow","metadata":{"name":"w"},"status":{"compressedNodes":"` + zstdB64(t, []byte(long)) + `"}}`,
		"number":     `{"kind":"Workflow","metadata":{"name":"w"},"status":{"nodes":{"a":{"id":` + strings.Repeat("1", 2<<20) + `}}}}`,
		"annotation": `{"kind":"Workflow","metadata":{"name":"w","annotations":{"x":"` + strings.Repeat("y", 2<<20) + `"}}}`,
	} {
		_, _, err := Decode([]byte(in))
		if !errors.Is(err, ErrLongToken) || !strings.Contains(err.Error(), "MiB of") {
			t.Errorf("%s: error %v, want one wrapping ErrLongToken", name, err)
		}
	}
}

// TestNodeBudget: a node map that needs more memory than the budget is
// refused with an error wrapping ErrTooLarge, whatever its form.
func TestNodeBudget(t *testing.T) {
	old := nodeBudget
	nodeBudget = func() int64 { return 1 << 20 }
	defer func() { nodeBudget = old }()
	for _, compressed := range []bool{false, true} {
		data, err := synth.JSON(synth.Options{Nodes: 2000, Seed: 1, Compressed: compressed})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = Decode(data)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "memory limit") {
			t.Errorf("compressed %v: %v, want ErrTooLarge", compressed, err)
		}
	}
	nodeBudget = old
	data, _ := synth.JSON(synth.Options{Nodes: 2000, Seed: 1})
	if _, _, err := Decode(data); err != nil {
		t.Errorf("within the default budget: %v", err)
	}
}
