package span

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var knownCodes = map[string]bool{
	CodeMalformedJSON: true, CodeInvalidUTF8: true, CodeDuplicateKey: true, CodeTooLarge: true,
	CodeTooDeep: true, CodeNumberRange: true, CodeMissingField: true, CodeInvalidField: true,
	CodeUnknownField: true, CodeServerField: true, CodeHashMismatch: true, CodeBadSignature: true,
	CodeNotCanonical: true,
}

// checkError asserts the shape every error of this package has.
func checkError(t *testing.T, data []byte, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *Error", err, err)
	}
	if !knownCodes[e.Code] || e.Detail == "" || e.Offset < -1 || e.Offset > len(data) {
		t.Fatalf("bad error %#v for %q", e, data)
	}
	if e.Pointer != "" && e.Pointer[0] != '/' {
		t.Fatalf("bad pointer %q", e.Pointer)
	}
	// A syntax error on text encoding/json accepts would be a parser bug.
	if e.Code == CodeMalformedJSON && json.Valid(data) {
		t.Fatalf("reported %v for valid JSON %q", e, data)
	}
	return e
}

// fuzzSeeds adds the golden inputs, a few corpus spans and tricky texts.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	files, _ := filepath.Glob("testdata/golden/*.json")
	jcs, _ := filepath.Glob("testdata/jcs/*.json")
	for _, name := range append(files, jcs...) {
		if data, err := os.ReadFile(name); err == nil {
			seeds = append(seeds, data)
		}
	}
	if data, err := os.ReadFile(corpusPath); err == nil {
		lines := bytes.Split(data, []byte("\n"))
		seeds = append(seeds, lines[:min(8, len(lines))]...)
	}
	for _, s := range []string{
		with(), without("id"), with(`"data":{"b":[1,2.5,1e21,-0],"a":"\u00e9\ud83d\ude00"}`),
		with(`"curr_hash":"` + strings.Repeat("0", 64) + `"`), with(`"log_index":1`),
		`{"a":1,"a":2}`, `[1,2,{"x":null}]`, `"\ud800"`, "\"\xff\"", `1e400`, `9007199254740993`,
		strings.Repeat("[", 40) + strings.Repeat("]", 40), ``, `{`, `{"tenant_id":"t","at":"2025-01-02T03:04:05+01:00","who":"w","did":"d","this":"t"}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte(signed(f)))
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data, testOpts)
		if err != nil {
			checkError(t, data, err)
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		canon := s.Canonical()
		if c, err := Canonicalize(canon); err != nil || !bytes.Equal(c, canon) {
			t.Fatalf("stored form is not canonical: %s → %s, %v", canon, c, err)
		}
		again, err := Decode(canon, DecodeOptions{})
		if err != nil || again.Hash != s.Hash || !bytes.Equal(again.Canonical(), canon) {
			t.Fatalf("stored form does not decode to itself: %s, %v", canon, err)
		}
		line := s.AppendEntry(nil, 9, s.Hash, at)
		e, err := ParseEntry(line)
		if err != nil {
			t.Fatalf("ParseEntry(%s): %v", line, err)
		}
		if e.Hash != s.Hash || e.ID != s.ID || e.Tenant != s.Tenant || e.Who != s.Who || e.Did != s.Did ||
			e.This != s.This || !e.When.Equal(s.When) || e.Seq != s.Seq || e.EntityType != s.EntityType ||
			e.Status != s.Status || e.TraceID != s.TraceID || e.Signed != s.Signed || e.LogIndex != 9 || !e.ReceivedAt.Equal(at) {
			t.Fatalf("round trip: got %+v, want %+v", e.Span, *s)
		}
	})
}

func FuzzParseEntry(f *testing.F) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC)
	for _, seed := range fuzzSeeds(f) {
		if s, err := Decode(seed, testOpts); err == nil {
			f.Add(s.AppendEntry(nil, 3, s.Hash, at))
		} else {
			f.Add(seed)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseEntry(line)
		if err != nil {
			checkError(t, line, err)
			return
		}
		if again := e.AppendEntry(nil, e.LogIndex, e.PrevHash, e.ReceivedAt); !bytes.Equal(again, line) {
			t.Fatalf("accepted non-canonical entry %s (canonical %s)", line, again)
		}
		if !bytes.Equal(e.Line, line) {
			t.Fatalf("Line: got %s, want %s", e.Line, line)
		}
		s, err := Decode(e.Canonical(), DecodeOptions{Limits: Limits{MaxSpanBytes: len(line) + 1, MaxDepth: maxEntryDepth}})
		if err != nil {
			t.Fatalf("Decode(stored span %s): %v", e.Canonical(), err)
		}
		if s.Hash != e.Hash {
			t.Fatalf("hash: got %s, want %s", s.Hash, e.Hash)
		}
	})
}

func FuzzCanonicalize(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Canonicalize(data)
		if err != nil {
			checkError(t, data, err)
			return
		}
		if !json.Valid(data) || !json.Valid(out) {
			t.Fatalf("Canonicalize(%q) = %q: input or output is not JSON", data, out)
		}
		again, err := Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q → %q → %q, %v", data, out, again, err)
		}
		var a, b any
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatalf("encoding/json rejects accepted input %q: %v", data, err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("value changed: %q → %q", data, out)
		}
	})
}
