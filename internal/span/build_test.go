package span

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// member is one top-level member for a Builder: a string, or raw
// canonical JSON.
type member struct {
	name string
	str  string
	raw  string // used when not ""
}

func build(ms []member) (*Span, error) {
	var b Builder
	for _, m := range ms {
		if m.raw != "" {
			b.Raw(m.name, []byte(m.raw))
		} else {
			b.String(m.name, m.str)
		}
	}
	return b.Span()
}

// asJSON writes the members as a JSON object in the order given.
func asJSON(ms []member) []byte {
	b := []byte{'{'}
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, m.name)
		b = append(b, ':')
		if m.raw != "" {
			b = append(b, m.raw...)
		} else {
			b = AppendString(b, m.str)
		}
	}
	return append(b, '}')
}

func TestBuilderMatchesDecode(t *testing.T) {
	edge := []member{
		{name: "id", str: "d_0123456789abcdef0123456789abcdef01234567"},
		{name: "tenant", str: "acme"},
		{name: "entity_type", str: "trajectory_edge"},
		{name: "who", str: "system:trajectory"},
		{name: "did", str: "link"},
		{name: "this", str: "case:Ünïcode \"quoted\" \\ \n"},
		{name: "when", str: "2026-01-02T03:04:05.123+01:00"},
		{name: "related_to", raw: `["c1"]`},
		{name: "trace_id", str: "t_0123456789abcdef0123456789abcdef"},
		{name: "data", raw: `{"position":3,"src_span_id":"c1","this":"case:1","trajectory_id":"t_0123456789abcdef0123456789abcdef"}`},
	}
	for _, tc := range []struct {
		name string
		ms   []member
	}{
		{"edge", edge},
		{"members in another order", append(append([]member{}, edge[5:]...), edge[:5]...)},
		{"minimal span", []member{{name: "id", str: "x"}, {name: "tenant", str: "t"}, {name: "who", str: "w"}, {name: "did", str: "d"}, {name: "this", str: "h"}, {name: "when", str: "2026-01-02T03:04:05Z"}}},
		{"seq, status, confirmed_by, visibility", []member{{name: "id", str: "x"}, {name: "seq", raw: "2"}, {name: "tenant", str: "t"}, {name: "who", str: "w"}, {name: "did", str: "d"}, {name: "this", str: "h"}, {name: "when", str: "2026-01-02T03:04:05Z"}, {name: "status", str: "confirmed"}, {name: "confirmed_by", raw: `["a","b"]`}, {name: "visibility", str: "public"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := build(tc.ms)
			if err != nil {
				t.Fatalf("Builder: %v", err)
			}
			want, err := Decode(asJSON(tc.ms), DecodeOptions{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Builder:\n%s %v\nDecode:\n%s %v", got.Canonical(), got.Hash, want.Canonical(), want.Hash)
			}
		})
	}
}

func TestBuilderRefuses(t *testing.T) {
	ok := []member{{name: "id", str: "x"}, {name: "tenant", str: "t"}, {name: "who", str: "w"}, {name: "did", str: "d"}, {name: "this", str: "h"}, {name: "when", str: "2026-01-02T03:04:05Z"}}
	with := func(extra ...member) []member { return append(append([]member{}, ok...), extra...) }
	without := func(name string) []member {
		var out []member
		for _, m := range ok {
			if m.name != name {
				out = append(out, m)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		ms   []member
		code string
	}{
		{"no tenant", without("tenant"), CodeMissingField},
		{"no id", without("id"), CodeMissingField},
		{"bad id", append(without("id"), member{name: "id", str: "a b"}), CodeInvalidField},
		{"bad when", append(without("when"), member{name: "when", str: "yesterday"}), CodeInvalidField},
		{"bad tenant", append(without("tenant"), member{name: "tenant", str: "Acme"}), CodeInvalidField},
		{"unknown field", with(member{name: "colour", str: "red"}), CodeUnknownField},
		{"alias", with(member{name: "tenant_id", str: "t"}), CodeUnknownField},
		{"server field", with(member{name: "log_index", raw: "1"}), CodeServerField},
		{"curr_hash", with(member{name: "curr_hash", str: strings.Repeat("0", 64)}), CodeServerField},
		{"twice", with(member{name: "who", str: "v"}), CodeDuplicateKey},
		{"data not an object", with(member{name: "data", raw: "[1]"}), CodeInvalidField},
		{"a string as raw", with(member{name: "status", raw: `"x"`}), CodeInvalidField},
		{"seq not a number", with(member{name: "seq", raw: "1x"}), CodeInvalidField},
		{"negative seq", with(member{name: "seq", raw: "-1"}), CodeInvalidField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(tc.ms)
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Errorf("Builder = %v, want code %s", err, tc.code)
			}
		})
	}
}

// TestBuilderReuse: one Builder builds span after span, none sharing
// memory with the next.
func TestBuilderReuse(t *testing.T) {
	var b Builder
	var spans []*Span
	for _, this := range []string{"a", "b", "c"} {
		b.String("id", "id-"+this)
		b.String("tenant", "t")
		b.String("who", "w")
		b.String("did", "d")
		b.String("this", this)
		b.String("when", "2026-01-02T03:04:05Z")
		b.Raw("data", []byte(`{"k":"`+this+`"}`))
		sp, err := b.Span()
		if err != nil {
			t.Fatal(err)
		}
		spans = append(spans, sp)
	}
	// An error does not stick to the next span.
	b.String("colour", "red")
	if _, err := b.Span(); err == nil {
		t.Fatal("an unknown field was accepted")
	}
	b.Reset()
	for i, this := range []string{"a", "b", "c"} {
		want, err := Decode([]byte(`{"id":"id-`+this+`","tenant":"t","who":"w","did":"d","this":"`+this+`","when":"2026-01-02T03:04:05Z","data":{"k":"`+this+`"}}`), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(spans[i], want) {
			t.Errorf("span %d: %s, want %s", i, spans[i].Canonical(), want.Canonical())
		}
	}
}

// FuzzBuilder: for any members, the Builder and Decode agree — both
// refuse, or both give the same span. Object members are canonicalized
// first (the Builder's contract).
func FuzzBuilder(f *testing.F) {
	f.Add("d_1", "acme", "trajectory_edge", "system:trajectory", "link", "case:1", "2026-01-02T03:04:05Z", `{"b":1,"a":"x"}`, "")
	f.Add("x", "t", "", "w", "", "h", "2026-01-02T03:04:05.5-03:00", `{}`, "confirmed")
	f.Add("", "t", "span", "w", "d", "h", "bad", `[]`, "")
	f.Fuzz(func(t *testing.T, id, tenant, entityType, who, did, this, when, data, status string) {
		ms := []member{{name: "tenant", str: tenant}, {name: "who", str: who}, {name: "this", str: this}, {name: "when", str: when}}
		for _, m := range []member{{name: "id", str: id}, {name: "entity_type", str: entityType}, {name: "did", str: did}, {name: "status", str: status}} {
			if m.str != "" {
				ms = append(ms, m)
			}
		}
		if c, err := Canonicalize([]byte(data)); err == nil && len(c) > 0 {
			ms = append(ms, member{name: "data", raw: string(c)})
		}
		got, berr := build(ms)
		want, derr := Decode(asJSON(ms), DecodeOptions{})
		if (berr == nil) != (derr == nil) {
			t.Fatalf("Builder: %v; Decode: %v", berr, derr)
		}
		if berr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("Builder:\n%s\nDecode:\n%s", got.Canonical(), want.Canonical())
		}
	})
}
