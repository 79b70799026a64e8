package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
)

// TestMigrateConcurrentAndRepeated runs migrate from several sessions at
// once, then again: the schema is applied exactly once.
func TestMigrateConcurrentAndRepeated(t *testing.T) {
	u := pgtest.NewDatabase(t)
	ctx := context.Background()
	if _, err := Open(ctx, Config{URL: u}); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("open before migrate: got %v, want ErrSchemaVersion", err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied []int
	)
	for range 4 {
		wg.Go(func() {
			vs, err := Migrate(ctx, u, nil)
			if err != nil {
				t.Errorf("migrate: %v", err)
			}
			mu.Lock()
			applied = append(applied, vs...)
			mu.Unlock()
		})
	}
	wg.Wait()
	want := fmt.Sprint(versionsUpTo(SchemaVersion()))
	if fmt.Sprint(applied) != want {
		t.Fatalf("concurrent runs applied %v in total, want %s once", applied, want)
	}
	if vs, err := Migrate(ctx, u, nil); err != nil || len(vs) != 0 {
		t.Fatalf("re-run: applied %v, %v; want nothing", vs, err)
	}
	s := openStore(t, Config{URL: u})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A database from a newer build is refused, not downgraded.
	pgtest.Exec(t, u, "INSERT INTO ledger.schema_migrations (version, name) VALUES ($1, 'future')", SchemaVersion()+1)
	if _, err := Migrate(ctx, u, nil); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("migrate a newer schema: got %v, want ErrSchemaVersion", err)
	}
	if _, err := Open(ctx, Config{URL: u}); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("open a newer schema: got %v, want ErrSchemaVersion", err)
	}
}

func versionsUpTo(n int) []int {
	vs := make([]int, n)
	for i := range vs {
		vs[i] = i + 1
	}
	return vs
}
