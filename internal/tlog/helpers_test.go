package tlog

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "logline.example/ledger"

// testRand returns a deterministic randomness source.
func testRand(seed uint64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return rand.NewChaCha8(s)
}

// testClock returns a clock that starts at a fixed instant and advances one
// minute per call.
func testClock() func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Minute)
		return t
	}
}

// newKey returns a signer and its verifier named name.
func newKey(t testing.TB, name string, seed uint64) (note.Signer, note.Verifier, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(testRand(seed), name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v, vkey
}

// newTree returns a reference RFC 6962 tree (transparency-dev/merkle) of n
// leaves "leaf <i>".
func newTree(n int) *testonly.Tree {
	tr := testonly.New(rfc6962.DefaultHasher)
	for i := range n {
		tr.AppendData([]byte(fmt.Sprintf("leaf %d", i)))
	}
	return tr
}

func h32(t testing.TB, b []byte) [32]byte {
	t.Helper()
	if len(b) != 32 {
		t.Fatalf("hash of %d bytes", len(b))
	}
	return [32]byte(b)
}

func hashes32(t testing.TB, bs [][]byte) [][32]byte {
	t.Helper()
	out := make([][32]byte, len(bs))
	for i, b := range bs {
		out[i] = h32(t, b)
	}
	return out
}

// newTreeOf returns a reference RFC 6962 tree of the given leaves.
func newTreeOf(leaves [][]byte) *testonly.Tree {
	tr := testonly.New(rfc6962.DefaultHasher)
	tr.AppendData(leaves...)
	return tr
}
