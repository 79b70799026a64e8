package span

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

// baseMembers is a minimal valid span.
var baseMembers = []string{
	`"id":"s_1"`,
	`"tenant":"t1"`,
	`"who":"alice"`,
	`"did":"bought"`,
	`"this":"bread"`,
	`"when":"2025-01-02T03:04:05Z"`,
}

func obj(members ...string) string { return "{" + strings.Join(members, ",") + "}" }

// with is the base span plus extra members.
func with(extra ...string) string {
	return obj(append(slices.Clone(baseMembers), extra...)...)
}

// without is the base span without the member named key, plus extra.
func without(key string, extra ...string) string {
	var ms []string
	for _, m := range baseMembers {
		if !strings.HasPrefix(m, `"`+key+`":`) {
			ms = append(ms, m)
		}
	}
	return obj(append(ms, extra...)...)
}

// fixedID is a DecodeOptions.NewID for tests.
func fixedID() string { return "s_01J0000000000000000000TEST" }

var testOpts = DecodeOptions{NewID: fixedID}

// testKey is the key pair of RFC 8032 §7.1 test 1.
func testKey(t testing.TB) KeyPair {
	t.Helper()
	seed, err := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	if err != nil {
		t.Fatal(err)
	}
	return keyPairFromSeed(seed)
}

// signed returns the base span (plus extra) signed with testKey.
func signed(t testing.TB, extra ...string) string {
	t.Helper()
	out, err := Sign([]byte(with(extra...)), testKey(t), testOpts)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return string(out)
}

// wantError asserts that err is an *Error with code and pointer.
func wantError(t *testing.T, err error, code, pointer string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want *Error %s at %q", err, err, code, pointer)
	}
	if e.Code != code || e.Pointer != pointer {
		t.Errorf("got %s at %q, want %s at %q (detail: %s)", e.Code, e.Pointer, code, pointer, e.Detail)
	}
	if e.Detail == "" {
		t.Errorf("got empty detail for %s", e.Code)
	}
	return e
}

