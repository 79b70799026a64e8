package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/span"
)

// TestValuesPostgresCannotHold: strings with U+0000 (which text and jsonb
// refuse) and a span far over NOTIFY's 8000-byte payload limit are stored,
// read back byte for byte and matched exactly by queries.
func TestValuesPostgresCannotHold(t *testing.T) {
	s := openStore(t, Config{URL: newLedgerDB(t)})
	defer s.Close()
	ctx := context.Background()
	big := strings.Repeat("x", 20000)
	spans := []*span.Span{
		ledgertest.MustSpan(t, `{"id":"nul","tenant":"a","who":"a\u0000b","did":"d","this":"t\u0000","when":"2026-01-02T03:04:05Z",
			"data":{"k":"v\u0000w","esc":"\\u0000"},"related_to":["r\u0000"],"name":"n\u0000"}`),
		ledgertest.MustSpan(t, `{"id":"lookalike","tenant":"a","who":"a\ufffdb","did":"d","this":"t\ufffd","when":"2026-01-02T03:04:05Z"}`),
		ledgertest.MustSpan(t, `{"id":"big","tenant":"a","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z","data":{"blob":"`+big+`"}}`),
	}
	outs, err := s.Append(ctx, spans)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range outs {
		if o.Err != nil {
			t.Fatalf("span %d: %v", i, o.Err)
		}
		e, err := s.Get(ctx, "a", spans[i].ID, -1)
		if err != nil {
			t.Fatal(err)
		}
		if want := spans[i].AppendEntry(nil, o.Result.LogIndex, o.Result.PrevHash, o.Result.ReceivedAt); string(e.Line) != string(want) {
			t.Fatalf("span %s: line changed in storage", spans[i].ID)
		}
	}
	for _, tc := range []struct {
		q    ledger.Query
		want string
	}{
		{ledger.Query{Tenant: "a", Who: "a\x00b"}, "nul"},
		{ledger.Query{Tenant: "a", This: "t\x00"}, "nul"},
		{ledger.Query{Tenant: "a", Who: "a\ufffdb"}, "lookalike"},
		{ledger.Query{Tenant: "a", This: "t\ufffd"}, "lookalike"},
	} {
		p, err := s.Query(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Entries) != 1 || p.Entries[0].ID != tc.want {
			t.Fatalf("query %+q: got %d entries, want only %s", tc.q.Who+tc.q.This, len(p.Entries), tc.want)
		}
	}
}

func TestJSONBSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":"b"}`, `{"a":"b"}`},
		{`{"a":"\u0000"}`, `{"a":"\ufffd"}`},
		{`{"a":"\\u0000"}`, `{"a":"\\u0000"}`},
		{`{"a":"\\\u0000\u0001"}`, `{"a":"\\\ufffd\u0001"}`},
	} {
		if got := string(jsonbSafe([]byte(tc.in))); got != tc.want {
			t.Errorf("jsonbSafe(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestLiteralStrings: the fast path for arrays of plain strings agrees
// with encoding/json, and leaves everything else to it.
func TestLiteralStrings(t *testing.T) {
	for _, in := range []string{`[]`, `[""]`, `["",""]`, `["a"]`, `["a,b","c"]`, `["a","b,c",""]`,
		`["a",1]`, `[1,"a"]`, `["a",{"b":"c"},"d"]`, `["a",["b"]]`, `["a\\"b"]`, `["é","\u00e9"]`, `[null]`, `{}`, `"a"`} {
		got, ok := literalStrings([]byte(in))
		var want []string
		err := json.Unmarshal([]byte(in), &want)
		switch {
		case ok && (err != nil || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want)):
			t.Errorf("literalStrings(%s) = %q, encoding/json gives %q, %v", in, got, want, err)
		case !ok && (in == `[]` || in == `["a"]`):
			t.Errorf("literalStrings(%s): not taken", in)
		}
	}
}
