package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logline/logline/internal/tlog"
)

// tamperBackup is a backup of 120 entries taken in two runs (chunks
// [0, 80) and [80, 120), checkpoints of size 80 and 120), and a second
// server of the same log (origin and key) with another history of 120
// entries.
func tamperBackup(t *testing.T) (out string, fork *testServer) {
	t.Helper()
	srvs := sharedKeyServers(t, 2)
	srvs[0].appendSpans("a", 80)
	out = t.TempDir()
	backupOf(t, out, srvs[0].client)
	srvs[0].appendSpans("b", 40)
	backupOf(t, out, srvs[0].client)
	srvs[1].appendSpans("x", 120)
	return out, srvs[1]
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

// editFile rewrites dir/name with fn.
func editFile(t *testing.T, dir, name string, fn func([]byte) []byte) {
	t.Helper()
	p := filepath.Join(dir, name)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, fn(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editLines rewrites the lines of dir/name with fn.
func editLines(t *testing.T, dir, name string, fn func([][]byte) [][]byte) {
	t.Helper()
	editFile(t, dir, name, func(b []byte) []byte {
		lines := bytes.SplitAfter(b, []byte("\n"))
		if len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		return bytes.Join(fn(lines), nil)
	})
}

// replaceIn replaces the first old in line k of a chunk.
func replaceIn(k int, old, new string) func([][]byte) [][]byte {
	return func(lines [][]byte) [][]byte {
		lines[k] = bytes.Replace(lines[k], []byte(old), []byte(new), 1)
		return lines
	}
}

func TestTamperedBackupRefused(t *testing.T) {
	out, fork := tamperBackup(t)
	first, second := chunkName(0, 80), chunkName(80, 120)
	for _, tt := range []struct {
		name   string
		tamper func(t *testing.T, dir string)
		file   string
		line   int
		index  int64
		reason string
	}{
		{"flip a byte in an entry", func(t *testing.T, dir string) {
			editLines(t, dir, first, replaceIn(17, `"who":"w`, `"who":"v`))
		}, first, 18, 17, "curr_hash"},
		{"flip a byte of a signature", func(t *testing.T, dir string) {
			editLines(t, dir, second, replaceIn(5, `"signature":"`, `"signature":"f`)) // index 85: signed
		}, second, 6, 85, ""},
		{"flip a byte of received_at", func(t *testing.T, dir string) {
			editLines(t, dir, first, replaceIn(30, `"received_at":"20`, `"received_at":"21`))
		}, first, 0, -1, "SHA-256"},
		{"flip a byte of prev_hash", func(t *testing.T, dir string) {
			editLines(t, dir, second, replaceIn(2, `"prev_hash":"`, `"prev_hash":"f`))
		}, second, 3, 82, ""},
		{"delete a line", func(t *testing.T, dir string) {
			editLines(t, dir, first, func(l [][]byte) [][]byte { return append(l[:40:40], l[41:]...) })
		}, first, 41, 40, "log_index is 41, want 40"},
		{"duplicate a line", func(t *testing.T, dir string) {
			editLines(t, dir, second, func(l [][]byte) [][]byte { return append(l[:11:11], l[10:]...) })
		}, second, 12, 91, "log_index is 90, want 91"},
		{"swap two lines", func(t *testing.T, dir string) {
			editLines(t, dir, first, func(l [][]byte) [][]byte { l[60], l[61] = l[61], l[60]; return l })
		}, first, 61, 60, "log_index is 61, want 60"},
		{"truncate a chunk mid-line", func(t *testing.T, dir string) {
			editFile(t, dir, second, func(b []byte) []byte { return b[:len(b)-100] })
		}, second, 40, 119, "truncated"},
		{"truncate a chunk at a line end", func(t *testing.T, dir string) {
			editLines(t, dir, second, func(l [][]byte) [][]byte { return l[:33] })
		}, second, 34, 113, "ends after 33 of the 40 entries"},
		{"delete a chunk", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, second))
		}, second, 0, 80, "missing"},
		{"another history with backup.json updated to match", func(t *testing.T, dir string) {
			forged := t.TempDir()
			backupOf(t, forged, fork.client)
			copyTree(t, filepath.Join(forged, EntriesDir), filepath.Join(dir, EntriesDir))
			os.Remove(filepath.Join(dir, second))
			editFile(t, dir, StateFile, func(b []byte) []byte {
				st, err := ParseState(b)
				if err != nil {
					t.Fatal(err)
				}
				fst, _ := loadState(forged)
				st.Chunks = fst.Chunks
				return st.Marshal()
			})
		}, checkpointName(80), 0, 79, "give root"},
		{"edit backup.json: size", func(t *testing.T, dir string) {
			editFile(t, dir, StateFile, func(b []byte) []byte { return bytes.Replace(b, []byte(`"size": 120,`), []byte(`"size": 119,`), 1) })
		}, StateFile, 0, -1, "frontier"},
		{"edit backup.json: root", func(t *testing.T, dir string) {
			editFile(t, dir, StateFile, func(b []byte) []byte {
				st, _ := ParseState(b)
				return bytes.Replace(b, []byte(b64(st.Root)), []byte(b64([32]byte{1})), 1)
			})
		}, StateFile, 0, -1, "frontier gives root"},
		{"edit backup.json: a chunk's hash", func(t *testing.T, dir string) {
			editFile(t, dir, StateFile, func(b []byte) []byte {
				st, _ := ParseState(b)
				st.Chunks[0].SHA256[0] ^= 1
				return st.Marshal()
			})
		}, first, 0, -1, "SHA-256"},
		{"edit backup.json: unknown field", func(t *testing.T, dir string) {
			editFile(t, dir, StateFile, func(b []byte) []byte { return bytes.Replace(b, []byte(`{`), []byte(`{"extra":1,`), 1) })
		}, StateFile, 0, -1, "unknown field"},
		{"replace the checkpoint with an older one", func(t *testing.T, dir string) {
			older, _ := os.ReadFile(filepath.Join(dir, checkpointName(80)))
			editFile(t, dir, checkpointName(120), func([]byte) []byte { return older })
		}, checkpointName(120), 0, -1, "size 80"},
		{"edit the checkpoint", func(t *testing.T, dir string) {
			editFile(t, dir, checkpointName(120), func(b []byte) []byte { return bytes.Replace(b, []byte("120"), []byte("121"), 1) })
		}, checkpointName(120), 0, -1, "does not verify"},
		{"replace log.key", func(t *testing.T, dir string) {
			k, err := tlog.LoadOrCreateKeys(t.TempDir(), testOrigin, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			editFile(t, dir, KeyFile, func([]byte) []byte { return []byte(k.VerifierKeys()[0] + "\n") })
		}, checkpointName(80), 0, -1, "does not verify"},
		{"no backup.json", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, StateFile))
		}, StateFile, 0, -1, "missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, out, dir)
			tt.tamper(t, dir)
			_, err := Verify(context.Background(), dir, VerifyOptions{Workers: 3})
			checkTamper(t, err, tt.file, tt.line, tt.index, tt.reason)

			data := filepath.Join(t.TempDir(), "data")
			_, err = Restore(context.Background(), RestoreConfig{From: dir, Data: data, NewLogKey: true})
			checkTamper(t, err, tt.file, tt.line, tt.index, tt.reason)
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused restore left %s behind", data)
			}
		})
	}
	mustVerify(t, out)
}

func checkTamper(t *testing.T, err error, file string, line int, index int64, reason string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want an *Error", err)
	}
	if e.File != file || e.Line != line || e.Index != index || !strings.Contains(e.Reason, reason) {
		t.Errorf("got %q (file %q line %d index %d), want file %q line %d index %d saying %q", err, e.File, e.Line, e.Index, file, line, index, reason)
	}
}
