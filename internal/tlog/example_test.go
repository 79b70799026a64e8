package tlog_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/logline/logline/internal/tlog"
)

// hashStore is an in-memory x/mod/sumdb/tlog hash storage.
type hashStore []sumtlog.Hash

func (s hashStore) ReadHashes(idx []int64) ([]sumtlog.Hash, error) {
	out := make([]sumtlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = s[x]
	}
	return out, nil
}

// Example produces the worked example of docs/checkpoints.md: a demo key
// (deterministic randomness — never do that for a real key), a log of
// three entries, its checkpoint, and the proofs a client checks against it.
func Example() {
	skey, vkey, _ := note.GenerateKey(rand.NewChaCha8([32]byte{42}), "logline.example/ledger")
	fmt.Println("private key:", skey)
	fmt.Println("GET /log/key:", vkey)

	entries := []string{`{"id":"a","n":1}`, `{"id":"b","n":2}`, `{"id":"c","n":3}`}
	var hashes hashStore
	for i, e := range entries {
		hs, _ := sumtlog.StoredHashes(int64(i), []byte(e), hashes)
		hashes = append(hashes, hs...)
	}
	root3, _ := sumtlog.TreeHash(3, hashes)
	root2, _ := sumtlog.TreeHash(2, hashes)

	signer, _ := note.NewSigner(skey)
	msg, _ := tlog.SignCheckpoint(signer, "logline.example/ledger", 3, root3)
	fmt.Print("GET /checkpoint:\n", string(msg))

	rp, _ := sumtlog.ProveRecord(3, 1, hashes)
	incl := tlog.InclusionProof{Index: 1, Size: 3, LeafHash: tlog.LeafHash([]byte(entries[1]))}
	for _, h := range rp {
		incl.Hashes = append(incl.Hashes, h)
	}
	b, _ := json.Marshal(incl)
	fmt.Println("GET /proof/inclusion?index=1&size=3:", string(b))

	tp, _ := sumtlog.ProveTree(3, 2, hashes)
	cons := tlog.ConsistencyProof{From: 2, To: 3}
	for _, h := range tp {
		cons.Hashes = append(cons.Hashes, h)
	}
	b, _ = json.Marshal(cons)
	fmt.Println("GET /proof/consistency?from=2&to=3:", string(b))
	fmt.Println("root of size 2:", root2)

	// The client's side: only vkey, the checkpoint and the proofs.
	verifier, _ := note.NewVerifier(vkey)
	cp, err := tlog.ParseCheckpoint(msg, note.VerifierList(verifier), "logline.example/ledger")
	fmt.Println("checkpoint:", cp.Size, err)
	fmt.Println("inclusion:", incl.Verify(cp.Root))
	fmt.Println("consistency:", cons.Verify(root2, cp.Root))
	// Output:
	// private key: PRIVATE+KEY+logline.example/ledger+315e71b1+ASIwH7jYKXja8AewVhSWnzQD0AYmc/VZRJV5jTQMChfo
	// GET /log/key: logline.example/ledger+315e71b1+AR8tO5nG9liHxcJyY0YiG6ZvTwP4S638WqtcV9HRdFMO
	// GET /checkpoint:
	// logline.example/ledger
	// 3
	// 7h6MyI55TUn+h0TBdOo1AYm2cl4Uv4sSB9GwaFg8nz4=
	//
	// — logline.example/ledger MV5xsUUluVieGFce0xhwqH+sfsh6RN3a59gCdoxUvlXHS3YMC1VHyS1+1vSj1lYA7tdHkKtryvOnDlzHF0PNtq35tQU=
	// GET /proof/inclusion?index=1&size=3: {"index":1,"size":3,"leaf_hash":"VgtiH2nO5Sw9s9FeZTibSvrVtOreV6I+PlgwCafaiew=","hashes":["7WugPe8KZolw7mxJX1hfgJumBttolaGyepAEkb4Mqyw=","JJeThuNOxqx+EKC4sL025SOAiQNhVNyJOrignXXImT4="]}
	// GET /proof/consistency?from=2&to=3: {"from":2,"to":3,"hashes":["JJeThuNOxqx+EKC4sL025SOAiQNhVNyJOrignXXImT4="]}
	// root of size 2: x5YF633j2R0bwVpsA6RQxxw67zBGc4t2ZU+ymWfN6EQ=
	// checkpoint: 3 <nil>
	// inclusion: <nil>
	// consistency: <nil>
}
