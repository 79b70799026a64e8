package pgstore

import (
	"context"
	"testing"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
)

// newLedgerDB returns the URL of a fresh, migrated database.
func newLedgerDB(t testing.TB) string {
	t.Helper()
	u := pgtest.NewDatabase(t)
	if _, err := Migrate(context.Background(), u, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return u
}

func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// TestConformance runs the suite every ledger.Store passes.
func TestConformance(t *testing.T) {
	ledgertest.Run(t, ledgertest.Backend{
		Open: func(t *testing.T) ledger.Store {
			return openStore(t, Config{URL: newLedgerDB(t)})
		},
		Reopen: func(t *testing.T, s ledger.Store) ledger.Store {
			cfg := s.(*Store).cfg
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			return openStore(t, Config{URL: cfg.URL})
		},
	})
}
