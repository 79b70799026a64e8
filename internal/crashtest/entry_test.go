package crashtest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
)

// parseEntry extracts the fields the checks need from one stored entry.
// Stored entries are canonical JSON (RFC 8785: one object, no whitespace,
// no duplicate keys), so the fast path walks the top level and skips the
// bulky values (data, …) with bytes.IndexByte instead of decoding them:
// encoding/json does about 13 MB/s under -race, too slow for checking
// the whole log after every restart. Anything unexpected goes to
// encoding/json.
func parseEntry(line []byte) (streamedEntry, error) {
	if e, ok := parseEntryFast(line); ok {
		return e, nil
	}
	var e streamedEntry
	err := json.Unmarshal(line, &e)
	return e, err
}

// jcsWalker walks canonical JSON without decoding it.
type jcsWalker struct {
	b []byte
	i int
}

func (w *jcsWalker) consume(c byte) bool {
	if w.i < len(w.b) && w.b[w.i] == c {
		w.i++
		return true
	}
	return false
}

// str skips a string and returns its raw content (escapes not decoded).
func (w *jcsWalker) str() ([]byte, bool) {
	if !w.consume('"') {
		return nil, false
	}
	start := w.i
	for j := w.i; ; {
		k := bytes.IndexByte(w.b[j:], '"')
		if k < 0 {
			return nil, false
		}
		end := j + k
		n := 0
		for p := end - 1; p >= start && w.b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			w.i = end + 1
			return w.b[start:end], true
		}
		j = end + 1
	}
}

// value skips one value of any kind.
func (w *jcsWalker) value(depth int) bool {
	if w.i >= len(w.b) || depth > 64 {
		return false
	}
	switch w.b[w.i] {
	case '"':
		_, ok := w.str()
		return ok
	case '{':
		w.i++
		if w.consume('}') {
			return true
		}
		for {
			if _, ok := w.str(); !ok || !w.consume(':') || !w.value(depth+1) {
				return false
			}
			if w.consume(',') {
				continue
			}
			return w.consume('}')
		}
	case '[':
		w.i++
		if w.consume(']') {
			return true
		}
		for {
			if !w.value(depth + 1) {
				return false
			}
			if w.consume(',') {
				continue
			}
			return w.consume(']')
		}
	default:
		start := w.i
		for w.i < len(w.b) && w.b[w.i] != ',' && w.b[w.i] != '}' && w.b[w.i] != ']' {
			w.i++
		}
		return w.i > start
	}
}

func parseEntryFast(b []byte) (e streamedEntry, ok bool) {
	w := &jcsWalker{b: b}
	if !w.consume('{') {
		return e, false
	}
	for {
		key, ok := w.str()
		if !ok || !w.consume(':') {
			return e, false
		}
		start := w.i
		if !w.value(1) {
			return e, false
		}
		v := b[start:w.i]
		switch string(key) {
		case "id":
			e.ID, ok = plainString(v)
		case "tenant":
			e.Tenant, ok = plainString(v)
		case "prev_hash":
			e.PrevHash, ok = plainString(v)
		case "curr_hash":
			e.CurrHash, ok = plainString(v)
		case "seq":
			e.Seq, ok = plainUint(v)
		case "log_index":
			var n uint64
			n, ok = plainUint(v)
			e.LogIndex = &n
		}
		if !ok {
			return e, false
		}
		if w.consume(',') {
			continue
		}
		return e, w.consume('}') && w.i == len(b)
	}
}

// plainString is a JSON string without escapes.
func plainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || bytes.IndexByte(v, '\\') >= 0 {
		return "", false
	}
	return string(v[1 : len(v)-1]), true
}

func plainUint(v []byte) (uint64, bool) {
	n, err := strconv.ParseUint(string(v), 10, 64)
	return n, err == nil
}

// TestParseEntry checks the fast path against encoding/json.
func TestParseEntry(t *testing.T) {
	tests := []struct {
		name string
		line string
		fast bool // the fast path takes it
	}{
		{"plain", `{"curr_hash":"ab","data":{"n":1,"pad":"x\"},\\\"y"},"id":"c1","log_index":7,"prev_hash":"00","tenant":"acme","who":"u"}`, true},
		{"seq and arrays", `{"confirmed_by":["a","b\\"],"curr_hash":"cd","data":{"a":[1,{"b":[]},{}],"t":true,"z":null},"id":"x","log_index":0,"prev_hash":"ef","seq":3,"tenant":"t"}`, true},
		{"escaped id falls back", `{"curr_hash":"ab","id":"a\u00e9","log_index":1,"prev_hash":"00","tenant":"t"}`, false},
		{"no log_index", `{"curr_hash":"ab","id":"a","prev_hash":"00","tenant":"t"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want streamedEntry
			if err := json.Unmarshal([]byte(tt.line), &want); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			fast, ok := parseEntryFast([]byte(tt.line))
			if ok != tt.fast {
				t.Fatalf("fast path taken: got %v, want %v", ok, tt.fast)
			}
			got, err := parseEntry([]byte(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			check := func(which string, e streamedEntry) {
				if e.ID != want.ID || e.Tenant != want.Tenant || e.Seq != want.Seq || e.PrevHash != want.PrevHash || e.CurrHash != want.CurrHash ||
					(e.LogIndex == nil) != (want.LogIndex == nil) || (e.LogIndex != nil && *e.LogIndex != *want.LogIndex) {
					t.Errorf("%s: got %+v, want %+v", which, e, want)
				}
			}
			check("parseEntry", got)
			if ok {
				check("parseEntryFast", fast)
			}
		})
	}
	if _, ok := parseEntryFast([]byte(`{"id":"a"} `)); ok {
		t.Errorf("trailing bytes: fast path took it")
	}
}
