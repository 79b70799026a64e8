package pgstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	sumdb "golang.org/x/mod/sumdb/tlog"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// checkNotes is VerifyOptions.Notes as the command line builds it: a
// note must be signed by one of the registered keys for the origin.
func checkNotes(origin string, keys []string) (NoteCheck, error) {
	var vs []note.Verifier
	for _, k := range keys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("registered key %q: %v", k, err)
		}
		vs = append(vs, v)
	}
	list := note.VerifierList(vs...)
	return func(msg []byte) (uint64, [32]byte, error) {
		c, err := tlog.ParseCheckpoint(msg, list, origin)
		return c.Size, c.Root, err
	}, nil
}

// variedSpan returns span i of tenant: plain, or with the members whose
// columns are easy to get wrong (jsonb numbers and key order, arrays,
// NUL, nanoseconds, a client signature).
func variedSpan(t testing.TB, kp span.KeyPair, tenant, prefix string, i int) *span.Span {
	t.Helper()
	when := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC).Add(time.Duration(i) * time.Millisecond)
	js := fmt.Sprintf(`{"id":"%s-%d","tenant":%q,"who":"alice","did":"paid","this":"order:%d","when":%q`, prefix, i, tenant, i%7, when.Format(time.RFC3339Nano))
	switch i % 4 {
	case 1:
		js += `,"data":{"z":1,"a":[1.5,1e21,-0.25,"x\u0000y"],"n":null,"b":{"k":true}},"metadata":{"m":12345678901234},"duration_ms":42`
	case 2:
		js += `,"related_to":["r1","r2"],"confirmed_by":["group://a"],"trace_id":"tr-1","status":"confirmed","visibility":"tenant","name":"n\u0000ul"`
	case 3:
		js += `,"entity_type":"contract","parent_id":"p","input":{"q":"é"},"output":{"v":[1,2]},"error":{"code":"E"}`
	}
	js += "}"
	if i%5 == 0 {
		signed, err := span.Sign([]byte(js), kp, span.DecodeOptions{})
		if err != nil {
			t.Fatalf("sign %s: %v", js, err)
		}
		js = string(signed)
	}
	return ledgertest.MustSpan(t, js)
}

// appendVaried appends n varied spans of tenant (ids prefix-0, prefix-1,
// …) through s in calls of up to four.
func appendVaried(t testing.TB, s *Store, kp span.KeyPair, tenant, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; {
		var spans []*span.Span
		for j := 0; j < i%4+1 && i < n; j++ {
			spans = append(spans, variedSpan(t, kp, tenant, prefix, i))
			i++
		}
		outs, err := s.Append(context.Background(), spans)
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		for _, o := range outs {
			if o.Err != nil {
				t.Fatalf("append: %v", o.Err)
			}
		}
	}
}

// originDB returns a fresh, migrated database named testOrigin, and a
// key for client-signed spans.
func originDB(t *testing.T) (string, span.KeyPair) {
	t.Helper()
	url := newLedgerDB(t)
	if _, err := ClaimOrigin(context.Background(), url, testOrigin); err != nil {
		t.Fatal(err)
	}
	kp, err := span.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return url, kp
}