func nest(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func TestDecodeErrors(t *testing.T) {
	base := with()
	sig := signed(t)
	sigField := func(s string) string {
		i := strings.Index(s, `"signature":"`) + len(`"signature":"`)
		return s[i : i+128]
	}(sig)
	flipped := []byte(sigField)
	flipped[10] ^= 1 // '0'..'9' ↔ neighbour, 'a'..'f' ↔ neighbour: still hex
	if flipped[10] > 'f' || flipped[10] < '0' || (flipped[10] > '9' && flipped[10] < 'a') {
		flipped[10] = '0'
	}

	tests := []struct {
		name    string
		in      string
		limits  Limits
		code    string
		pointer string
	}{
		// Not JSON.
		{"empty", "", Limits{}, CodeMalformedJSON, ""},
		{"malformed", `{"id":"s_1",}`, Limits{}, CodeMalformedJSON, ""},
		{"malformed nested", with(`"data":{"a":1,]}`), Limits{}, CodeMalformedJSON, "/data"},
		{"missing colon", `{"tenant" "t1"}`, Limits{}, CodeMalformedJSON, ""},
		{"truncated", base[:len(base)-5], Limits{}, CodeMalformedJSON, "/when"},
		{"truncated after value", base[:len(base)-1], Limits{}, CodeMalformedJSON, ""},
		{"trailing data", base + ` {}`, Limits{}, CodeMalformedJSON, ""},
		{"not an object", `["span"]`, Limits{}, CodeInvalidField, ""},
		{"null", `null`, Limits{}, CodeInvalidField, ""},
		// Encoding.
		{"invalid UTF-8 in value", without("who", "\"who\":\"al\xffce\""), Limits{}, CodeInvalidUTF8, "/who"},
		{"invalid UTF-8 in nested key", with("\"data\":{\"\xc3(\":1}"), Limits{}, CodeInvalidUTF8, "/data"},
		{"invalid UTF-8 in top-level key", "{\"\xff\":1}", Limits{}, CodeInvalidUTF8, ""},
		{"invalid UTF-8 after value", base + "\xff", Limits{}, CodeInvalidUTF8, ""},
		{"lone surrogate", without("who", `"who":"\ud800"`), Limits{}, CodeInvalidUTF8, "/who"},
		{"lone low surrogate nested", with(`"data":{"x":["\udc00"]}`), Limits{}, CodeInvalidUTF8, "/data/x/0"},
		// Size and depth.
		{"oversize span", with(`"code":"` + strings.Repeat("x", DefaultMaxSpanBytes) + `"`), Limits{}, CodeTooLarge, ""},
		{"oversize for configured limit", base, Limits{MaxSpanBytes: 64}, CodeTooLarge, ""},
		{"canonical form oversize", without("id"), Limits{MaxSpanBytes: len(without("id")) + 10}, CodeTooLarge, ""},
		{"too deep", with(`"data":` + nest(DefaultMaxDepth)), Limits{}, CodeTooDeep, "/data" + strings.Repeat("/a", DefaultMaxDepth-1)},
		{"too deep array", with(`"data":{"x":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`), Limits{}, CodeTooDeep, "/data/x" + strings.Repeat("/0", 30)},
		{"too deep configured", with(`"data":{"a":{}}`), Limits{MaxDepth: 2}, CodeTooDeep, "/data/a"},
		// Numbers.
		{"integer beyond 2^53", with(`"data":{"n":9007199254740993}`), Limits{}, CodeNumberRange, "/data/n"},
		{"negative integer beyond 2^53", with(`"data":{"n":[-9007199254740993]}`), Limits{}, CodeNumberRange, "/data/n/0"},
		{"exponent integer beyond 2^53", with(`"data":{"n":5e17}`), Limits{}, CodeNumberRange, "/data/n"},
		{"float overflow", with(`"metadata":{"n":1e999}`), Limits{}, CodeNumberRange, "/metadata/n"},
		{"seq beyond 2^53", with(`"seq":9007199254740993`), Limits{}, CodeNumberRange, "/seq"},
		// Duplicates.
		{"duplicate top-level key", with(`"who":"bob"`), Limits{}, CodeDuplicateKey, "/who"},
		{"duplicate nested key", with(`"data":{"a":1,"a":2}`), Limits{}, CodeDuplicateKey, "/data/a"},
		{"duplicate nested key unsorted", with(`"data":{"b":1,"a":{"y":1,"x":2,"y":3}}`), Limits{}, CodeDuplicateKey, "/data/a/y"},
		{"duplicate key in array element", with(`"input":{"l":[{},{"k":1,"k":1}]}`), Limits{}, CodeDuplicateKey, "/input/l/1/k"},
		{"name and alias", with(`"tenant_id":"t1"`), Limits{}, CodeDuplicateKey, "/tenant_id"},
		{"alias and name", without("when", `"at":"2025-01-02T03:04:05Z"`, `"when":"2025-01-02T03:04:05Z"`), Limits{}, CodeDuplicateKey, "/when"},
		{"duplicate by escape", with(`"\u0077ho":"bob"`), Limits{}, CodeDuplicateKey, "/who"},
		// Server fields.
		{"log_index", with(`"log_index":5`), Limits{}, CodeServerField, "/log_index"},
		{"prev_hash", with(`"prev_hash":"` + strings.Repeat("0", 64) + `"`), Limits{}, CodeServerField, "/prev_hash"},
		{"received_at", with(`"received_at":"2025-01-02T03:04:05Z"`), Limits{}, CodeServerField, "/received_at"},
		// Unknown fields.
		{"unknown field", with(`"colour":"red"`), Limits{}, CodeUnknownField, "/colour"},
		{"unknown field needing escape", with(`"a/b~c":1`), Limits{}, CodeUnknownField, "/a~1b~0c"},
		{"field name case", with(`"Tenant":"t1"`), Limits{}, CodeUnknownField, "/Tenant"},
		// Missing fields.
		{"missing tenant", without("tenant"), Limits{}, CodeMissingField, "/tenant"},
		{"missing who", without("who"), Limits{}, CodeMissingField, "/who"},
		{"missing did", without("did"), Limits{}, CodeMissingField, "/did"},
		{"missing did explicit span", without("did", `"entity_type":"span"`), Limits{}, CodeMissingField, "/did"},
		{"missing this", without("this"), Limits{}, CodeMissingField, "/this"},
		{"missing when", without("when"), Limits{}, CodeMissingField, "/when"},
		{"missing id without generator", without("id"), Limits{}, CodeMissingField, "/id"},
		// Wrong types.
		{"tenant number", without("tenant", `"tenant":5`), Limits{}, CodeInvalidField, "/tenant"},
		{"who null", without("who", `"who":null`), Limits{}, CodeInvalidField, "/who"},
		{"did object", without("did", `"did":{}`), Limits{}, CodeInvalidField, "/did"},
		{"this array", without("this", `"this":["bread"]`), Limits{}, CodeInvalidField, "/this"},
		{"when number", without("when", `"when":1735787045`), Limits{}, CodeInvalidField, "/when"},
		{"id number", without("id", `"id":1`), Limits{}, CodeInvalidField, "/id"},
		{"seq string", with(`"seq":"1"`), Limits{}, CodeInvalidField, "/seq"},
		{"seq negative", with(`"seq":-1`), Limits{}, CodeInvalidField, "/seq"},
		{"seq fraction", with(`"seq":1.5`), Limits{}, CodeInvalidField, "/seq"},
		{"seq bool", with(`"seq":true`), Limits{}, CodeInvalidField, "/seq"},
		{"duration_ms negative", with(`"duration_ms":-5`), Limits{}, CodeInvalidField, "/duration_ms"},
		{"data array", with(`"data":[]`), Limits{}, CodeInvalidField, "/data"},
		{"input string", with(`"input":"x"`), Limits{}, CodeInvalidField, "/input"},
		{"output null", with(`"output":null`), Limits{}, CodeInvalidField, "/output"},
		{"error string", with(`"error":"boom"`), Limits{}, CodeInvalidField, "/error"},
		{"metadata number", with(`"metadata":1`), Limits{}, CodeInvalidField, "/metadata"},
		{"confirmed_by string", with(`"confirmed_by":"bob"`), Limits{}, CodeInvalidField, "/confirmed_by"},
		{"confirmed_by element", with(`"confirmed_by":["bob",7]`), Limits{}, CodeInvalidField, "/confirmed_by/1"},
		{"related_to element", with(`"related_to":[null]`), Limits{}, CodeInvalidField, "/related_to/0"},
		{"status number", with(`"status":1`), Limits{}, CodeInvalidField, "/status"},
		{"name number", with(`"name":1`), Limits{}, CodeInvalidField, "/name"},
		{"code object", with(`"code":{}`), Limits{}, CodeInvalidField, "/code"},
		{"trace_id number", with(`"trace_id":1`), Limits{}, CodeInvalidField, "/trace_id"},
		// Wrong formats.
		{"id with space", without("id", `"id":"s 1"`), Limits{}, CodeInvalidField, "/id"},
		{"id empty", without("id", `"id":""`), Limits{}, CodeInvalidField, "/id"},
		{"id too long", without("id", `"id":"`+strings.Repeat("a", 129)+`"`), Limits{}, CodeInvalidField, "/id"},
		{"tenant upper case", without("tenant", `"tenant":"Acme"`), Limits{}, CodeInvalidField, "/tenant"},
		{"tenant too long", without("tenant", `"tenant":"`+strings.Repeat("a", 65)+`"`), Limits{}, CodeInvalidField, "/tenant"},
		{"tenant alias bad", without("tenant", `"tenant_id":"a b"`), Limits{}, CodeInvalidField, "/tenant_id"},
		{"entity_type bad", with(`"entity_type":"Span!"`), Limits{}, CodeInvalidField, "/entity_type"},
		{"entity_type empty", with(`"entity_type":""`), Limits{}, CodeInvalidField, "/entity_type"},
		{"who empty", without("who", `"who":""`), Limits{}, CodeInvalidField, "/who"},
		{"this too long", without("this", `"this":"`+strings.Repeat("é", 513)+`"`), Limits{}, CodeInvalidField, "/this"},
		{"did empty", without("did", `"did":""`), Limits{}, CodeInvalidField, "/did"},
		{"status too long", with(`"status":"` + strings.Repeat("s", 65) + `"`), Limits{}, CodeInvalidField, "/status"},
		{"owner_id too long", with(`"owner_id":"` + strings.Repeat("o", 129) + `"`), Limits{}, CodeInvalidField, "/owner_id"},
		{"parent_id too long", with(`"parent_id":"` + strings.Repeat("p", 257) + `"`), Limits{}, CodeInvalidField, "/parent_id"},
		{"visibility", with(`"visibility":"secret"`), Limits{}, CodeInvalidField, "/visibility"},
		{"curr_hash upper case", with(`"curr_hash":"` + strings.Repeat("A", 64) + `"`), Limits{}, CodeInvalidField, "/curr_hash"},
		{"curr_hash short", with(`"curr_hash":"abc"`), Limits{}, CodeInvalidField, "/curr_hash"},
		{"public_key short", with(`"public_key":"abcd"`, `"signature":"`+strings.Repeat("0", 128)+`"`), Limits{}, CodeInvalidField, "/public_key"},
		{"signature not hex", with(`"public_key":"`+strings.Repeat("0", 64)+`"`, `"signature":"`+strings.Repeat("z", 128)+`"`), Limits{}, CodeInvalidField, "/signature"},
		// when.
		{"when yesterday", without("when", `"when":"yesterday"`), Limits{}, CodeInvalidField, "/when"},
		{"when without offset", without("when", `"when":"2025-01-02T03:04:05"`), Limits{}, CodeInvalidField, "/when"},
		{"when with space", without("when", `"when":"2025-01-02 03:04:05Z"`), Limits{}, CodeInvalidField, "/when"},
		{"when date only", without("when", `"when":"2025-01-02"`), Limits{}, CodeInvalidField, "/when"},
		{"when February 30", without("when", `"when":"2025-02-30T00:00:00Z"`), Limits{}, CodeInvalidField, "/when"},
		{"when February 29 non-leap", without("when", `"when":"2023-02-29T00:00:00Z"`), Limits{}, CodeInvalidField, "/when"},
		{"when hour 24", without("when", `"when":"2025-01-02T24:00:00Z"`), Limits{}, CodeInvalidField, "/when"},
		{"when offset without colon", without("when", `"when":"2025-01-02T03:04:05+0100"`), Limits{}, CodeInvalidField, "/when"},
		{"when offset hour 24", without("when", `"when":"2025-01-02T03:04:05+24:00"`), Limits{}, CodeInvalidField, "/when"},
		{"when empty fraction", without("when", `"when":"2025-01-02T03:04:05.Z"`), Limits{}, CodeInvalidField, "/when"},
		{"when trailing", without("when", `"when":"2025-01-02T03:04:05Zx"`), Limits{}, CodeInvalidField, "/when"},
		{"at alias bad", without("when", `"at":"soon"`), Limits{}, CodeInvalidField, "/at"},
		// Hash and signature.
		{"wrong curr_hash", with(`"curr_hash":"` + strings.Repeat("ab", 32) + `"`), Limits{}, CodeHashMismatch, "/curr_hash"},
		{"bad signature", strings.Replace(sig, sigField, string(flipped), 1), Limits{}, CodeBadSignature, "/signature"},
		{"tampered signed span", strings.Replace(sig, `"who":"alice"`, `"who":"mallory"`, 1), Limits{}, CodeHashMismatch, "/curr_hash"},
		{"tampered signed span without curr_hash", dropMember(strings.Replace(sig, `"who":"alice"`, `"who":"mallory"`, 1), "curr_hash"), Limits{}, CodeBadSignature, "/signature"},
		{"signature without public_key", dropMember(sig, "public_key"), Limits{}, CodeInvalidField, "/public_key"},
		{"public_key without signature", dropMember(sig, "signature"), Limits{}, CodeInvalidField, "/signature"},
		{"signed without id", dropMember(sig, "id"), Limits{}, CodeInvalidField, "/id"},
		{"signed with alias", strings.Replace(sig, `"tenant":`, `"tenant_id":`, 1), Limits{}, CodeInvalidField, "/tenant_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DecodeOptions{Limits: tt.limits}
			if tt.name == "canonical form oversize" {
				opts.NewID = fixedID
			}
			s, err := Decode([]byte(tt.in), opts)
			if err == nil {
				t.Fatalf("got span %s, want error %s at %q", s.Canonical(), tt.code, tt.pointer)
			}
			wantError(t, err, tt.code, tt.pointer)
		})
	}
}

