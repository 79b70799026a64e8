package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/logline/logline/internal/checkpointlog"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// corpusBackup serves the shared corpus plus 100 spans of three tenants,
// backs it up in two runs and stops the server. It returns the server (its
// data directory holds the log's keys) and the backup directory.
func corpusBackup(t *testing.T) (*testServer, string) {
	t.Helper()
	srv := startServer(t, t.TempDir())
	srv.appendCorpus()
	out := t.TempDir()
	backupOf(t, out, srv.client)
	srv.appendSpans("s", 100)
	backupOf(t, out, srv.client)
	srv.stop()
	return srv, out
}

func restore(t *testing.T, cfg RestoreConfig) RestoreResult {
	t.Helper()
	res, err := Restore(context.Background(), cfg)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	return res
}

func TestRestoreRoundTrip(t *testing.T) {
	srv, out := corpusBackup(t)
	rep := mustVerify(t, out)
	if rep.Size != 8677 || rep.Chunks != 2 || rep.Checkpoints != 2 || rep.Tenants != 4 || rep.Signed != 20 {
		t.Fatalf("backup: got %+v", rep)
	}
	keys := filepath.Join(srv.dir, KeysDir)
	opts := RestoreConfig{From: out, Keys: keys, SegmentSize: 1 << 20, BatchEntries: 1000}

	var dirs []string
	var verified []segment.VerifyReport
	for range 2 {
		cfg := opts
		cfg.Data = filepath.Join(t.TempDir(), "data")
		res := restore(t, cfg)
		if res.Size != rep.Size || res.Root != rep.Root || res.Segments < 2 || res.NewKey {
			t.Fatalf("restore: got %+v", res)
		}
		v, err := segment.Verify(context.Background(), cfg.Data, segment.VerifyOptions{})
		if err != nil || !v.IndexChecked || v.Entries != rep.Size || [32]byte(v.Root) != rep.Root || v.TornTail != "" {
			t.Fatalf("verify --data of the restored directory: %+v, %v", v, err)
		}
		dirs, verified = append(dirs, cfg.Data), append(verified, v)
	}
	// Deterministic: the same segment bytes; and the index, which verify
	// checks key for key against the segments, the same too.
	a, b := segmentDigests(t, dirs[0]), segmentDigests(t, dirs[1])
	if len(a) != verified[0].Segments || !maps.Equal(a, b) {
		t.Errorf("two restores wrote different segments: %d and %d files, or different bytes", len(a), len(b))
	}
	if va, vb := verified[0], verified[1]; !reflect.DeepEqual(va, vb) {
		t.Errorf("verify reports differ: %+v and %+v", va, vb)
	}
	// The same keys, and the guard records the backup's tree.
	for _, name := range []string{tlog.KeysFile, tlog.GuardFile} {
		want, _ := os.ReadFile(filepath.Join(keys, name))
		got, _ := os.ReadFile(filepath.Join(dirs[0], KeysDir, name))
		if !bytes.Equal(got, want) {
			t.Errorf("keys/%s differs from the old one", name)
		}
	}
	// The checkpoint archive holds the backup's checkpoints.
	var archived []uint64
	if _, err := checkpointlog.Read(filepath.Join(dirs[0], ArchiveDir), func(r checkpointlog.Record) error {
		archived = append(archived, r.Size)
		return nil
	}); err != nil || !slices.Equal(archived, []uint64{8577, 8677}) {
		t.Errorf("archived checkpoints %v, %v; want sizes 8577 and 8677", archived, err)
	}

	// The restored server continues the same log.
	restored := startServer(t, dirs[0])
	cp := restored.store.Checkpoint()
	if cp.Size != rep.Size || cp.Root != rep.Root {
		t.Fatalf("restored server's checkpoint: size %d root %x, want %d %x", cp.Size, cp.Root, rep.Size, rep.Root)
	}
	tail := restored.decode([]byte(`{"id":"after-restore","tenant":"t_receipt","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`))
	outs, err := restored.store.Append(context.Background(), []*span.Span{tail})
	if err != nil || outs[0].Err != nil {
		t.Fatalf("append: %v %v", err, outs)
	}
	if want := lastOfTenant(t, out, "t_receipt"); outs[0].Result.PrevHash != want || outs[0].Result.LogIndex != rep.Size {
		t.Errorf("appended at %d with prev_hash %s, want %d and the tenant's last hash %s", outs[0].Result.LogIndex, outs[0].Result.PrevHash, rep.Size, want)
	}
	// Its new checkpoint is consistent with the backup's, and the backup
	// continues from it.
	res := backupOf(t, out, restored.client)
	if res.From != rep.Size || res.Size != rep.Size+1 || res.NewKeys != 0 {
		t.Errorf("backup of the restored server: got %+v", res)
	}
	mustVerify(t, out)
}

// lastOfTenant returns the curr_hash of tenant's last entry in a backup.
func lastOfTenant(t *testing.T, dir, tenant string) span.Hash {
	t.Helper()
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := newChunkReader(dir, st.Chunks)
	defer r.close()
	var h span.Hash
	for {
		line, err := r.next()
		if err != nil {
			break
		}
		e, err := span.ParseEntry(bytes.Clone(line))
		if err != nil {
			t.Fatal(err)
		}
		if e.Tenant == tenant {
			h = e.Hash
		}
	}
	return h
}

