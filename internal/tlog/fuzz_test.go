package tlog

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// FuzzParseCheckpoint feeds arbitrary signed notes to ParseCheckpoint: it
// must not panic, and whatever it accepts must re-sign to the same bytes
// (Ed25519 is deterministic) when it has one signature and no extensions.
func FuzzParseCheckpoint(f *testing.F) {
	signer, verifier, _ := newKey(f, testOrigin, 1)
	verifiers := note.VerifierList(verifier)
	for _, size := range []uint64{0, 1, 7, 1 << 40} {
		root := LeafHash([]byte{byte(size)})
		if size == 0 {
			root = EmptyRoot()
		}
		msg, err := SignCheckpoint(signer, testOrigin, size, root)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	f.Add([]byte(peterMsg))
	f.Add([]byte(testOrigin + "\n1\nAA==\n\n— x y\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		cp, err := ParseCheckpoint(msg, verifiers, testOrigin)
		if err != nil {
			return
		}
		again, err := SignCheckpoint(signer, cp.Origin, cp.Size, cp.Root)
		if err != nil {
			t.Fatalf("accepted %q but cannot re-sign it: %v", msg, err)
		}
		if len(cp.Extensions) == 0 && len(cp.Note.Sigs) == 1 && len(cp.Note.UnverifiedSigs) == 0 && !bytes.Equal(again, msg) {
			t.Fatalf("accepted\n%q\nre-signed as\n%q", msg, again)
		}
	})
}

// FuzzCheckpointBody signs arbitrary texts validly, so that the fuzzer
// reaches the body parser; an accepted body without extensions must be the
// canonical one.
func FuzzCheckpointBody(f *testing.F) {
	signer, verifier, _ := newKey(f, testOrigin, 1)
	verifiers := note.VerifierList(verifier)
	f.Add(checkpointBody(testOrigin, 5, [32]byte{5}))
	f.Add(checkpointBody(testOrigin, 0, EmptyRoot()))
	f.Add(checkpointBody(testOrigin, 1, [32]byte{}) + "ext\n")
	f.Add(testOrigin + "\n01\nAA==\n")
	f.Fuzz(func(t *testing.T, text string) {
		msg, err := note.Sign(&note.Note{Text: text}, signer)
		if err != nil {
			return
		}
		cp, err := ParseCheckpoint(msg, verifiers, testOrigin)
		if err != nil {
			return
		}
		if len(cp.Extensions) == 0 {
			if got := checkpointBody(cp.Origin, cp.Size, cp.Root); got != text {
				t.Fatalf("accepted body %q, canonical form %q", text, got)
			}
		}
	})
}

func FuzzInclusionProofJSON(f *testing.F) {
	h := `"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`
	f.Add([]byte(`{"index":1,"size":2,"leaf_hash":` + h + `,"hashes":[` + h + `]}`))
	f.Add([]byte(`{"index":0,"size":1,"leaf_hash":` + h + `,"hashes":[]}`))
	f.Add([]byte(`{"index":0,"size":1,"leaf_hash":` + h + `,"hashes":[],"x":1}`))
	f.Add([]byte(`{"index":0,"index":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p InclusionProof
		if err := p.UnmarshalJSON(data); err != nil {
			return
		}
		roundTrip(t, &p, new(InclusionProof))
		_ = p.Verify([32]byte{}) // must not panic
	})
}

func FuzzConsistencyProofJSON(f *testing.F) {
	h := `"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`
	f.Add([]byte(`{"from":1,"to":2,"hashes":[` + h + `]}`))
	f.Add([]byte(`{"from":0,"to":0,"hashes":[]}`))
	f.Add([]byte(`{"from":3,"to":2,"hashes":[` + h + `,` + h + `]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p ConsistencyProof
		if err := p.UnmarshalJSON(data); err != nil {
			return
		}
		roundTrip(t, &p, new(ConsistencyProof))
		_ = p.Verify([32]byte{}, [32]byte{1}) // must not panic
	})
}

// roundTrip checks that v marshals to a form that unmarshals into an equal
// value and marshals to the same bytes again.
func roundTrip(t *testing.T, v, fresh json.Unmarshaler) {
	t.Helper()
	first, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.UnmarshalJSON(first); err != nil {
		t.Fatalf("cannot decode own output %s: %v", first, err)
	}
	if !reflect.DeepEqual(normalise(v), normalise(fresh)) {
		t.Fatalf("round trip changed %+v into %+v", v, fresh)
	}
	second, err := json.Marshal(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("not stable: %s then %s", first, second)
	}
}

// normalise makes empty and nil hash lists compare equal.
func normalise(v any) any {
	switch p := v.(type) {
	case *InclusionProof:
		q := *p
		if len(q.Hashes) == 0 {
			q.Hashes = nil
		}
		return q
	case *ConsistencyProof:
		q := *p
		if len(q.Hashes) == 0 {
			q.Hashes = nil
		}
		return q
	}
	return v
}