// dropMember removes the member named key from a canonical object.
func dropMember(s, key string) string {
	i := strings.Index(s, `"`+key+`":`)
	if i < 0 {
		panic("no member " + key)
	}
	j := i + len(key) + 3
	if s[j] == '"' {
		j = j + 1 + strings.IndexByte(s[j+1:], '"') + 1
	} else {
		for s[j] != ',' && s[j] != '}' {
			j++
		}
	}
	if s[j] == ',' {
		return s[:i] + s[j+1:]
	}
	return strings.TrimSuffix(s[:i], ",") + s[j:]
}

func TestDecodeErrorDetails(t *testing.T) {
	big := with(`"code":"` + strings.Repeat("x", DefaultMaxSpanBytes) + `"`)
	tests := []struct {
		name, in, want string
		at             string // the offset is where this first occurs in in; "" for -1
	}{
		{"when", without("when", `"when":"yesterday"`), `when: "yesterday" is not an RFC 3339 timestamp with offset`, `"yesterday"`},
		{"at", without("when", `"at":"yesterday"`), `at: "yesterday" is not an RFC 3339 timestamp with offset`, `"yesterday"`},
		{"type", with(`"seq":"1"`), `seq: must be an integer, got string`, `"1"`},
		{"unknown", with(`"colour":"red"`), `unknown field "colour"`, `"colour"`},
		{"server", with(`"log_index":1`), `log_index is assigned by the server and must not be sent`, `"log_index"`},
		{"missing", without("tenant"), `tenant: required field is missing`, ""},
		{"malformed", `{"who":}`, `unexpected character '}' looking for beginning of value at byte 7 in /who`, `}`},
		{"length", without("who", `"who":"`+strings.Repeat("w", 1100)+`"`), `who: is 1100 bytes; at most 1024 are allowed`, `"www`},
		{"long value is cut", without("id", `"id":"`+strings.Repeat("i", 200)+`"`), `id: "` + strings.Repeat("i", maxQuoted) + `"… must be 1–128 characters from [A-Za-z0-9._:~-]`, `"iii`},
		{"hash mismatch", with(`"curr_hash":"` + strings.Repeat("ab", 32) + `"`), `curr_hash: sent ` + strings.Repeat("ab", 32) + ` but the content hashes to ` + mustDecode(t, with()).Hash.String(), `"abab`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in), DecodeOptions{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if e.Detail != tt.want {
				t.Errorf("got detail %q, want %q", e.Detail, tt.want)
			}
			want := -1
			if tt.at != "" {
				want = strings.Index(tt.in, tt.at)
			}
			if e.Offset != want {
				t.Errorf("got offset %d, want %d", e.Offset, want)
			}
		})
	}
	_, err := Decode([]byte(big), DecodeOptions{})
	e := wantError(t, err, CodeTooLarge, "")
	if want := fmt.Sprintf("span is %d bytes; the limit is %d", len(big), DefaultMaxSpanBytes); e.Detail != want {
		t.Errorf("got detail %q, want %q", e.Detail, want)
	}
}

