package tlog

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestProofJSONMarshal(t *testing.T) {
	a := [32]byte{1}
	b := [32]byte{0xff, 0xfe}
	ab64 := "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	bb64 := "//4AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"inclusion", InclusionProof{Index: 2, Size: 5, LeafHash: a, Hashes: [][32]byte{a, b}},
			`{"index":2,"size":5,"leaf_hash":"` + ab64 + `","hashes":["` + ab64 + `","` + bb64 + `"]}`},
		{"inclusion, no hashes", InclusionProof{Index: 0, Size: 1, LeafHash: b},
			`{"index":0,"size":1,"leaf_hash":"` + bb64 + `","hashes":[]}`},
		{"consistency", ConsistencyProof{From: 3, To: 18446744073709551615, Hashes: [][32]byte{b}},
			`{"from":3,"to":18446744073709551615,"hashes":["` + bb64 + `"]}`},
		{"consistency, no hashes", &ConsistencyProof{From: 0, To: 9},
			`{"from":0,"to":9,"hashes":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestProofJSONUnmarshal(t *testing.T) {
	h := `"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`
	incl := func(s string) string { return strings.ReplaceAll(s, "H", h) }
	inclusion := []struct {
		name string
		in   string
		ok   bool
	}{
		{"valid", incl(`{"index":1,"size":2,"leaf_hash":H,"hashes":[H]}`), true},
		{"valid, reordered, spaces", incl(` { "hashes" : [ ] , "size":2,"index":1,"leaf_hash":H } `), true},
		{"unknown field", incl(`{"index":1,"size":2,"leaf_hash":H,"hashes":[H],"root":H}`), false},
		{"field in other case", incl(`{"Index":1,"size":2,"leaf_hash":H,"hashes":[H]}`), false},
		{"duplicate field", incl(`{"index":1,"index":1,"size":2,"leaf_hash":H,"hashes":[H]}`), false},
		{"missing field", incl(`{"index":1,"size":2,"leaf_hash":H}`), false},
		{"null hashes", incl(`{"index":1,"size":2,"leaf_hash":H,"hashes":null}`), false},
		{"null index", incl(`{"index":null,"size":2,"leaf_hash":H,"hashes":[]}`), false},
		{"null hash in list", incl(`{"index":1,"size":2,"leaf_hash":H,"hashes":[null]}`), false},
		{"negative index", incl(`{"index":-1,"size":2,"leaf_hash":H,"hashes":[]}`), false},
		{"float index", incl(`{"index":1.0,"size":2,"leaf_hash":H,"hashes":[]}`), false},
		{"exponent size", incl(`{"index":1,"size":2e0,"leaf_hash":H,"hashes":[]}`), false},
		{"string index", incl(`{"index":"1","size":2,"leaf_hash":H,"hashes":[]}`), false},
		{"size overflow", incl(`{"index":1,"size":18446744073709551616,"leaf_hash":H,"hashes":[]}`), false},
		{"short hash", incl(`{"index":1,"size":2,"leaf_hash":"AQID","hashes":[]}`), false},
		{"33-byte hash", incl(`{"index":1,"size":2,"leaf_hash":H,"hashes":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]}`), false},
		{"unpadded hash", incl(`{"index":1,"size":2,"leaf_hash":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","hashes":[]}`), false},
		{"URL base64", incl(`{"index":1,"size":2,"leaf_hash":"_____________________________________________w==","hashes":[]}`), false},
		{"hex hash", incl(`{"index":1,"size":2,"leaf_hash":"0100000000000000000000000000000000000000000000000000000000000000","hashes":[]}`), false},
		{"not base64", incl(`{"index":1,"size":2,"leaf_hash":"!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashes":[]}`), false},
		{"hash not a string", incl(`{"index":1,"size":2,"leaf_hash":H,"hashes":[1]}`), false},
		{"array", `[]`, false},
		{"null", `null`, false},
		{"empty", ``, false},
		{"trailing comma", incl(`{"index":1,"size":2,"leaf_hash":H,"hashes":[],}`), false},
	}
	for _, tt := range inclusion {
		t.Run("inclusion/"+tt.name, func(t *testing.T) {
			var p InclusionProof
			err := p.UnmarshalJSON([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
			// Through encoding/json too (null is a no-op there, by design).
			var q InclusionProof
			if err := json.Unmarshal([]byte(tt.in), &q); (err == nil) != tt.ok && tt.in != "null" {
				t.Fatalf("json.Unmarshal: got %v, want ok=%v", err, tt.ok)
			}
		})
	}
	consistency := []struct {
		name string
		in   string
		ok   bool
	}{
		{"valid", incl(`{"from":1,"to":2,"hashes":[H,H]}`), true},
		{"empty hashes", `{"from":0,"to":2,"hashes":[]}`, true},
		{"unknown field", `{"from":0,"to":2,"hashes":[],"x":0}`, false},
		{"missing to", `{"from":0,"hashes":[]}`, false},
		{"bad hash", `{"from":0,"to":2,"hashes":["AA=="]}`, false},
		{"data after object", `{"from":0,"to":2,"hashes":[]} {}`, false},
	}
	for _, tt := range consistency {
		t.Run("consistency/"+tt.name, func(t *testing.T) {
			var p ConsistencyProof
			err := p.UnmarshalJSON([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
}

// TestProofJSONVerify: a proof that went through its wire form still
// verifies, and a tampered wire form does not.
func TestProofJSONVerify(t *testing.T) {
	tree := newTree(13)
	p, err := tree.InclusionProof(6, 13)
	if err != nil {
		t.Fatal(err)
	}
	in := InclusionProof{Index: 6, Size: 13, LeafHash: h32(t, tree.LeafHash(6)), Hashes: hashes32(t, p)}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back InclusionProof
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	root := h32(t, tree.HashAt(13))
	if err := back.Verify(root); err != nil {
		t.Fatal(err)
	}
	back.Index = 7
	if err := back.Verify(root); !errors.Is(err, ErrInvalidProof) || !strings.Contains(err.Error(), "leaf 7") {
		t.Fatalf("got %v, want ErrInvalidProof naming leaf 7", err)
	}

	cp, err := tree.ConsistencyProof(5, 13)
	if err != nil {
		t.Fatal(err)
	}
	c := ConsistencyProof{From: 5, To: 13, Hashes: hashes32(t, cp)}
	data, err = json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var cback ConsistencyProof
	if err := json.Unmarshal(data, &cback); err != nil {
		t.Fatal(err)
	}
	if err := cback.Verify(h32(t, tree.HashAt(5)), root); err != nil {
		t.Fatal(err)
	}
	if err := cback.Verify(h32(t, tree.HashAt(6)), root); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("got %v, want ErrInvalidProof", err)
	}
}
