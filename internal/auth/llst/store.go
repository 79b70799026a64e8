package llst

import (
	"context"
	"time"
)

// KeyStore holds the keyring's keys, shared by every process (and later
// every node) that issues or verifies LLSTs. DirStore keeps them in a
// directory; a PostgreSQL store would keep them in a table and implement
// Update as one transaction under a lock.
//
// Implementations are safe for concurrent use, also across processes.
type KeyStore interface {
	// Load returns every stored key that parses, in no particular order.
	// A key that does not parse is left out (and reported by the store);
	// an error means the store itself could not be read.
	Load(ctx context.Context) ([]Key, error)
	// Update runs fn with the stored keys while holding the store's
	// exclusive lock, shared with every other process using the store,
	// then applies the Change it returns (adds, then removes) before
	// releasing it. An error from fn aborts the update and is returned.
	// Adding a key whose kid is stored already is an error.
	Update(ctx context.Context, fn func(keys []Key) (Change, error)) error
}

// Change is what an Update adds and removes.
type Change struct {
	Add    []Key
	Remove []string // kids
}

// Empty reports whether c changes nothing.
func (c Change) Empty() bool { return len(c.Add) == 0 && len(c.Remove) == 0 }

// RotationEvent is reported to Config.OnRotate after a rotation in this
// process changed the store.
type RotationEvent struct {
	At      time.Time
	Created []KeyInfo
	Removed []string // kids
}
