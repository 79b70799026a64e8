package pgstore

import (
	"bytes"
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
