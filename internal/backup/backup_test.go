package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/logline/logline/internal/client"
	"github.com/logline/logline/internal/tlog"
)

func TestBackupIncremental(t *testing.T) {
	srv := startServer(t, t.TempDir())
	srv.appendSpans("a", 250)
	out := filepath.Join(t.TempDir(), "backup")

	res := backupOf(t, out, srv.client)
	if res.From != 0 || res.Size != 250 || res.Copied != 250 || len(res.Chunks) != 1 || res.UpToDate || res.Origin != testOrigin {
		t.Fatalf("first run: got %+v", res)
	}
	if res.Root != srv.store.Checkpoint().Root {
		t.Errorf("root %x, the server's %x", res.Root, srv.store.Checkpoint().Root)
	}
	rep := mustVerify(t, out)
	if rep.Size != 250 || rep.Tenants != 3 || rep.Signed != 50 || rep.Chunks != 1 || rep.Checkpoints != 1 {
		t.Errorf("verify: got %+v", rep)
	}
	keyText, err := os.ReadFile(filepath.Join(out, KeyFile))
	if err != nil || string(keyText) != strings.Join(srv.keys.VerifierKeys(), "\n")+"\n" {
		t.Errorf("log.key: got %q, %v", keyText, err)
	}
	for _, name := range []string{StateFile, checkpointName(250), chunkName(0, 250)} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	firstChunk, err := os.ReadFile(filepath.Join(out, chunkName(0, 250)))
	if err != nil {
		t.Fatal(err)
	}

	// The second run reads only the new entries: the old chunk is not even
	// there while it runs.
	srv.appendSpans("b", 100)
	hidden := filepath.Join(t.TempDir(), "hidden")
	if err := os.Rename(filepath.Join(out, chunkName(0, 250)), hidden); err != nil {
		t.Fatal(err)
	}
	res = backupOf(t, out, srv.client)
	if res.From != 250 || res.Size != 350 || res.Copied != 100 || len(res.Chunks) != 1 || res.Chunks[0].First != 250 {
		t.Fatalf("second run: got %+v", res)
	}
	if err := os.Rename(hidden, filepath.Join(out, chunkName(0, 250))); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(filepath.Join(out, chunkName(0, 250))); !bytes.Equal(again, firstChunk) {
		t.Error("the first chunk changed")
	}
	if rep := mustVerify(t, out); rep.Size != 350 || rep.Chunks != 2 || rep.Checkpoints != 2 {
		t.Errorf("verify: got %+v", rep)
	}

	// Nothing new: nothing written.
	state, _ := os.ReadFile(filepath.Join(out, StateFile))
	res = backupOf(t, out, srv.client)
	if !res.UpToDate || res.Copied != 0 || res.Size != 350 {
		t.Errorf("third run: got %+v, want up to date", res)
	}
	if again, _ := os.ReadFile(filepath.Join(out, StateFile)); !bytes.Equal(again, state) {
		t.Error("an up-to-date run rewrote backup.json")
	}
}

func TestBackupChunks(t *testing.T) {
	srv := startServer(t, t.TempDir())
	srv.appendSpans("a", 130)
	out := t.TempDir()
	res, err := Run(context.Background(), Config{Dir: out, Source: srv.client, ChunkEntries: 50})
	if err != nil {
		t.Fatal(err)
	}
	var ranges [][2]uint64
	for _, c := range res.Chunks {
		ranges = append(ranges, [2]uint64{c.First, c.End})
	}
	if want := [][2]uint64{{0, 50}, {50, 100}, {100, 130}}; !slices.Equal(ranges, want) {
		t.Errorf("chunks %v, want %v", ranges, want)
	}
	mustVerify(t, out)
}

func TestBackupEmptyLog(t *testing.T) {
	srv := startServer(t, t.TempDir())
	out := t.TempDir()
	if res := backupOf(t, out, srv.client); res.Size != 0 || len(res.Chunks) != 0 {
		t.Fatalf("got %+v", res)
	}
	if rep := mustVerify(t, out); rep.Size != 0 || rep.Root != tlog.EmptyRoot() {
		t.Errorf("got %+v", rep)
	}
	srv.appendSpans("a", 3)
	if res := backupOf(t, out, srv.client); res.From != 0 || res.Size != 3 {
		t.Fatalf("got %+v", res)
	}
	mustVerify(t, out)
}