// TestVerifyTwoNodes: two nodes appending concurrently on one database
// produce a ledger Verify accepts: every column, chain, stored hash and
// checkpoint row, with the notes of both nodes' keys.
func TestVerifyTwoNodes(t *testing.T) {
	ctx := context.Background()
	url, kp := originDB(t)
	a, _ := node(t, url, "a")
	b, _ := node(t, url, "b")
	const perWriter = 40
	var wg sync.WaitGroup
	for n, s := range []*Store{a, b} {
		for w := range 3 {
			wg.Go(func() { appendVaried(t, s, kp, fmt.Sprintf("t%d%d", n, w%2), fmt.Sprintf("w%d%d", n, w), perWriter) })
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	total := uint64(2 * 3 * perWriter)
	rep, err := Verify(ctx, url, VerifyOptions{Notes: checkNotes, TreeSizes: []uint64{1, 100, total, total + 1}})
	if err != nil {
		t.Fatalf("verify with both nodes running: %v", err)
	}
	for _, s := range []*Store{a, b} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = Verify(ctx, url, VerifyOptions{Notes: checkNotes, TreeSizes: []uint64{1, 100, total, total + 1}})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.Entries != total || rep.Tenants != 4 || rep.Keys != 2 || rep.Origin != testOrigin {
		t.Errorf("report: got %d entries, %d tenants, %d keys, origin %q; want %d, 4, 2, %q", rep.Entries, rep.Tenants, rep.Keys, rep.Origin, total, testOrigin)
	}
	if rep.Signed != total/5 {
		t.Errorf("signed entries: got %d, want %d", rep.Signed, total/5)
	}
	if rep.Notes == 0 || !rep.NotesChecked || rep.Checkpoints < 2 || rep.MaxCheckpoint != total {
		t.Errorf("checkpoints: got %d rows (%d..%d), %d notes (checked %v); want several up to %d, with notes", rep.Checkpoints, rep.MinCheckpoint, rep.MaxCheckpoint, rep.Notes, rep.NotesChecked, total)
	}
	if len(rep.Roots) != 3 || rep.Roots[total] != rep.Root {
		t.Errorf("roots: got %d sizes, root at %d %x; want 3 sizes and the log root %x", len(rep.Roots), total, rep.Roots[total], rep.Root)
	}
	if want := sumdb.StoredHashCount(int64(total)); rep.TreeHashes != want {
		t.Errorf("stored hashes compared: got %d, want %d", rep.TreeHashes, want)
	}
}

// tamperDB returns a fresh database holding a ledger of 40 varied entries
// of two tenants, appended by one signing node in batches of 1–4, closed.
func tamperDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	url, kp := originDB(t)
	s, _ := node(t, url, "a")
	appendVaried(t, s, kp, "acme", "a", 20)
	appendVaried(t, s, kp, "bake", "b", 20)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, url, VerifyOptions{Notes: checkNotes}); err != nil {
		t.Fatalf("the untouched ledger does not verify: %v", err)
	}
	return url
}

// superuser runs SQL as the administrator with the append-only triggers
// of every ledger table disabled, as an attacker with the database's
// superuser would.
func superuser(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	var b strings.Builder
	for _, tbl := range []string{"universal_registry", "tree_hash_runs", "checkpoints"} {
		fmt.Fprintf(&b, "ALTER TABLE ledger.%s DISABLE TRIGGER USER;\n", tbl)
	}
	pgtest.Exec(t, url, b.String())
	pgtest.Exec(t, url, sql, args...)
}