func mustDecode(t testing.TB, in string) *Span {
	t.Helper()
	s, err := Decode([]byte(in), testOpts)
	if err != nil {
		t.Fatalf("Decode(%s): %v", in, err)
	}
	return s
}

func TestErrorString(t *testing.T) {
	e := &Error{Code: CodeInvalidField, Pointer: "/when", Detail: `when: "x" is not an RFC 3339 timestamp with offset`, Offset: 12}
	want := `when: "x" is not an RFC 3339 timestamp with offset [invalid_field at /when, byte 12]`
	if got := e.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e = &Error{Code: CodeMissingField, Detail: "d", Offset: -1}
	if got, want := e.Error(), "d [missing_field]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		opts      DecodeOptions
		wantCanon string // canonical without curr_hash
		check     func(t *testing.T, s *Span)
	}{
		{
			name:      "minimal",
			in:        with(),
			wantCanon: `{"did":"bought","id":"s_1","tenant":"t1","this":"bread","when":"2025-01-02T03:04:05Z","who":"alice"}`,
			check: func(t *testing.T, s *Span) {
				if s.ID != "s_1" || s.Tenant != "t1" || s.Who != "alice" || s.Did != "bought" || s.This != "bread" {
					t.Errorf("got fields %q %q %q %q %q", s.ID, s.Tenant, s.Who, s.Did, s.This)
				}
				if s.EntityType != DefaultEntityType || s.Seq != 0 || s.Signed || s.PublicKey != nil {
					t.Errorf("got defaults %q %d %v %v", s.EntityType, s.Seq, s.Signed, s.PublicKey)
				}
				if want := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC); !s.When.Equal(want) || s.When.Location() != time.UTC {
					t.Errorf("got when %v, want %v", s.When, want)
				}
			},
		},
		{
			name:      "whitespace and order do not matter",
			in:        " {\n\t\"when\" : \"2025-01-02T03:04:05Z\" ,\"this\":\"bread\",\"who\":\"alice\",\"did\":\"bought\",\"tenant\":\"t1\",\"id\":\"s_1\"}\r\n",
			wantCanon: `{"did":"bought","id":"s_1","tenant":"t1","this":"bread","when":"2025-01-02T03:04:05Z","who":"alice"}`,
		},
		{
			name:      "aliases are renamed",
			in:        obj(`"id":"s_1"`, `"tenant_id":"t1"`, `"who":"alice"`, `"did":"bought"`, `"this":"bread"`, `"at":"2025-01-02T03:04:05+02:00"`),
			wantCanon: `{"did":"bought","id":"s_1","tenant":"t1","this":"bread","when":"2025-01-02T03:04:05+02:00","who":"alice"}`,
			check: func(t *testing.T, s *Span) {
				if want := time.Date(2025, 1, 2, 1, 4, 5, 0, time.UTC); !s.When.Equal(want) {
					t.Errorf("got when %v, want %v", s.When, want)
				}
				if s.Tenant != "t1" {
					t.Errorf("got tenant %q, want t1", s.Tenant)
				}
			},
		},
		{
			name:      "server-assigned id",
			in:        without("id"),
			opts:      testOpts,
			wantCanon: `{"did":"bought","id":"` + fixedID() + `","tenant":"t1","this":"bread","when":"2025-01-02T03:04:05Z","who":"alice"}`,
			check: func(t *testing.T, s *Span) {
				if s.ID != fixedID() {
					t.Errorf("got id %q, want %q", s.ID, fixedID())
				}
			},
		},
		{
			name:      "did optional for other entity types",
			in:        without("did", `"entity_type":"function"`, `"seq":3`, `"code":"export default 1"`),
			wantCanon: `{"code":"export default 1","entity_type":"function","id":"s_1","seq":3,"tenant":"t1","this":"bread","when":"2025-01-02T03:04:05Z","who":"alice"}`,
			check: func(t *testing.T, s *Span) {
				if s.EntityType != "function" || s.Seq != 3 || s.Did != "" {
					t.Errorf("got %q %d %q", s.EntityType, s.Seq, s.Did)
				}
			},
		},
		{
			name:      "defaults sent are kept",
			in:        with(`"seq":0`, `"entity_type":"span"`, `"visibility":"private"`),
			wantCanon: `{"did":"bought","entity_type":"span","id":"s_1","seq":0,"tenant":"t1","this":"bread","visibility":"private","when":"2025-01-02T03:04:05Z","who":"alice"}`,
		},
		{
			name:      "integral seq forms",
			in:        with(`"seq":1.0e1`, `"duration_ms":0`),
			wantCanon: `{"did":"bought","duration_ms":0,"id":"s_1","seq":10,"tenant":"t1","this":"bread","when":"2025-01-02T03:04:05Z","who":"alice"}`,
			check: func(t *testing.T, s *Span) {
				if s.Seq != 10 {
					t.Errorf("got seq %d, want 10", s.Seq)
				}
			},
		},
		{
			name: "nested keys named like top-level fields are data",
			in:   with(`"data":{"curr_hash":"x","signature":1,"log_index":2,"prev_hash":[],"received_at":{},"id":null,"colour":"red"}`),
			wantCanon: `{"data":{"colour":"red","curr_hash":"x","id":null,"log_index":2,"prev_hash":[],"received_at":{},"signature":1},` +
				`"did":"bought","id":"s_1","tenant":"t1","this":"bread","when":"2025-01-02T03:04:05Z","who":"alice"}`,
		},
		{
			name: "escapes in indexed strings",
			in:   without("who", `"who":"al\"i\\ce\u0001\u00e9\/"`, `"status":"ok\n"`, `"trace_id":"t\u0041"`),
			wantCanon: `{"did":"bought","id":"s_1","status":"ok\n","tenant":"t1","this":"bread","trace_id":"tA",` +
				`"when":"2025-01-02T03:04:05Z","who":"al\"i\\ce\u0001é/"}`,
			check: func(t *testing.T, s *Span) {
				if s.Who != "al\"i\\ce\x01é/" || s.Status != "ok\n" || s.TraceID != "tA" {
					t.Errorf("got who %q status %q trace %q", s.Who, s.Status, s.TraceID)
				}
			},
		},
		{
			name:      "depth limit reached exactly",
			in:        with(`"data":` + nest(DefaultMaxDepth-1)),
			wantCanon: `{"data":` + nest(DefaultMaxDepth-1) + `,"did":"bought","id":"s_1","tenant":"t1","this":"bread","when":"2025-01-02T03:04:05Z","who":"alice"}`,
		},
		{
			name: "all fields",
			in: with(`"seq":2`, `"entity_type":"execution"`, `"confirmed_by":["bob","carol"]`, `"status":"complete"`,
				`"data":{"b":1,"a":2}`, `"input":{}`, `"output":{"ok":true}`, `"error":{}`, `"metadata":{"m":null}`,
				`"parent_id":"p1"`, `"trace_id":"tr1"`, `"owner_id":"o1"`, `"related_to":["s_0"]`, `"visibility":"tenant"`,
				`"name":"n"`, `"description":"d"`, `"code":"c"`, `"language":"js"`, `"runtime":"wasm"`, `"duration_ms":12`),
			wantCanon: `{"code":"c","confirmed_by":["bob","carol"],"data":{"a":2,"b":1},"description":"d","did":"bought","duration_ms":12,` +
				`"entity_type":"execution","error":{},"id":"s_1","input":{},"language":"js","metadata":{"m":null},"name":"n",` +
				`"output":{"ok":true},"owner_id":"o1","parent_id":"p1","related_to":["s_0"],"runtime":"wasm","seq":2,"status":"complete",` +
				`"tenant":"t1","this":"bread","trace_id":"tr1","visibility":"tenant","when":"2025-01-02T03:04:05Z","who":"alice"}`,
			check: func(t *testing.T, s *Span) {
				if s.Seq != 2 || s.EntityType != "execution" || s.Status != "complete" || s.TraceID != "tr1" {
					t.Errorf("got %d %q %q %q", s.Seq, s.EntityType, s.Status, s.TraceID)
				}
				got, ok := s.Field("data")
				if !ok || string(got) != `{"a":2,"b":1}` {
					t.Errorf("Field(data): got %s, %v", got, ok)
				}
				if _, ok := s.Field("colour"); ok {
					t.Errorf("Field(colour): got ok")
				}
				if _, ok := s.Field("log_index"); ok {
					t.Errorf("Field(log_index): got ok")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Decode([]byte(tt.in), tt.opts)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			canon := string(s.Canonical())
			wantHash := blake3.Sum256([]byte(tt.wantCanon))
			if s.Hash != wantHash {
				t.Errorf("got hash %s, want BLAKE3 of %s = %x", s.Hash, tt.wantCanon, wantHash)
			}
			if want := insertCurrHash(tt.wantCanon, s.Hash); canon != want {
				t.Errorf("got canonical\n%s\nwant\n%s", canon, want)
			}
			if got, ok := s.Field("curr_hash"); !ok || string(got) != `"`+s.Hash.String()+`"` {
				t.Errorf("Field(curr_hash): got %s, %v", got, ok)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
			// The stored span decodes to itself.
			again, err := Decode(s.Canonical(), DecodeOptions{})
			if err != nil {
				t.Fatalf("Decode(Canonical()): %v", err)
			}
			if again.Hash != s.Hash || !bytes.Equal(again.Canonical(), s.Canonical()) {
				t.Errorf("Decode(Canonical()): got %s, want %s", again.Canonical(), canon)
			}
		})
	}
}

