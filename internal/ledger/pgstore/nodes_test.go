package pgstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

const testOrigin = "logline.test/nodes"

// node opens a store with its own log key, as `logline serve` does.
func node(t *testing.T, url, name string) (*Store, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, Config{
		URL: url, Node: name, VerifierKeys: []string{vkey},
		SignCheckpoint: func(size uint64, root [32]byte) ([]byte, error) {
			return tlog.SignCheckpoint(signer, testOrigin, size, root)
		},
	})
	t.Cleanup(func() { s.Close() })
	return s, verifier
}

// TestTwoNodes runs two stores (two pools, two writers, two keys) on one
// database, appending concurrently: log_index stays dense, there is one
// tree whose proofs from either node verify against the other's signed
// checkpoint, and every tenant chain is intact.
func TestTwoNodes(t *testing.T) {
	url := newLedgerDB(t)
	ctx := context.Background()
	if got, err := ClaimOrigin(ctx, url, testOrigin); err != nil || got != testOrigin {
		t.Fatalf("claim origin: got %q, %v", got, err)
	}
	a, va := node(t, url, "a")
	b, vb := node(t, url, "b")
	nodes := []*Store{a, b}

	const writers, calls = 4, 25 // per node; 1–4 spans per call
	var (
		mu      sync.Mutex
		results []ledger.Result
		wg      sync.WaitGroup
	)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for n, s := range nodes {
		for w := range writers {
			wg.Go(func() {
				for c := range calls {
					var spans []*span.Span
					for i := range c%4 + 1 {
						id := fmt.Sprintf("n%d-w%d-c%d-%d", n, w, c, i)
						spans = append(spans, ledgertest.MustSpan(t, ledgertest.Simple(fmt.Sprint("t", (w+i)%3), id, 0, "x", t0)))
					}
					outs, err := s.Append(ctx, spans)
					if err != nil {
						t.Errorf("node %d: append: %v", n, err)
						return
					}
					mu.Lock()
					for _, o := range outs {
						if o.Err != nil {
							t.Errorf("node %d: %v", n, o.Err)
						}
						results = append(results, o.Result)
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	total := uint64(len(results))
	seen := make([]bool, total)
	for _, r := range results {
		if r.LogIndex >= total || seen[r.LogIndex] {
			t.Fatalf("log index %d: given twice or beyond the %d entries", r.LogIndex, total)
		}
		seen[r.LogIndex] = true
	}
	// Both nodes learn the final size (the other's commits by NOTIFY).
	for i, s := range nodes {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := s.Wait(wctx, total-1); err != nil {
			t.Fatalf("node %d: wait for size %d: %v (size %d)", i, total, err, s.Size())
		}
		cancel()
	}

	// One tree over the stream, and every chain intact.
	hasher := rfc6962.DefaultHasher
	tree := (&compact.RangeFactory{Hash: hasher.HashChildren}).NewEmptyRange(0)
	roots := [][]byte{hasher.EmptyRoot()}
	heads := map[string]span.Hash{}
	err := b.Read(ctx, 0, total, func(e *span.Entry) error {
		if e.PrevHash != heads[e.Tenant] {
			return fmt.Errorf("log index %d: prev_hash %s, want the tenant's previous %s", e.LogIndex, e.PrevHash, heads[e.Tenant])
		}
		heads[e.Tenant] = e.Hash
		if err := tree.Append(hasher.HashLeaf(e.Line), nil); err != nil {
			return err
		}
		root, err := tree.GetRootHash(nil)
		roots = append(roots, root)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		c := r.Checkpoint
		if c.Size <= r.LogIndex || string(c.Root[:]) != string(roots[c.Size]) {
			t.Fatalf("result %s (log index %d): checkpoint %d does not cover it or has another root", r.ID, r.LogIndex, c.Size)
		}
	}
	verifiers := []note.Verifier{va, vb}
	for i, s := range nodes {
		c := s.Checkpoint()
		if c.Size != total || string(c.Root[:]) != string(roots[total]) {
			t.Fatalf("node %d: checkpoint %d %x, want %d %x", i, c.Size, c.Root, total, roots[total])
		}
		if _, err := tlog.ParseCheckpoint(c.Note, note.VerifierList(verifiers[i]), testOrigin); err != nil {
			t.Fatalf("node %d: its note does not verify with its key: %v", i, err)
		}
	}
	// Proofs from one node verify against the other's checkpoint.
	for i := uint64(0); i < total; i += 7 {
		from, against := nodes[i%2], nodes[1-i%2].Checkpoint()
		leaf, hashes, err := from.InclusionProof(ctx, i, against.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(hasher, i, against.Size, leaf[:], byteSlices(hashes), against.Root[:]); err != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
	}
	cons, err := a.ConsistencyProof(ctx, total/2, total)
	if err != nil || proof.VerifyConsistency(hasher, total/2, total, byteSlices(cons), roots[total/2], roots[total]) != nil {
		t.Fatalf("consistency %d → %d: %v", total/2, total, err)
	}
	// GET /log/key on either node lists both keys.
	for i, s := range nodes {
		keys, err := s.LogKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 || keys[0] != s.cfg.VerifierKeys[0] {
			t.Fatalf("node %d: got log keys %v, want its own first and the other's", i, keys)
		}
	}
}

func byteSlices(hs [][32]byte) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}
