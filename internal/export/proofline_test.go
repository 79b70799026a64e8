package export

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/logline/logline/internal/tlog"
)

// TestProofLine: proof lines are exactly the tlog.InclusionProof wire form
// under the role, and parse back to the same proof; nothing else parses.
func TestProofLine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 40 {
		p := tlog.InclusionProof{Index: r.Uint64N(1 << 40), Size: r.Uint64N(1<<62) + 1, Hashes: make([][32]byte, n%25)}
		for i := range p.LeafHash {
			p.LeafHash[i] = byte(r.Uint32())
		}
		for k := range p.Hashes {
			for i := range p.Hashes[k] {
				p.Hashes[k][i] = byte(r.Uint32())
			}
		}
		for _, role := range []string{roleBefore, roleEntry, roleAfter} {
			line := appendProofLine(nil, role, p)
			j, _ := p.MarshalJSON()
			want := append(append([]byte(`{"`+role+`":`), j...), "}\n"...)
			if !bytes.Equal(line, want) {
				t.Fatalf("got %s\nwant %s", line, want)
			}
			gotRole, got, err := parseProofLine(line[:len(line)-1])
			if err != nil || gotRole != role || got.Index != p.Index || got.Size != p.Size || got.LeafHash != p.LeafHash || len(got.Hashes) != len(p.Hashes) {
				t.Fatalf("parse %s: %v %+v", line, err, got)
			}
			for k := range p.Hashes {
				if got.Hashes[k] != p.Hashes[k] {
					t.Fatalf("hash %d differs", k)
				}
			}
		}
	}
	good := string(appendProofLine(nil, roleEntry, tlog.InclusionProof{Index: 1, Size: 2, Hashes: [][32]byte{{1}}}))
	good = good[:len(good)-1]
	for _, bad := range []string{
		"",
		`{"entry":{"index":1,"size":2,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashes":[]}}x`,
		`{"entry":{"index":01,"size":2,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashes":[]}}`,
		`{"entry":{"index":-1,"size":2,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashes":[]}}`,
		`{"entry":{"index":1,"size":99999999999999999999,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashes":[]}}`,
		`{"entry":{"index":1,"size":2,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=","hashes":[]}}`,
		`{"entry":{"index":1,"size":2,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==","hashes":[]}}`,
		`{"entry":{"index":1,"size":2,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashes":[,]}}`,
		`{"entry":{"index":1,"size":2,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashes":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",]}}`,
		`{"entry":{"size":2,"index":1,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashes":[]}}`,
		`{"Entry":{"index":1,"size":2,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashes":[]}}`,
		`{"entry": {"index":1,"size":2,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashes":[]}}`,
		good + " ",
		good[:len(good)-1],
	} {
		if _, _, err := parseProofLine([]byte(bad)); err == nil {
			t.Errorf("parseProofLine(%q) accepted", bad)
		}
	}
	if _, _, err := parseProofLine([]byte(good)); err != nil {
		t.Errorf("parseProofLine(%q): %v", good, err)
	}
}
