package pgstore

import (
	"encoding/binary"
	"fmt"
	"time"
)

// The writer stages rows with COPY … FROM STDIN (FORMAT binary), encoding
// the stream itself instead of handing pgx one []any per row: a span's
// own columns (spanColumns) are encoded once, in the goroutine that calls
// Append, and the writer only appends the columns that depend on the
// entry's place in the log (entryColumns) and the line. The bytes are
// exactly what pgx would send for the same values (TestCopyEncoding).
//
// Format (PostgreSQL's binary COPY): the signature "PGCOPY\n\377\r\n\0",
// a 32-bit flags word and a 32-bit header extension length (both 0);
// per row a 16-bit field count, then per field a 32-bit length (-1 for
// NULL) and the value in the type's binary send format; an int16 -1 ends
// the stream. All integers are big-endian.

// colType is the PostgreSQL type of a registry column, as far as the
// binary encoding goes.
type colType uint8

const (
	colText        colType = iota // text: the UTF-8 bytes
	colInt8                       // bigint
	colInt4                       // integer
	colTimestamptz                // microseconds since 2000-01-01 UTC
	colBytea                      // the bytes
	colJSONB                      // version byte 1, then the JSON text
	colTextArray                  // text[]: a one-dimensional array
)

// column is one registry column the writer fills.
type column struct {
	name string
	typ  colType
}

var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpochMicros is 2000-01-01T00:00:00Z in microseconds since 1970.
const pgEpochMicros = 946_684_800 * 1_000_000

// textOID is the type OID of text, the element type of text[].
const textOID = 25

// appendFields appends the binary COPY fields of values (one per column
// of cols, in order; nil is NULL). A value of a type the column does not
// take is a programming error, reported as such.
func appendFields(dst []byte, cols []column, values []any) ([]byte, error) {
	if len(values) != len(cols) {
		return dst, fmt.Errorf("pgstore: %d values for %d columns", len(values), len(cols))
	}
	for i, c := range cols {
		var err error
		if dst, err = appendField(dst, c.typ, values[i]); err != nil {
			return dst, fmt.Errorf("pgstore: column %s: %w", c.name, err)
		}
	}
	return dst, nil
}

func appendField(dst []byte, t colType, v any) ([]byte, error) {
	if v == nil {
		return binary.BigEndian.AppendUint32(dst, 0xffffffff), nil
	}
	switch x := v.(type) {
	case string:
		if t == colText {
			return appendBytes(dst, []byte(x)), nil
		}
	case []byte:
		switch t {
		case colBytea:
			return appendBytes(dst, x), nil
		case colJSONB:
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(x)+1))
			dst = append(dst, 1)
			return append(dst, x...), nil
		}
	case int64:
		if t == colInt8 {
			return appendInt8(dst, x), nil
		}
	case int32:
		if t == colInt4 {
			dst = binary.BigEndian.AppendUint32(dst, 4)
			return binary.BigEndian.AppendUint32(dst, uint32(x)), nil
		}
	case time.Time:
		if t == colTimestamptz {
			return appendTimestamptz(dst, x), nil
		}
	case []string:
		if t == colTextArray {
			return appendTextArray(dst, x), nil
		}
	}
	return dst, fmt.Errorf("cannot encode %T", v)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

// appendText appends a text (or bytea) field whose bytes value appends.
func appendText(dst []byte, value func([]byte) []byte) []byte {
	at := len(dst)
	dst = value(append(dst, 0, 0, 0, 0))
	binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

func appendInt8(dst []byte, v int64) []byte {
	dst = binary.BigEndian.AppendUint32(dst, 8)
	return binary.BigEndian.AppendUint64(dst, uint64(v))
}

// appendTimestamptz appends t as microseconds since 2000-01-01 UTC, the
// nanoseconds below a microsecond dropped (as pgx does).
func appendTimestamptz(dst []byte, t time.Time) []byte {
	us := t.Unix()*1_000_000 + int64(t.Nanosecond())/1000 - pgEpochMicros
	dst = binary.BigEndian.AppendUint32(dst, 8)
	return binary.BigEndian.AppendUint64(dst, uint64(us))
}

// appendTextArray encodes a text[] in array_recv's format, as pgx does:
// one dimension (of length 0 for an empty array, which PostgreSQL stores
// as the empty array), no NULL elements, element type text, lower bound
// 1, then the elements.
func appendTextArray(dst []byte, ss []string) []byte {
	n := 20
	for _, s := range ss {
		n += 4 + len(s)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = binary.BigEndian.AppendUint32(dst, 1) // dimensions
	dst = binary.BigEndian.AppendUint32(dst, 0) // no NULL elements
	dst = binary.BigEndian.AppendUint32(dst, textOID)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(ss)))
	dst = binary.BigEndian.AppendUint32(dst, 1) // lower bound
	for _, s := range ss {
		dst = appendBytes(dst, []byte(s))
	}
	return dst
}
