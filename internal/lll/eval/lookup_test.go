package eval

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestParseObjectAndLookup(t *testing.T) {
	obj, ok := ParseObject(` {"id":"a", "this" : "x\"y", "data":{"case":{"n":1},"k":[1,2]}, "e":{} } `)
	if !ok {
		t.Fatal("a valid object was refused")
	}
	for path, want := range map[string]string{
		"id":          `"a"`,
		"this":        `"x\"y"`,
		"data.case":   `{"n":1}`,
		"data.case.n": `1`,
		"data.k":      `[1,2]`,
		"e":           `{}`,
	} {
		if got, ok := Lookup(&obj, path); !ok || got != want {
			t.Errorf("Lookup(%s) = %q %v, want %q", path, got, ok, want)
		}
	}
	for _, path := range []string{"nope", "data.nope", "id.x", "data.k.0", "e.x"} {
		if got, ok := Lookup(&obj, path); ok {
			t.Errorf("Lookup(%s) = %q, want absent", path, got)
		}
	}
	if StringValue(`"x\"y"`) != `x"y` || StringValue(`"plain"`) != "plain" || StringValue(`12`) != "12" {
		t.Error("StringValue")
	}
	for _, bad := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1} x`, `{"a":"b}`, `{"a":1 "b":2}`, `{a:1}`} {
		if _, ok := ParseObject(bad); ok {
			t.Errorf("ParseObject(%q) accepted", bad)
		}
	}
	if o, ok := ParseObject(`{}`); !ok || len(o.keys) != 0 {
		t.Error("{} refused")
	}
}

// FuzzParseObject: no input panics, and every valid JSON object is
// accepted with the members encoding/json sees.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":{"b":[1,"x",null]},"c":"\u00e9"}`, `{"a":1,}`, `[1]`, `{"a":"\"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, ok := ParseObject(s)
		var m map[string]json.RawMessage
		// encoding/json rewrites invalid UTF-8 in keys; spans never hold it.
		if !utf8.ValidString(s) || json.Unmarshal([]byte(s), &m) != nil || m == nil {
			return
		}
		if !ok {
			t.Fatalf("valid object %q refused", s)
		}
		for k := range m {
			if _, ok := o.Member(k); !ok {
				t.Fatalf("%q: member %q not found", s, k)
			}
		}
	})
}