// segmentDigests returns the SHA-256 of every segment file of the data
// directory dir, by name.
func segmentDigests(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	segs := os.DirFS(filepath.Join(dir, "ledger", "segments"))
	err := fs.WalkDir(segs, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(segs, name)
		out[name] = sha256.Sum256(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRestoreNewLogKey(t *testing.T) {
	srv := startServer(t, t.TempDir())
	srv.appendSpans("a", 50)
	out := t.TempDir()
	backupOf(t, out, srv.client)
	srv.stop()
	oldKeys := srv.keys.VerifierKeys()

	data := filepath.Join(t.TempDir(), "data")
	res := restore(t, RestoreConfig{From: out, Data: data, NewLogKey: true})
	if !res.NewKey || res.RetiredKeys != 1 || res.KeyID == srv.keys.Keys()[0].ID() {
		t.Fatalf("got %+v", res)
	}
	restored := startServer(t, data)
	served, err := restored.client.LogKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lk, err := tlog.ParseLogKeys(served)
	if err != nil {
		t.Fatal(err)
	}
	if len(lk.Keys) != 2 || lk.Keys[1] != oldKeys[0] || !strings.Contains(lk.Keys[0], "+"+res.KeyID+"+") {
		t.Fatalf("GET /log/key: got %q, want the new key then %q", lk.Keys, oldKeys)
	}
	// The old checkpoint verifies with what the restored server publishes.
	b, err := openBackup(out)
	if err != nil {
		t.Fatal(err)
	}
	_, note := b.latest()
	if _, err := tlog.ParseCheckpoint(note, lk.Verifiers, testOrigin); err != nil {
		t.Errorf("the backup's checkpoint does not verify with the restored server's keys: %v", err)
	}
	// The log continues, under the new key; the backup follows it.
	restored.appendSpans("b", 10)
	next := backupOf(t, out, restored.client)
	if next.From != 50 || next.Size != 60 || next.NewKeys != 1 {
		t.Errorf("backup after the restore: got %+v", next)
	}
	if rep := mustVerify(t, out); rep.Keys != 2 {
		t.Errorf("log.key holds %d keys, want 2", rep.Keys)
	}
}

func TestRestoreRefuses(t *testing.T) {
	srv := startServer(t, t.TempDir())
	srv.appendSpans("a", 30)
	out := t.TempDir()
	backupOf(t, out, srv.client)
	srv.appendSpans("b", 5) // the log moves on past the backup
	srv.stop()
	keys := filepath.Join(srv.dir, KeysDir)

	// A key directory as it was at the time of the backup.
	atBackup := filepath.Join(t.TempDir(), "keys")
	if err := copyDir(keys, atBackup); err != nil {
		t.Fatal(err)
	}
	st, _ := loadState(out)
	if err := os.Remove(filepath.Join(atBackup, tlog.GuardFile)); err != nil {
		t.Fatal(err)
	}
	g, err := tlog.OpenGuard(atBackup, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Advance(st.Size, st.Root); err != nil {
		t.Fatal(err)
	}
	otherLog := filepath.Join(t.TempDir(), "keys")
	if _, err := tlog.LoadOrCreateKeys(otherLog, "other.test/log", nil, nil); err != nil {
		t.Fatal(err)
	}
	otherKey := filepath.Join(t.TempDir(), "keys")
	if _, err := tlog.LoadOrCreateKeys(otherKey, testOrigin, nil, nil); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		cfg  RestoreConfig
		want error
		text string
	}{
		{"no key choice", RestoreConfig{}, ErrKeys, "new log key"},
		{"both key choices", RestoreConfig{Keys: atBackup, NewLogKey: true}, ErrKeys, "not both"},
		{"keys of another log", RestoreConfig{Keys: otherLog}, ErrKeys, "other.test/log"},
		{"another key of the log", RestoreConfig{Keys: otherKey}, ErrKeys, "signed"},
		{"keys that signed beyond the backup", RestoreConfig{Keys: keys}, ErrKeys, "size 35, beyond this backup's 30"},
		{"keys that are no key directory", RestoreConfig{Keys: t.TempDir()}, ErrKeys, ""},
		{"target not empty", RestoreConfig{Keys: atBackup, Data: full}, ErrTarget, "never overwrites"},
		{"target is a file", RestoreConfig{Keys: atBackup, Data: file}, ErrTarget, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.From = out
			if cfg.Data == "" {
				cfg.Data = filepath.Join(t.TempDir(), "data")
			}
			_, err := Restore(context.Background(), cfg)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("got %v, want %v saying %q", err, tt.want, tt.text)
			}
			if cfg.Data != full && cfg.Data != file {
				if _, err := os.Stat(cfg.Data); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a refused restore left %s behind", cfg.Data)
				}
			}
		})
	}
	// The key directory of the backup's time works.
	data := filepath.Join(t.TempDir(), "data")
	if res := restore(t, RestoreConfig{From: out, Data: data, Keys: atBackup}); res.Size != 30 {
		t.Errorf("got %+v", res)
	}
	// An empty existing directory is fine too.
	empty := t.TempDir()
	restore(t, RestoreConfig{From: out, Data: empty, NewLogKey: true})
	if ents, _ := os.ReadDir(empty); !slices.ContainsFunc(ents, func(e os.DirEntry) bool { return e.Name() == "ledger" }) {
		t.Error("nothing restored into the empty directory")
	}
}
