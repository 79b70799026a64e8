package llst

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestParseClaims(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want payloadClaims
		err  error // nil: accepted
	}{
		{"all", `{"iss":"i","sub":"s","aud":"a","tenant":"t","roles":["r"],"caps":["c","d"],"kind":"user","exp":3,"nbf":1,"iat":2,"jti":"j"}`,
			payloadClaims{iss: "i", sub: "s", aud: []string{"a"}, tenant: "t", roles: []string{"r"}, caps: []string{"c", "d"},
				kind: "user", exp: 3, nbf: 1, iat: 2, jti: "j", have: 1<<11 - 1}, nil},
		{"empty object", ` { } `, payloadClaims{}, nil},
		{"whitespace everywhere", "{\n\t\"exp\" :\r 12 , \"roles\" : [ \"a\" , \"b\" ] }",
			payloadClaims{exp: 12, roles: []string{"a", "b"}, have: hasExp | hasRoles}, nil},
		{"escapes", `{"tenant":"\u0064ef\"ault\\","sub":"\/x"}`, payloadClaims{tenant: `def"ault\`, sub: "/x", have: hasTenant | hasSub}, nil},
		{"aud array", `{"aud":["a","b"]}`, payloadClaims{aud: []string{"a", "b"}, have: hasAud}, nil},
		{"empty arrays", `{"aud":[],"roles":[]}`, payloadClaims{aud: []string{}, roles: []string{}, have: hasAud | hasRoles}, nil},
		{"negative number", `{"nbf":-5}`, payloadClaims{nbf: -5, have: hasNbf}, nil},
		{"largest int64", `{"exp":9223372036854775807}`, payloadClaims{exp: 1<<63 - 1, have: hasExp}, nil},
		{"unknown members skipped", `{"x":{"a":"}]\"","b":[1,{"c":null}]},"y":[["]"]],"z":-1.5e3,"w":true,"v":null,"exp":1}`,
			payloadClaims{exp: 1, have: hasExp}, nil},
		{"other case is another name", `{"Exp":1,"EXP":2}`, payloadClaims{}, nil},

		{"duplicate", `{"exp":1,"exp":2}`, payloadClaims{}, errDuplicate},
		{"fraction", `{"exp":1.0}`, payloadClaims{}, errType},
		{"exponent", `{"exp":1e3}`, payloadClaims{}, errType},
		{"overflow", `{"exp":9223372036854775808}`, payloadClaims{}, errType},
		{"number as string", `{"exp":"1"}`, payloadClaims{}, errType},
		{"null", `{"exp":null}`, payloadClaims{}, errType},
		{"string as number", `{"sub":1}`, payloadClaims{}, errType},
		{"array of numbers", `{"roles":[1]}`, payloadClaims{}, errType},
		{"aud an object", `{"aud":{}}`, payloadClaims{}, errType},
		{"not JSON", `{"exp":1`, payloadClaims{}, errNotObject},
		{"array", `[1]`, payloadClaims{}, errNotObject},
		{"two objects", `{}{}`, payloadClaims{}, errNotObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseClaims([]byte(tt.in))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(payloadClaims{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzJSONObject compares parseClaims with encoding/json: whatever it
// accepts is a JSON object, and each claim it read is what encoding/json
// reads for that member.
func FuzzJSONObject(f *testing.F) {
	for _, s := range []string{
		`{"iss":"i","sub":"s","aud":"a","tenant":"t","roles":["r"],"caps":["c"],"kind":"user","exp":3,"nbf":1,"iat":2,"jti":"j"}`,
		`{"aud":["a","b"],"x":{"y":[1,"]"]}}`,
		`{"tenant":"\u0064\"\\"}`,
		`{"exp":-0}`,
		`{"alg":"EdDSA","kid":"llst-20260301-00000000","typ":"llst+jwt"}`,
		`{"exp":1,"exp":2}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseClaims(data)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil || m == nil {
			t.Fatalf("parseClaims accepted %q, encoding/json: %v", data, err)
		}
		if !utf8.Valid(data) {
			return // encoding/json replaces invalid UTF-8; we keep the bytes
		}
		str := func(name, got string) {
			var want string
			if err := json.Unmarshal(m[name], &want); err != nil || got != want {
				t.Errorf("%s: got %q, encoding/json %q (%v)", name, got, want, err)
			}
		}
		strs := func(name string, got []string) {
			var want []string
			if err := json.Unmarshal(m[name], &want); err != nil || !slices.Equal(got, want) {
				var one string
				if json.Unmarshal(m[name], &one) != nil || name != "aud" || !slices.Equal(got, []string{one}) {
					t.Errorf("%s: got %q, encoding/json %q (%v)", name, got, want, err)
				}
			}
		}
		num := func(name string, got int64) {
			var want int64
			if err := json.Unmarshal(m[name], &want); err != nil || got != want {
				t.Errorf("%s: got %d, encoding/json %d (%v)", name, got, want, err)
			}
		}
		for i, name := range claimNames {
			if c.have&(1<<i) == 0 {
				if _, ok := m[name]; ok {
					t.Errorf("%s present for encoding/json, not for parseClaims", name)
				}
				continue
			}
			switch name {
			case "iss":
				str(name, c.iss)
			case "sub":
				str(name, c.sub)
			case "tenant":
				str(name, c.tenant)
			case "kind":
				str(name, c.kind)
			case "jti":
				str(name, c.jti)
			case "aud":
				strs(name, c.aud)
			case "roles":
				strs(name, c.roles)
			case "caps":
				strs(name, c.caps)
			case "exp":
				num(name, c.exp)
			case "nbf":
				num(name, c.nbf)
			case "iat":
				num(name, c.iat)
			}
		}
	})
}
