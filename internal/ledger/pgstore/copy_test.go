package pgstore

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/span"
)

// TestCopyEncoding: every column of a row is encoded exactly as pgx
// encodes the same value in the binary format (what CopyFrom sent before
// the writer encoded rows itself), NULLs included.
func TestCopyEncoding(t *testing.T) {
	oids := map[colType]uint32{
		colText: pgtype.TextOID, colInt8: pgtype.Int8OID, colInt4: pgtype.Int4OID,
		colTimestamptz: pgtype.TimestamptzOID, colBytea: pgtype.ByteaOID, colJSONB: pgtype.JSONBOID,
		colTextArray: pgtype.TextArrayOID,
	}
	m := pgtype.NewMap()
	cols := append(append([]column(nil), spanColumns...), entryColumns...)
	for name, js := range map[string]string{
		"minimal": `{"id":"a","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05.123456789Z"}`,
		"every column": `{"id":"b","seq":3,"tenant":"t","entity_type":"job","who":"w\u0000","did":"d","this":"x",
			"when":"1999-12-31T23:59:59.999999999-03:00","parent_id":"p","related_to":["r1","r\u00002",""],"owner_id":"o",
			"visibility":"public","status":"done","name":"n","description":"δ","code":"c","language":"go","runtime":"r",
			"input":{"a":[1,2.5,"\u0000"]},"output":{"z":null},"error":{"e":true},"duration_ms":9007199254740991,
			"trace_id":"tr","metadata":{"k":"v"},"data":{"n":-1},"confirmed_by":[]}`,
		"before the epoch": `{"id":"c","tenant":"t","who":"w","did":"d","this":"x","when":"1900-01-01T00:00:00.000001Z","confirmed_by":["group://g"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			sp := ledgertest.MustSpan(t, js)
			line := sp.AppendEntry(nil, 7, span.Hash{1}, time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC))
			values := row(sp, 7, span.Hash{1}, time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC), leafHash(line), line)
			for i, c := range cols {
				got, err := appendField(nil, c.typ, values[i])
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				want, err := m.Encode(oids[c.typ], pgtype.BinaryFormatCode, values[i], nil)
				if err != nil {
					t.Fatalf("%s: pgx: %v", c.name, err)
				}
				if want == nil {
					want = []byte{0xff, 0xff, 0xff, 0xff}
				} else {
					want = append([]byte{byte(len(want) >> 24), byte(len(want) >> 16), byte(len(want) >> 8), byte(len(want))}, want...)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s (%T %v):\n got %x\nwant %x", c.name, values[i], values[i], got, want)
				}
			}
		})
	}
}

// spanFieldsCases are spans whose columns exercise every encoding path:
// absent and present optional members, NULs (stored as U+FFFD), escapes,
// arrays, jsonb.
var spanFieldsCases = map[string]string{
	"minimal":          `{"id":"a","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05.123456789Z"}`,
	"no did":           `{"id":"a","tenant":"t","entity_type":"job","who":"w","this":"x","when":"2026-01-02T03:04:05Z"}`,
	"escaped strings":  `{"id":"a","tenant":"t","who":"w\"q","did":"d\\e","this":"x\u00e9","when":"2026-01-02T03:04:05Z","name":"n\"1","owner_id":"o\u0000"}`,
	"visibility given": `{"id":"a","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z","visibility":"public"}`,
	"every column": `{"id":"b","seq":3,"tenant":"t","entity_type":"job","who":"w\u0000","did":"d","this":"x",
		"when":"1999-12-31T23:59:59.999999999-03:00","parent_id":"p","related_to":["r1","r\u00002",""],"owner_id":"o",
		"visibility":"public","status":"done","name":"n","description":"δ","code":"c","language":"go","runtime":"r",
		"input":{"a":[1,2.5,"\u0000"]},"output":{"z":null},"error":{"e":true},"duration_ms":9007199254740991,
		"trace_id":"tr","metadata":{"k":"v"},"data":{"n":-1},"confirmed_by":[]}`,
	"escaped arrays": `{"id":"c","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z","confirmed_by":["a\"b"],"related_to":["x\\y"]}`,
}

// TestSpanFieldsMatchValues: the direct encoder writes exactly what
// appendFields writes for spanValues (which TestCopyEncoding checks
// against pgx), over hand-made edge cases and the corpus.
func TestSpanFieldsMatchValues(t *testing.T) {
	check := func(t *testing.T, sp *span.Span) {
		t.Helper()
		want, err := appendFields(nil, spanColumns, spanValues(sp))
		if err != nil {
			t.Fatal(err)
		}
		got, err := spanFields(sp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("span %s:\n got %x\nwant %x", sp.ID, got, want)
		}
	}
	for name, js := range spanFieldsCases {
		t.Run(name, func(t *testing.T) { check(t, ledgertest.MustSpan(t, js)) })
	}
	t.Run("corpus", func(t *testing.T) {
		b, err := os.ReadFile("../../../../shared/corpus/receipt.ndjson")
		if err != nil {
			if os.IsNotExist(err) && os.Getenv("CI") == "" {
				t.Skipf("corpus not present: %v", err)
			}
			t.Fatal(err)
		}
		for i, line := range bytes.Split(b, []byte("\n")) {
			if len(line) == 0 || i >= 2000 {
				continue
			}
			sp, err := span.Decode(line, span.DecodeOptions{})
			if err != nil {
				t.Fatalf("corpus line %d: %v", i+1, err)
			}
			check(t, sp)
		}
	})
}

func FuzzSpanFields(f *testing.F) {
	for _, js := range spanFieldsCases {
		f.Add([]byte(js))
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		sp, err := span.Decode(js, span.DecodeOptions{})
		if err != nil {
			return
		}
		want, err := appendFields(nil, spanColumns, spanValues(sp))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := spanFields(sp)
		if !bytes.Equal(got, want) {
			t.Errorf("got %x\nwant %x", got, want)
		}
	})
}

// BenchmarkSpanFields: encoding one corpus-like span's columns for COPY
// (once per Append, in the caller's goroutine), directly and through
// []any as before.
func BenchmarkSpanFields(b *testing.B) {
	sp, err := span.Decode([]byte(`{"id":"s_c97abf2e3398ec71a1d3","tenant":"t_receipt","who":"Resource26","did":"Confirmation of receipt","this":"case:case-891","when":"2010-10-02T07:20:39.266Z","confirmed_by":["group://Group 1"],"status":"confirmed","data":{"channel":"Internet","deadline":"2010-11-26 00:00:00+01:00","department":"General","enddate":"2010-11-12 13:40:44.661000+01:00","enddate_planned":"2010-11-26 00:00:00.010000+01:00","responsible":"Resource26","startdate":"2010-10-01 00:00:00.020000+02:00"}}`), span.DecodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := spanFields(sp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("values", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := appendFields(make([]byte, 0, 1024), spanColumns, spanValues(sp)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
