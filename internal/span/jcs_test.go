package span

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCanonicalizeTestdata runs the pairs in testdata/jcs: NAME.json is the
// input, NAME.out the exact expected JCS. They hold the examples of
// RFC 8785 §3.2.2 and §3.2.3 plus the classic arrays, structures, unicode,
// french and weird cases, and our own controls and numbers.
func TestCanonicalizeTestdata(t *testing.T) {
	inputs, err := filepath.Glob("testdata/jcs/*.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no testdata/jcs/*.json: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(in, ".json") + ".out")
			if err != nil {
				t.Fatal(err)
			}
			got, err := Canonicalize(data)
			if err != nil {
				t.Fatalf("Canonicalize: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			again, err := Canonicalize(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("not idempotent: got %s, %v; want %s", again, err, got)
			}
		})
	}
}

// TestAppendNumberES6 checks the number serialization against the IEEE 754
// values and outputs of RFC 8785 Appendix B.
func TestAppendNumberES6(t *testing.T) {
	tests := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"}, // -0
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatUint(tt.bits, 16), func(t *testing.T) {
			v := math.Float64frombits(tt.bits)
			if got := string(appendNumber(nil, v)); got != tt.want {
				t.Errorf("appendNumber(%v): got %s, want %s", v, got, tt.want)
			}
		})
	}
}

// TestAppendNumberNode compares appendNumber with Number.prototype.toString
// as Node.js computed it for the doubles in testdata/jcs/es6numbers.txt
// (random bit patterns and values around the notation boundaries).
func TestAppendNumberNode(t *testing.T) {
	data, err := os.ReadFile("testdata/jcs/es6numbers.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		hexBits, want, ok := strings.Cut(line, ",")
		bits, err := strconv.ParseUint(hexBits, 16, 64)
		if !ok || err != nil {
			t.Fatalf("bad line %q", line)
		}
		v := math.Float64frombits(bits)
		if got := string(appendNumber(nil, v)); got != want {
			t.Errorf("appendNumber(%s = %g): got %s, want %s", hexBits, v, got, want)
		}
		n++
	}
	if n < 4000 {
		t.Errorf("got %d numbers, want at least 4000", n)
	}
}

// TestAppendNumberRoundTrip checks, over random doubles, that the output
// parses back to the same value and has the shape ECMAScript prescribes.
func TestAppendNumberRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		v := math.Float64frombits(r.Uint64())
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		got := string(appendNumber(nil, v))
		back, err := strconv.ParseFloat(got, 64)
		if err != nil || back != v && !(v == 0 && back == 0) {
			t.Fatalf("appendNumber(%g) = %s: parses back to %g, %v", v, got, back, err)
		}
		a := math.Abs(v)
		hasExp := strings.ContainsRune(got, 'e')
		if wantExp := a != 0 && (a < 1e-6 || a >= 1e21); hasExp != wantExp {
			t.Fatalf("appendNumber(%g) = %s: exponent form %v, want %v", v, got, hasExp, wantExp)
		}
		if strings.ContainsAny(got, "E+") && !strings.Contains(got, "e+") {
			t.Fatalf("appendNumber(%g) = %s: malformed exponent", v, got)
		}
	}
}