// TestVerifyTampered: a superuser's edit behind the triggers is caught
// and named: the table, the column, the log index.
func TestVerifyTampered(t *testing.T) {
	other := sha256.Sum256([]byte("other"))
	foreign, _, err := note.GenerateKey(rand.Reader, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	foreignSigner, err := note.NewSigner(foreign)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tamper func(t *testing.T, url string)
		table  string
		column string
		index  int64
		cp     bool
	}{
		{"line edited", func(t *testing.T, url string) {
			superuser(t, url, `UPDATE ledger.universal_registry SET line = convert_to(replace(convert_from(line, 'UTF8'), '"who":"alice"', '"who":"alicf"'), 'UTF8') WHERE log_index = 7`)
		}, tableRegistry, "line", 7, false},
		{"line names another log index", func(t *testing.T, url string) {
			superuser(t, url, `UPDATE ledger.universal_registry SET line = convert_to(replace(convert_from(line, 'UTF8'), '"log_index":12', '"log_index":13'), 'UTF8') WHERE log_index = 12`)
		}, tableRegistry, "line", 12, false},
		{"column edited", func(t *testing.T, url string) {
			superuser(t, url, `UPDATE ledger.universal_registry SET who = 'mallory' WHERE log_index = 5`)
		}, tableRegistry, "who", 5, false},
		{"jsonb column edited", func(t *testing.T, url string) {
			superuser(t, url, `UPDATE ledger.universal_registry SET data = '{"z":2}' WHERE log_index = 9`)
		}, tableRegistry, "data", 9, false},
		{"leaf hash", func(t *testing.T, url string) {
			superuser(t, url, `UPDATE ledger.universal_registry SET leaf_hash = $1 WHERE log_index = 10`, other[:])
		}, tableRegistry, "leaf_hash", 10, false},
		{"row deleted", func(t *testing.T, url string) {
			superuser(t, url, `DELETE FROM ledger.universal_registry WHERE log_index = 11`)
		}, tableRegistry, "", 11, false},
		{"last row deleted", func(t *testing.T, url string) {
			superuser(t, url, `DELETE FROM ledger.universal_registry WHERE log_index = 39`)
		}, tableRegistry, "", 39, false},
		{"stored hash", func(t *testing.T, url string) {
			idx := sumdb.StoredHashIndex(0, 21)
			superuser(t, url, `UPDATE ledger.tree_hash_runs SET hashes = overlay(hashes placing $1 from ($2 - first)::int * 32 + 1)
				WHERE first = (SELECT max(first) FROM ledger.tree_hash_runs WHERE first <= $2)`, other[:], idx)
		}, tableTree, "", 21, false},
		{"checkpoint root with its note", func(t *testing.T, url string) {
			superuser(t, url, `UPDATE ledger.checkpoints SET root = $1 WHERE size = 20`, other[:])
		}, tableCheckpoints, "root", -1, true},
		{"checkpoint root and note", func(t *testing.T, url string) {
			superuser(t, url, `UPDATE ledger.checkpoints SET root = $1, note = NULL WHERE size = 20`, other[:])
		}, tableCheckpoints, "root", -1, true},
		{"checkpoint note of another key", func(t *testing.T, url string) {
			msg, err := tlog.SignCheckpoint(foreignSigner, testOrigin, 20, [32]byte(other))
			if err != nil {
				t.Fatal(err)
			}
			superuser(t, url, `UPDATE ledger.checkpoints SET root = $1, note = $2 WHERE size = 20`, other[:], string(msg))
		}, tableCheckpoints, "note", -1, true},
		{"log state root", func(t *testing.T, url string) {
			superuser(t, url, `UPDATE ledger.log_state SET root = $1`, other[:])
		}, tableState, "root", -1, false},
		{"chain head", func(t *testing.T, url string) {
			superuser(t, url, `UPDATE ledger.tenant_heads SET log_index = 3 WHERE tenant_id = 'bake'`)
		}, tableHeads, "", 39, false},
		{"chain head deleted", func(t *testing.T, url string) {
			superuser(t, url, `DELETE FROM ledger.tenant_heads WHERE tenant_id = 'acme'`)
		}, tableHeads, "", 19, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tamperDB(t)
			tt.tamper(t, url)
			_, err := Verify(context.Background(), url, VerifyOptions{Notes: checkNotes})
			var ve *VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, ledger.ErrCorrupt) {
				t.Fatalf("verify: got %v, want a *VerifyError wrapping ErrCorrupt", err)
			}
			t.Logf("caught: %v", ve)
			if tt.cp {
				// The checkpoint of size 20 is named; the damage lies
				// after the last checkpoint below it that verified.
				if !ve.Checkpoint || ve.Size != 20 || ve.Index < 0 || ve.Index >= 20 {
					t.Errorf("got checkpoint %v size %d index %d, want the checkpoint of size 20 and an index below 20", ve.Checkpoint, ve.Size, ve.Index)
				}
				tt.index = ve.Index
			}
			if ve.Table != tt.table || ve.Column != tt.column || ve.Index != tt.index {
				t.Errorf("got %s.%s at log index %d, want %s.%s at %d", ve.Table, ve.Column, ve.Index, tt.table, tt.column, tt.index)
			}
		})
	}
}