// hookSource wraps a Source with hooks.
type hookSource struct {
	Source
	afterCheckpoint func()
	line            func(n int, line []byte) ([]byte, error) // the n-th streamed line (from 0)
	lines           int
}

func (h *hookSource) Checkpoint(ctx context.Context) ([]byte, error) {
	b, err := h.Source.Checkpoint(ctx)
	if h.afterCheckpoint != nil {
		h.afterCheckpoint()
	}
	return b, err
}

func (h *hookSource) Stream(ctx context.Context, opts client.StreamOptions, fn func([]byte) error) (client.StreamEnd, error) {
	return h.Source.Stream(ctx, opts, func(line []byte) error {
		if h.line != nil {
			l, err := h.line(h.lines, line)
			if err != nil {
				return err
			}
			line = l
		}
		h.lines++
		return fn(line)
	})
}

func TestBackupStopsAtCheckpoint(t *testing.T) {
	srv := startServer(t, t.TempDir())
	srv.appendSpans("a", 40)
	out := t.TempDir()
	src := &hookSource{Source: srv.client, afterCheckpoint: func() { srv.appendSpans("late", 30) }}
	res := backupOf(t, out, src)
	if res.Size != 40 || src.lines != 40 {
		t.Fatalf("got size %d after streaming %d lines, want 40 and 40", res.Size, src.lines)
	}
	mustVerify(t, out)
	if res := backupOf(t, out, srv.client); res.From != 40 || res.Size != 70 {
		t.Errorf("next run: got %+v", res)
	}
	mustVerify(t, out)
}

// listDir returns the names in dir/sub.
func listDir(t *testing.T, dir, sub string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, sub+"/"+e.Name())
	}
	return names
}

func TestBackupInterrupted(t *testing.T) {
	for _, prior := range []int{0, 200} {
		t.Run(map[int]string{0: "first run", 200: "incremental run"}[prior], func(t *testing.T) {
			srv := startServer(t, t.TempDir())
			out := t.TempDir()
			if prior > 0 {
				srv.appendSpans("a", prior)
				backupOf(t, out, srv.client)
			}
			before, _ := os.ReadFile(filepath.Join(out, StateFile))
			srv.appendSpans("b", 300)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			src := &hookSource{Source: srv.client, line: func(n int, line []byte) ([]byte, error) {
				if n == 150 {
					cancel()
					return nil, ctx.Err()
				}
				return line, nil
			}}
			_, err := Run(ctx, Config{Dir: out, Source: src, ChunkEntries: 64})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			// The previous backup is untouched and verifies; the run left
			// finished chunks behind.
			after, _ := os.ReadFile(filepath.Join(out, StateFile))
			if !bytes.Equal(after, before) {
				t.Fatal("an interrupted run changed backup.json")
			}
			if prior > 0 {
				mustVerify(t, out)
			}
			if got := len(listDir(t, out, EntriesDir)); got <= len(slices.Collect(stateChunks(t, out))) {
				t.Fatalf("no leftover chunk (got %d files)", got)
			}

			res := backupOf(t, out, srv.client)
			if res.Size != uint64(prior+300) || res.From != uint64(prior) {
				t.Fatalf("next run: got %+v", res)
			}
			mustVerify(t, out)
			// The leftovers are gone: entries/ holds what backup.json names.
			got := listDir(t, out, EntriesDir)
			want := slices.Collect(stateChunks(t, out))
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("entries/ holds %q, backup.json names %q", got, want)
			}
		})
	}
}

// stateChunks yields the chunk files backup.json names.
func stateChunks(t *testing.T, dir string) func(func(string) bool) {
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	return func(yield func(string) bool) {
		if st == nil {
			return
		}
		for _, c := range st.Chunks {
			if !yield(c.File) {
				return
			}
		}
	}
}

// sharedKeyServers starts servers on new data directories that all hold a
// copy of one key directory: the same log (origin and key), any history.
func sharedKeyServers(t *testing.T, n int) []*testServer {
	t.Helper()
	keys := filepath.Join(t.TempDir(), "keys")
	if _, err := tlog.LoadOrCreateKeys(keys, testOrigin, nil, nil); err != nil {
		t.Fatal(err)
	}
	var out []*testServer
	for range n {
		dir := t.TempDir()
		if err := copyDir(keys, filepath.Join(dir, KeysDir)); err != nil {
			t.Fatal(err)
		}
		out = append(out, startServer(t, dir))
	}
	return out
}