func TestCompareKeysUTF16(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"a", "b", -1},
		{"b", "a", 1},
		{"a", "ab", -1},
		{"A", "a", -1},
		{"\u00f6", "\u20ac", -1},
		{"\u20ac", "\U0001F600", -1},
		{"\U0001F600", "\ufb33", -1}, // surrogates sort below U+E000–U+FFFF
		{"\ufffd", "\U00010000", 1},
		{"\ue000", "\U0010FFFF", 1},
		{"\U0001F600", "\U0001F601", -1},
		{"x\U0001F600", "x\uffff", -1},
		{"x\u00e9", "x\u00e9", 0},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.a)+"_"+strconv.Quote(tt.b), func(t *testing.T) {
			got := compareKeys([]byte(tt.a), []byte(tt.b))
			got = max(-1, min(1, got))
			if got != tt.want {
				t.Errorf("compareKeys(%q, %q): got %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// TestCanonicalizeErrors checks that Canonicalize applies the JSON rules and
// locates each failure.
func TestCanonicalizeErrors(t *testing.T) {
	deep := strings.Repeat("[", DefaultMaxDepth) + strings.Repeat("]", DefaultMaxDepth)
	tests := []struct {
		name, in    string
		code, ptr   string
		wantOffset  int // -2: don't check
		wantContain string
	}{
		{"empty", "", CodeMalformedJSON, "", 0, "unexpected end of input"},
		{"whitespace only", "  \n", CodeMalformedJSON, "", 3, ""},
		{"bare word", "nul", CodeMalformedJSON, "", 3, ""},
		{"trailing data", `{"a":1} x`, CodeMalformedJSON, "", 8, "after top-level value"},
		{"two values", `1 2`, CodeMalformedJSON, "", 2, ""},
		{"trailing comma object", `{"a":1,}`, CodeMalformedJSON, "", 7, ""},
		{"trailing comma array", `{"a":[1,]}`, CodeMalformedJSON, "/a/1", 8, ""},
		{"missing colon", `{"a" 1}`, CodeMalformedJSON, "", 5, ""},
		{"single quotes", `{'a':1}`, CodeMalformedJSON, "", 1, ""},
		{"leading zero", `[01]`, CodeMalformedJSON, "/0", 2, ""},
		{"plus sign", `[+1]`, CodeMalformedJSON, "/0", 1, ""},
		{"bare dot", `[1.]`, CodeMalformedJSON, "/0", 3, ""},
		{"bad exponent", `[1e]`, CodeMalformedJSON, "/0", 3, ""},
		{"NaN", `[NaN]`, CodeMalformedJSON, "/0", 1, ""},
		{"raw newline in string", "[\"a\nb\"]", CodeMalformedJSON, "/0", 3, "control character"},
		{"bad escape", `["\x"]`, CodeMalformedJSON, "/0", 2, "invalid escape"},
		{"short unicode escape", `["\u12"]`, CodeMalformedJSON, "/0", 2, ""},
		{"unterminated string", `{"a":"bc`, CodeMalformedJSON, "/a", 8, "unterminated string"},
		{"unterminated object", `{"a":1`, CodeMalformedJSON, "", 6, ""},
		{"BOM", "\ufeff{}", CodeMalformedJSON, "", 0, ""},
		{"invalid UTF-8 in string", "[\"\xff\"]", CodeInvalidUTF8, "/0", 2, ""},
		{"invalid UTF-8 in key", "{\"a\":{\"\xc3(\":1}}", CodeInvalidUTF8, "/a", 7, ""},
		{"invalid UTF-8 outside strings", "[1]\xff", CodeInvalidUTF8, "", 3, ""},
		{"overlong UTF-8", "[\"\xc0\xaf\"]", CodeInvalidUTF8, "/0", 2, ""},
		{"UTF-8 encoded surrogate", "[\"\xed\xa0\x80\"]", CodeInvalidUTF8, "/0", 2, ""},
		{"truncated UTF-8", "[\"\xe2\x82\"]", CodeInvalidUTF8, "/0", 2, ""},
		{"lone high surrogate", `["\ud800"]`, CodeInvalidUTF8, "/0", 2, "lone surrogate"},
		{"lone low surrogate", `["\udc00"]`, CodeInvalidUTF8, "/0", 2, "lone surrogate"},
		{"high surrogate then BMP", `["\ud800\u0041"]`, CodeInvalidUTF8, "/0", 2, ""},
		{"duplicate key", `{"a":1,"a":2}`, CodeDuplicateKey, "/a", 7, `duplicate key "a"`},
		{"duplicate key unsorted", `{"b":1,"a":1,"b":2}`, CodeDuplicateKey, "/b", 13, ""},
		{"duplicate key nested", `{"x":[{"k":1,"k":2}]}`, CodeDuplicateKey, "/x/0/k", 13, ""},
		{"duplicate key by escape", `{"a":1,"\u0061":2}`, CodeDuplicateKey, "/a", 7, ""},
		{"duplicate key needing pointer escape", `{"a/b~":1,"a/b~":2}`, CodeDuplicateKey, "/a~1b~0", 10, ""},
		{"too deep", "[" + deep + "]", CodeTooDeep, "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0", 32, ""},
		{"integer beyond 2^53", `[9007199254740993]`, CodeNumberRange, "/0", 1, "2^53"},
		{"negative integer beyond 2^53", `{"n":-9007199254740993}`, CodeNumberRange, "/n", 5, ""},
		{"long integer", `[123456789012345678901234567890]`, CodeNumberRange, "/0", 1, ""},
		{"fraction beyond 2^53", `[9007199254740993.5]`, CodeNumberRange, "/0", 1, ""},
		{"exponent integer beyond 2^53", `[1e20]`, CodeNumberRange, "/0", 1, "2^53"},
		{"exponent value just under 1e21", `[9.99e20]`, CodeNumberRange, "/0", 1, ""},
		{"negative exponent value beyond 2^53", `[-2.5E17]`, CodeNumberRange, "/0", 1, ""},
		{"float overflow", `[1e400]`, CodeNumberRange, "/0", 1, ""},
		{"negative float overflow", `[-1.8e308]`, CodeNumberRange, "/0", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Canonicalize([]byte(tt.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %s, %v; want *Error %s", out, err, tt.code)
			}
			if e.Code != tt.code || e.Pointer != tt.ptr {
				t.Errorf("got code %s pointer %q, want %s %q (%v)", e.Code, e.Pointer, tt.code, tt.ptr, e)
			}
			if tt.wantOffset != -2 && e.Offset != tt.wantOffset {
				t.Errorf("got offset %d, want %d (%v)", e.Offset, tt.wantOffset, e)
			}
			if !strings.Contains(e.Detail, tt.wantContain) {
				t.Errorf("got detail %q, want it to contain %q", e.Detail, tt.wantContain)
			}
		})
	}
}

func TestCanonicalizeDepthLimit(t *testing.T) {
	ok := strings.Repeat("[", DefaultMaxDepth) + strings.Repeat("]", DefaultMaxDepth)
	if _, err := Canonicalize([]byte(ok)); err != nil {
		t.Errorf("depth %d: got %v, want success", DefaultMaxDepth, err)
	}
	obj := strings.Repeat(`{"a":`, DefaultMaxDepth) + "1" + strings.Repeat("}", DefaultMaxDepth)
	if _, err := Canonicalize([]byte(obj)); err != nil {
		t.Errorf("object depth %d: got %v, want success", DefaultMaxDepth, err)
	}
	obj = `{"a":` + obj + "}"
	var e *Error
	if _, err := Canonicalize([]byte(obj)); !errors.As(err, &e) || e.Code != CodeTooDeep {
		t.Errorf("object depth %d: got %v, want %s", DefaultMaxDepth+1, err, CodeTooDeep)
	}
}

func TestCanonicalizeLargeObjectSort(t *testing.T) {
	// More members than the insertion-sort cutoff, in reverse order.
	var b strings.Builder
	b.WriteString("{")
	for i := 99; i >= 0; i-- {
		if i < 99 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strconv.Itoa(1000+i) + `":` + strconv.Itoa(i))
	}
	b.WriteString("}")
	got, err := Canonicalize([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	want.WriteString("{")
	for i := range 100 {
		if i > 0 {
			want.WriteString(",")
		}
		want.WriteString(`"k` + strconv.Itoa(1000+i) + `":` + strconv.Itoa(i))
	}
	want.WriteString("}")
	if string(got) != want.String() {
		t.Errorf("got %s, want %s", got, want.String())
	}
	dup := strings.Replace(b.String(), `"k1050"`, `"k1007"`, 1)
	var e *Error
	if _, err := Canonicalize([]byte(dup)); !errors.As(err, &e) || e.Code != CodeDuplicateKey || e.Pointer != "/k1007" {
		t.Errorf("got %v, want %s at /k1007", err, CodeDuplicateKey)
	}
}
