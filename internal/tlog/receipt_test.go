package tlog

import (
	"encoding/base64"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestReceiptVerify(t *testing.T) {
	const origin = "logline.example/ledger"
	signer, verifier, _ := newKey(t, origin, 1)
	_, otherVerifier, _ := newKey(t, origin, 2)
	tree := newTree(9)
	size := uint64(9)
	cp, err := SignCheckpoint(signer, origin, size, h32(t, tree.HashAt(size)))
	if err != nil {
		t.Fatal(err)
	}
	proofFor := func(i uint64) []byte {
		hs, err := tree.InclusionProof(i, size)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := InclusionProof{Index: i, Size: size, LeafHash: h32(t, tree.LeafHash(i)), Hashes: hashes32(t, hs)}.MarshalJSON()
		return p
	}
	good := func() Receipt {
		return Receipt{
			Op: "ledger.append", SpanID: "s1", Tenant: "acme", LogIndex: 4,
			LeafHash: base64.StdEncoding.EncodeToString(tree.LeafHash(4)), JTI: "r_x", KID: "k", TS: "2026-01-01T00:00:00Z",
			CheckpointSize: size, Checkpoint: string(cp), Inclusion: proofFor(4),
		}
	}
	verifiers := note.VerifierList(verifier)
	if rc, err := good().Verify(verifiers, origin, nil); err != nil || !rc.Included || rc.Checkpoint.Size != size {
		t.Fatalf("good receipt: %+v, %v", rc, err)
	}
	noProof := good()
	noProof.Inclusion = nil
	if rc, err := noProof.Verify(verifiers, origin, nil); err != nil || rc.Included {
		t.Fatalf("receipt without proof: got %+v, %v; want verified checkpoint, Included false", rc, err)
	}
	compact := good()
	compact.Checkpoint = ""
	if _, err := compact.Verify(verifiers, origin, cp); err != nil {
		t.Fatalf("receipt naming its checkpoint, note given: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(*Receipt)
		note   []byte
		want   error
	}{
		{"other log key", func(r *Receipt) {}, nil, ErrUnknownKey},
		{"tampered checkpoint", func(r *Receipt) { r.Checkpoint = r.Checkpoint[:30] + "X" + r.Checkpoint[31:] }, nil, nil},
		{"wrong leaf", func(r *Receipt) { r.LeafHash = base64.StdEncoding.EncodeToString(tree.LeafHash(5)) }, nil, ErrInvalidProof},
		{"wrong index", func(r *Receipt) { r.LogIndex = 5 }, nil, ErrInvalidProof},
		{"proof of another entry", func(r *Receipt) {
			r.LogIndex, r.LeafHash, r.Inclusion = 5, base64.StdEncoding.EncodeToString(tree.LeafHash(5)), proofFor(4)
		}, nil, ErrInvalidProof},
		{"index beyond the checkpoint", func(r *Receipt) { r.LogIndex = 9 }, nil, ErrProofRange},
		{"size disagrees with the note", func(r *Receipt) { r.CheckpointSize = 8 }, nil, ErrMalformed},
		{"no note at all", func(r *Receipt) { r.Checkpoint = "" }, nil, ErrMalformed},
		{"other op", func(r *Receipt) { r.Op = "ledger.delete" }, nil, ErrMalformed},
		{"bad leaf encoding", func(r *Receipt) { r.Inclusion = nil; r.LeafHash = "!!" }, nil, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.mutate(&r)
			vs := verifiers
			if tc.name == "other log key" {
				vs = note.VerifierList(otherVerifier)
			}
			_, err := r.Verify(vs, origin, tc.note)
			if err == nil {
				t.Fatal("got nil, want an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseReceipt(t *testing.T) {
	obj := `{"op":"ledger.append","span_id":"s1","tenant":"a","log_index":3,"leaf_hash":"x","jti":"r_1","kid":"k","ts":"t","checkpoint_size":4,"checkpoint":"n"}`
	for name, in := range map[string]string{
		"receipt":         obj,
		"single answer":   `{"id":"s1","log_index":3,"receipt":` + obj + `}`,
		"ndjson line":     `{"line":1,"ok":true,"id":"s1","receipt":` + obj + "}\n",
		"with whitespace": "\n  " + obj + "  \n",
	} {
		r, err := ParseReceipt([]byte(in))
		if err != nil || r.SpanID != "s1" || r.LogIndex != 3 || r.CheckpointSize != 4 {
			t.Errorf("%s: got %+v, %v", name, r, err)
		}
	}
	for _, bad := range []string{``, `{}`, `[1]`, `{"line":1,"ok":false}`, `not json`} {
		if _, err := ParseReceipt([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: got %v, want ErrMalformed", bad, err)
		}
	}
}
