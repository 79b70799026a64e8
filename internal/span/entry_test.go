package span

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

var testReceivedAt = time.Date(2025, 5, 6, 7, 8, 9, 120000000, time.UTC)

func TestRoundTrip(t *testing.T) {
	tests := []struct{ name, in string }{
		{"minimal", with()},
		{"server id", without("id")},
		{"aliases", without("tenant", `"tenant_id":"t1"`)},
		{"all server-field neighbours", with(`"language":"go"`, `"metadata":{}`, `"parent_id":"p"`, `"related_to":[]`)},
		{"only members after the server fields", obj(`"tenant":"t1"`, `"who":"w"`, `"did":"d"`, `"this":"t"`, `"when":"2025-01-02T03:04:05Z"`, `"seq":1`, `"status":"s"`)},
		{"signed", signed(t, `"data":{"k":[1,2]}`)},
		{"escapes", without("who", `"who":"\u0000\"\\\u2028"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Decode([]byte(tt.in), testOpts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			prev := mustHash(t, strings.Repeat("ab", 32))
			line := s.AppendEntry([]byte("prefix"), 7, prev, testReceivedAt.In(time.FixedZone("X", -7200)))
			if !bytes.HasPrefix(line, []byte("prefix{")) {
				t.Fatalf("AppendEntry did not append: %s", line)
			}
			line = line[len("prefix"):]
			e, err := ParseEntry(line)
			if err != nil {
				t.Fatalf("ParseEntry(%s): %v", line, err)
			}
			if e.Hash != s.Hash || e.ID != s.ID || e.Tenant != s.Tenant || e.Who != s.Who || e.Did != s.Did ||
				e.This != s.This || !e.When.Equal(s.When) || e.Seq != s.Seq || e.EntityType != s.EntityType ||
				e.Status != s.Status || e.TraceID != s.TraceID || e.Signed != s.Signed || !bytes.Equal(e.PublicKey, s.PublicKey) {
				t.Errorf("got entry span %+v, want %+v", e.Span, *s)
			}
			if e.LogIndex != 7 || e.PrevHash != prev || !e.ReceivedAt.Equal(testReceivedAt) || e.ReceivedAt.Location() != time.UTC {
				t.Errorf("got server fields %d %s %v", e.LogIndex, e.PrevHash, e.ReceivedAt)
			}
			if !bytes.Equal(e.Line, line) || &e.Line[0] != &line[0] {
				t.Errorf("Line does not alias the input")
			}
			if !bytes.Equal(e.Canonical(), s.Canonical()) {
				t.Errorf("got canonical %s, want %s", e.Canonical(), s.Canonical())
			}
			if again := e.AppendEntry(nil, e.LogIndex, e.PrevHash, e.ReceivedAt); !bytes.Equal(again, line) {
				t.Errorf("re-encoded entry: got %s, want %s", again, line)
			}
		})
	}
}

func TestAppendEntryLayout(t *testing.T) {
	s, err := Decode([]byte(with(`"data":{"x":1}`, `"seq":1`)), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := string(s.AppendEntry(nil, 0, ZeroHash, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)))
	want := `{"curr_hash":"` + s.Hash.String() + `","data":{"x":1},"did":"bought","id":"s_1","log_index":0,` +
		`"prev_hash":"` + strings.Repeat("0", 64) + `","received_at":"2025-01-02T03:04:05Z","seq":1,"tenant":"t1",` +
		`"this":"bread","when":"2025-01-02T03:04:05Z","who":"alice"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// An empty Span still encodes a valid object.
	var empty Span
	if got, want := string(empty.AppendEntry(nil, 1, ZeroHash, time.Unix(0, 0))), `{"log_index":1,"prev_hash":"`+strings.Repeat("0", 64)+`","received_at":"1970-01-01T00:00:00Z"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestAppendEntryAllocs(t *testing.T) {
	s, err := Decode([]byte(with(`"data":{"x":1}`)), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		buf = s.AppendEntry(buf[:0], 123456, s.Hash, testReceivedAt)
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per AppendEntry, want 0", allocs)
	}
}

func TestParseEntryErrors(t *testing.T) {
	s, err := Decode([]byte(with(`"data":{"n":1,"s":"x"}`)), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good := string(s.AppendEntry(nil, 5, ZeroHash, testReceivedAt))
	sig := signed(t)
	ss, err := Decode([]byte(sig), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	goodSigned := string(ss.AppendEntry(nil, 6, ZeroHash, testReceivedAt))
	sigValue := func() string {
		v, _ := ss.Field("signature")
		return strings.Trim(string(v), `"`)
	}()
	badSig := []byte(sigValue)
	badSig[0] = map[bool]byte{true: '1', false: '0'}[badSig[0] == '0']

	tests := []struct {
		name, in, code, pointer string
	}{
		{"empty", "", CodeMalformedJSON, ""},
		{"truncated", good[:len(good)-1], CodeMalformedJSON, ""},
		{"with newline", good + "\n", CodeNotCanonical, ""},
		{"whitespace", strings.Replace(good, `,"did"`, `, "did"`, 1), CodeNotCanonical, ""},
		{"reordered members", strings.Replace(good, `"did":"bought","id":"s_1"`, `"id":"s_1","did":"bought"`, 1), CodeNotCanonical, ""},
		{"reordered nested members", strings.Replace(good, `{"n":1,"s":"x"}`, `{"s":"x","n":1}`, 1), CodeNotCanonical, ""},
		{"non-canonical number", strings.Replace(good, `"n":1`, `"n":1.0`, 1), CodeNotCanonical, ""},
		{"non-canonical escape", strings.Replace(good, `"s":"x"`, `"s":"\u0078"`, 1), CodeNotCanonical, ""},
		{"received_at with offset", strings.Replace(good, `"2025-05-06T07:08:09.12Z"`, `"2025-05-06T09:08:09.12+02:00"`, 1), CodeNotCanonical, ""},
		{"received_at trailing zero", strings.Replace(good, `"2025-05-06T07:08:09.12Z"`, `"2025-05-06T07:08:09.120Z"`, 1), CodeNotCanonical, ""},
		{"alias", strings.Replace(good, `"tenant":`, `"tenant_id":`, 1), CodeNotCanonical, "/tenant_id"},
		{"changed content", strings.Replace(good, `"who":"alice"`, `"who":"alicf"`, 1), CodeHashMismatch, "/curr_hash"},
		{"changed nested content", strings.Replace(good, `"n":1`, `"n":2`, 1), CodeHashMismatch, "/curr_hash"},
		{"bad signature", strings.Replace(goodSigned, sigValue, string(badSig), 1), CodeBadSignature, "/signature"},
		{"missing curr_hash", dropMember(good, "curr_hash"), CodeMissingField, "/curr_hash"},
		{"missing log_index", dropMember(good, "log_index"), CodeMissingField, "/log_index"},
		{"missing prev_hash", dropMember(good, "prev_hash"), CodeMissingField, "/prev_hash"},
		{"missing received_at", dropMember(good, "received_at"), CodeMissingField, "/received_at"},
		{"missing id", dropMember(good, "id"), CodeMissingField, "/id"},
		{"bad prev_hash", strings.Replace(good, strings.Repeat("0", 64), strings.Repeat("g", 64), 1), CodeInvalidField, "/prev_hash"},
		{"bad received_at", strings.Replace(good, `"2025-05-06T07:08:09.12Z"`, `"yesterday"`, 1), CodeInvalidField, "/received_at"},
		{"negative log_index", strings.Replace(good, `"log_index":5`, `"log_index":-5`, 1), CodeInvalidField, "/log_index"},
		{"unknown field", strings.Replace(good, `"did":`, `"die":1,"did":`, 1), CodeUnknownField, "/die"},
		{"duplicate", strings.Replace(good, `"did":"bought",`, `"did":"bought","did":"bought",`, 1), CodeDuplicateKey, "/did"},
		{"not an object", `[]`, CodeInvalidField, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEntry([]byte(tt.in))
			if err == nil {
				t.Fatalf("got entry %s, want error %s", e.Line, tt.code)
			}
			wantError(t, err, tt.code, tt.pointer)
		})
	}
	if _, err := ParseEntry([]byte(good)); err != nil {
		t.Errorf("good entry: %v", err)
	}
	if _, err := ParseEntry([]byte(goodSigned)); err != nil {
		t.Errorf("good signed entry: %v", err)
	}
}

// TestParseEntryNoLimits checks that stored entries are read whatever the
// limits they were accepted under.
func TestParseEntryNoLimits(t *testing.T) {
	big := with(`"code":"`+strings.Repeat("x", 2*DefaultMaxSpanBytes)+`"`, `"data":`+nest(100))
	s, err := Decode([]byte(big), DecodeOptions{Limits: Limits{MaxSpanBytes: 4 * DefaultMaxSpanBytes, MaxDepth: 200}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseEntry(s.AppendEntry(nil, 1, ZeroHash, testReceivedAt)); err != nil {
		t.Errorf("ParseEntry: %v", err)
	}
}

// TestFieldString: FieldString gives what Field gives, without a copy.
func TestFieldString(t *testing.T) {
	sp, err := Decode([]byte(`{"id":"a","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05+01:00","data":{"b":[1,2],"a":"é"},"confirmed_by":[]}`), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"id", "tenant", "when", "data", "confirmed_by", "status", "log_index", "nope", "curr_hash"} {
		b, ok1 := sp.Field(name)
		s, ok2 := sp.FieldString(name)
		if ok1 != ok2 || string(b) != s {
			t.Errorf("%s: Field %q %v, FieldString %q %v", name, b, ok1, s, ok2)
		}
	}
	if s, _ := sp.FieldString("data"); s != `{"a":"é","b":[1,2]}` {
		t.Errorf("data %s", s)
	}
}
