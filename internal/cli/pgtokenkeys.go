package cli

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/logline/logline/internal/auth/llst"
	"github.com/logline/logline/internal/ledger/pgstore"
)

// pgTokenKeys is an llst.KeyStore in the database (ledger.llst_keys,
// pgstore.TokenKeys): with --store postgres://… every node signs and
// verifies LLSTs with the same keys, so a token one node issued is
// accepted by all of them. Each row holds a key in llst's key-file format
// (llst.MarshalKey) under its kid. Updates serialize on the database's
// token-key advisory lock, across nodes.
type pgTokenKeys struct {
	keys *pgstore.TokenKeys
	log  *slog.Logger

	mu       sync.Mutex      // guards reported
	reported map[string]bool // kids of bad rows already logged
}

var _ llst.KeyStore = (*pgTokenKeys)(nil)

// newPGTokenKeys returns the key store on keys (a Store's TokenKeys, or
// pgstore.OpenTokenKeys for a command without a Store). log receives
// reports of rows it ignores (slog.Default() if nil).
func newPGTokenKeys(keys *pgstore.TokenKeys, log *slog.Logger) *pgTokenKeys {
	if log == nil {
		log = slog.Default()
	}
	return &pgTokenKeys{keys: keys, log: log, reported: map[string]bool{}}
}

// Load returns every stored key that parses. A row that does not (not a
// key file, or a kid that is not its key's) is skipped and logged once,
// as DirStore does with a bad file.
func (s *pgTokenKeys) Load(ctx context.Context) ([]llst.Key, error) {
	rows, err := s.keys.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("LLST keys: %w", err)
	}
	return s.parse(rows), nil
}

// parse decodes rows in kid order, skipping (and reporting) bad ones.
func (s *pgTokenKeys) parse(rows map[string][]byte) []llst.Key {
	kids := make([]string, 0, len(rows))
	for kid := range rows {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	keys := make([]llst.Key, 0, len(kids))
	for _, kid := range kids {
		k, err := llst.UnmarshalKey(rows[kid])
		if err == nil && k.ID != kid {
			err = fmt.Errorf("%w: kid %q in the row of %q", llst.ErrBadKeyFile, k.ID, kid)
		}
		if err != nil {
			s.report(kid, err)
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

// report logs a bad row once per store.
func (s *pgTokenKeys) report(kid string, err error) {
	s.mu.Lock()
	seen := s.reported[kid]
	s.reported[kid] = true
	s.mu.Unlock()
	if !seen {
		s.log.Error("ignoring an LLST key row that does not load", "table", "ledger.llst_keys", "kid", kid, "err", err)
	}
}

// Update runs fn under the database's token-key lock with the stored keys
// (bad rows left out, as in Load) and applies its change in the same
// transaction: new keys are inserted as key files, removed kids deleted.
// An error from fn is returned as is; adding a stored kid fails
// (pgstore.ErrTokenKeyExists) and changes nothing.
func (s *pgTokenKeys) Update(ctx context.Context, fn func([]llst.Key) (llst.Change, error)) error {
	return s.keys.Update(ctx, func(cur map[string][]byte) (map[string][]byte, []string, error) {
		ch, err := fn(s.parse(cur))
		if err != nil {
			return nil, nil, err
		}
		add := make(map[string][]byte, len(ch.Add))
		for _, k := range ch.Add {
			if _, dup := add[k.ID]; dup {
				return nil, nil, fmt.Errorf("add LLST key %s: twice in one update", k.ID)
			}
			data, err := llst.MarshalKey(k)
			if err != nil {
				return nil, nil, err
			}
			add[k.ID] = data
		}
		for _, kid := range ch.Remove {
			if !llst.ValidKeyID(kid) {
				return nil, nil, fmt.Errorf("remove LLST key: invalid kid %q", kid)
			}
		}
		return add, ch.Remove, nil
	})
}