// insertCurrHash adds the curr_hash member to a canonical span without it.
func insertCurrHash(canon string, h Hash) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(canon), &m); err != nil {
		panic(err)
	}
	m["curr_hash"] = json.RawMessage(`"` + h.String() + `"`)
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	out, err := Canonicalize(b)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// TestHashDefinition recomputes curr_hash the way a client would, from the
// stored form: drop curr_hash and signature, canonicalize, BLAKE3-256.
func TestHashDefinition(t *testing.T) {
	for _, in := range []string{
		with(`"data":{"z":[1,2,{"y":"é"}],"a":1.50}`),
		signed(t, `"data":{"curr_hash":"nested is data"}`),
		without("id"),
	} {
		s, err := Decode([]byte(in), testOpts)
		if err != nil {
			t.Fatalf("Decode(%s): %v", in, err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(s.Canonical(), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "curr_hash")
		delete(m, "signature")
		b, _ := json.Marshal(m)
		c, err := Canonicalize(b)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Hash, Hash(blake3.Sum256(c)); got != want {
			t.Errorf("%s: got hash %s, want %s", in, got, want)
		}
	}
}

// TestHashCoversNestedData guards against Blueprint4's verifySpan bug,
// which drops nested members whose keys are not top-level keys.
func TestHashCoversNestedData(t *testing.T) {
	a, err := Decode([]byte(with(`"data":{"amount":5}`)), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode([]byte(with(`"data":{"amount":6}`)), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode([]byte(with(`"data":{}`)), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash == b.Hash || a.Hash == c.Hash {
		t.Errorf("got equal hashes for different nested data: %s %s %s", a.Hash, b.Hash, c.Hash)
	}
	// Sending the right curr_hash is accepted and stores the same bytes.
	d, err := Decode([]byte(with(`"data":{"amount":5}`, `"curr_hash":"`+a.Hash.String()+`"`)), DecodeOptions{})
	if err != nil {
		t.Fatalf("Decode with correct curr_hash: %v", err)
	}
	if !bytes.Equal(d.Canonical(), a.Canonical()) {
		t.Errorf("got %s, want %s", d.Canonical(), a.Canonical())
	}
}

func TestDecodeLimitsCap(t *testing.T) {
	deep := with(`"data":` + nest(100))
	if _, err := Decode([]byte(deep), DecodeOptions{Limits: Limits{MaxDepth: 1000}}); err != nil {
		t.Errorf("MaxDepth 1000, depth 102: got %v, want success", err)
	}
	deeper := with(`"data":` + nest(maxEntryDepth))
	_, err := Decode([]byte(deeper), DecodeOptions{Limits: Limits{MaxDepth: 1 << 20, MaxSpanBytes: 1 << 20}})
	wantError(t, err, CodeTooDeep, "/data"+strings.Repeat("/a", maxEntryDepth-1))
}