func TestBackupRefusesFork(t *testing.T) {
	srvs := sharedKeyServers(t, 4)
	srvs[0].appendSpans("a", 100)
	out := t.TempDir()
	backupOf(t, out, srvs[0].client)
	state, _ := os.ReadFile(filepath.Join(out, StateFile))

	srvs[1].appendSpans("b", 150) // other history, longer
	srvs[2].appendSpans("c", 60)  // other history, shorter
	srvs[3].appendSpans("d", 100) // other history, same size
	for _, tt := range []struct {
		name  string
		srv   *testServer
		sizes []string
	}{
		{"longer", srvs[1], []string{"size 150", "size 100"}},
		{"shorter", srvs[2], []string{"size 60", "size 100"}},
		{"same size", srvs[3], []string{"size 100"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), Config{Dir: out, Source: tt.srv.client})
			if !errors.Is(err, ErrFork) {
				t.Fatalf("got %v, want ErrFork", err)
			}
			for _, s := range tt.sizes {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not name %q", err, s)
				}
			}
			if again, _ := os.ReadFile(filepath.Join(out, StateFile)); !bytes.Equal(again, state) {
				t.Error("a refused run changed backup.json")
			}
		})
	}
	mustVerify(t, out)
}

func TestBackupRefuses(t *testing.T) {
	srv := startServer(t, t.TempDir())
	srv.appendSpans("a", 20)

	t.Run("another log", func(t *testing.T) {
		out := t.TempDir()
		backupOf(t, out, srv.client)
		dir := t.TempDir()
		if _, err := tlog.LoadOrCreateKeys(filepath.Join(dir, KeysDir), "other.test/log", nil, nil); err != nil {
			t.Fatal(err)
		}
		other := startServer(t, dir)
		other.appendSpans("a", 30)
		if _, err := Run(context.Background(), Config{Dir: out, Source: other.client}); !errors.Is(err, ErrOtherLog) {
			t.Errorf("got %v, want ErrOtherLog", err)
		}
	})
	t.Run("not a backup directory", func(t *testing.T) {
		out := t.TempDir()
		if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Run(context.Background(), Config{Dir: out, Source: srv.client}); !errors.Is(err, ErrNotBackup) {
			t.Errorf("got %v, want ErrNotBackup", err)
		}
	})
	t.Run("busy", func(t *testing.T) {
		out := t.TempDir()
		unlock, err := lockDir(out)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		if _, err := Run(context.Background(), Config{Dir: out, Source: srv.client}); !errors.Is(err, ErrBusy) {
			t.Errorf("got %v, want ErrBusy", err)
		}
	})
	t.Run("entries that do not give the checkpoint's root", func(t *testing.T) {
		out := t.TempDir()
		src := &hookSource{Source: srv.client, line: func(n int, line []byte) ([]byte, error) {
			if n == 7 {
				return bytes.Replace(line, []byte(`"who":"w`), []byte(`"who":"W`), 1), nil
			}
			return line, nil
		}}
		if _, err := Run(context.Background(), Config{Dir: out, Source: src}); !errors.Is(err, ErrServer) {
			t.Errorf("got %v, want ErrServer", err)
		}
		if _, err := os.Stat(filepath.Join(out, StateFile)); err == nil {
			t.Error("a refused first run wrote backup.json")
		}
	})
	t.Run("checkpoint by an unknown key", func(t *testing.T) {
		impostor := filepath.Join(t.TempDir(), "keys")
		k, err := tlog.LoadOrCreateKeys(impostor, testOrigin, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		cp := srv.store.Checkpoint()
		note, err := tlog.SignCheckpoint(k.Signer(), testOrigin, cp.Size, cp.Root)
		if err != nil {
			t.Fatal(err)
		}
		src := &fixedCheckpoint{Source: srv.client, note: note}
		if _, err := Run(context.Background(), Config{Dir: t.TempDir(), Source: src}); !errors.Is(err, ErrServer) {
			t.Errorf("got %v, want ErrServer", err)
		}
	})
}

type fixedCheckpoint struct {
	Source
	note []byte
}

func (f *fixedCheckpoint) Checkpoint(context.Context) ([]byte, error) { return f.note, nil }
