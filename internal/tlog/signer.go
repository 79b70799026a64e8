package tlog

import (
	"sync"
	"time"
)

// GuardedSigner signs checkpoints for a store that only ever asks to sign
// durable trees (within one data directory no size is then signed with two
// roots). The Guard adds the check against what this log signed before,
// for data that went missing behind the store's back (a lost disk, an
// older backup restored): every signature is checked against the guard's
// record, and the record is rewritten (an fsync) on the first signature,
// at most once per interval after that, and by Record (call it on a clean
// stop). Rewriting it for every commit batch cost ~0.7 ms of fsync per
// batch; the price of the interval is that a loss of durable data signed
// within the last interval before a crash is not caught by the guard
// (docs/checkpoints.md). Safe for concurrent use.
type GuardedSigner struct {
	keys  *Keyring
	guard *Guard
	every time.Duration
	now   func() time.Time

	mu       sync.Mutex // guards recorded
	recorded time.Time  // when the guard's record was last rewritten
}

// NewGuardedSigner signs with keys' active key, checked against guard,
// rewriting the guard's record at most once per every.
func NewGuardedSigner(keys *Keyring, guard *Guard, every time.Duration, now func() time.Time) *GuardedSigner {
	if now == nil {
		now = time.Now
	}
	return &GuardedSigner{keys: keys, guard: guard, every: every, now: now}
}

// Sign returns the signed checkpoint of (size, root), or an error wrapping
// ErrConflict or ErrRollback when the guard's record contradicts it.
func (g *GuardedSigner) Sign(size uint64, root [32]byte) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.guard.Check(size, root); err != nil {
		return nil, err
	}
	if now := g.now(); g.recorded.IsZero() || now.Sub(g.recorded) >= g.every {
		if err := g.guard.Advance(size, root); err != nil {
			return nil, err
		}
		g.recorded = now
	}
	return SignCheckpoint(g.keys.Signer(), g.keys.Origin(), size, root)
}

// Record rewrites the guard's record with (size, root) now.
func (g *GuardedSigner) Record(size uint64, root [32]byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.guard.Advance(size, root); err != nil {
		return err
	}
	g.recorded = g.now()
	return nil
}
