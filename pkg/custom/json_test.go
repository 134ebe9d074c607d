package custom

import (
	"strings"
	"testing"
)

// TestParseJSONValues: a JSON value is read only when it is a JSON number
// a float64 holds. Anything else (null, a boolean, a string, even a
// numeric one, an object, an array, a number out of range) is dropped with
// a warning naming the key, and never becomes 0: encoding/json leaves a
// float64 untouched on null, which read {"acc": null} as acc 0. Strings
// are refused as the text format refuses `acc "1.5"`: a value is a bare
// number. NaN and Inf cannot be written as JSON numbers at all, and their
// spellings as strings or bare words are refused too.
func TestParseJSONValues(t *testing.T) {
	cases := []struct {
		name, value string
		want        float64 // when ok
		ok          bool
		why         string // in the warning, when !ok
	}{
		{"number", `0.93`, 0.93, true, ""},
		{"integer", `12`, 12, true, ""},
		{"negative exponent", `-1.5e-3`, -1.5e-3, true, ""},
		{"zero", `0`, 0, true, ""},
		{"negative zero", `-0`, 0, true, ""},
		{"max float64", `1.7976931348623157e308`, 1.7976931348623157e308, true, ""},
		{"null", `null`, 0, false, "null is not a number"},
		{"true", `true`, 0, false, "a boolean is not a number"},
		{"false", `false`, 0, false, "a boolean is not a number"},
		{"numeric string", `"1.5"`, 0, false, "a string is not a number"},
		{"empty string", `""`, 0, false, "a string is not a number"},
		{"NaN string", `"NaN"`, 0, false, "a string is not a number"},
		{"Inf string", `"+Inf"`, 0, false, "a string is not a number"},
		{"nested object", `{"top1": 0.9}`, 0, false, "an object is not a number"},
		{"empty object", `{}`, 0, false, "an object is not a number"},
		{"array", `[0.9]`, 0, false, "an array is not a number"},
		{"out of range", `1e400`, 0, false, "out of range"},
		{"negative out of range", `-1e400`, 0, false, "out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := `{"before": 1, "acc": ` + c.value + `, "zz_after": 2}`
			got, warnings := Parse([]byte(in), DefaultLimits, nil)
			values := map[string]float64{}
			for _, s := range got {
				values[s.Name] = s.Value
			}
			if values["before"] != 1 || values["zz_after"] != 2 {
				t.Errorf("the other keys are lost: %+v", got)
			}
			v, found := values["acc"]
			if c.ok {
				if !found || v != c.want || len(warnings) != 0 {
					t.Errorf("acc = %v (found %v), want %v; warnings %q", v, found, c.want, warnings)
				}
				return
			}
			if found {
				t.Errorf("acc = %v, want it dropped", v)
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], `"acc"`) || !strings.Contains(warnings[0], c.why) {
				t.Errorf("warnings %q, want one naming \"acc\" and saying %q", warnings, c.why)
			}
		})
	}
	// Bare NaN and Infinity are not JSON: the object is refused whole, as
	// any broken JSON is.
	for _, in := range []string{`{"acc": NaN}`, `{"acc": Infinity}`, `{"acc": -Infinity}`} {
		got, warnings := Parse([]byte(in), DefaultLimits, nil)
		if len(got) != 0 || len(warnings) != 1 || !strings.Contains(warnings[0], "not a JSON object") {
			t.Errorf("%s: samples %+v, warnings %q", in, got, warnings)
		}
	}
}

// TestParseJSONMatchesText: the JSON object and the text format agree on
// what a value is: what one refuses, the other refuses.
func TestParseJSONMatchesText(t *testing.T) {
	for _, c := range []struct{ json, text string }{
		{`{"acc": "1.5"}`, `acc "1.5"`},
		{`{"acc": null}`, `acc null`},
		{`{"acc": true}`, `acc true`},
		{`{"acc": 1.5}`, `acc 1.5`},
		{`{"acc": -2e-3}`, `acc -2e-3`},
	} {
		j, _ := Parse([]byte(c.json), DefaultLimits, nil)
		x, _ := Parse([]byte(c.text), DefaultLimits, nil)
		if len(j) != len(x) || (len(j) == 1 && j[0].Value != x[0].Value) {
			t.Errorf("%s gives %+v, but %s gives %+v", c.json, j, c.text, x)
		}
	}
}
