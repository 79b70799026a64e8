package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// backupState is the part of backup.json this test reads.
type backupState struct {
	Size   uint64 `json:"size"`
	Chunks []struct {
		File string `json:"file"`
	} `json:"chunks"`
}

func readBackupState(t *testing.T, dir string) (backupState, bool) {
	t.Helper()
	var st backupState
	b, err := os.ReadFile(filepath.Join(dir, "backup.json"))
	if os.IsNotExist(err) {
		return st, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("backup.json: %v\n%s", err, b)
	}
	return st, true
}

// runLogline runs a logline command to its end and returns its exit code
// and output.
func runLogline(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, binPath, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("logline %s: no result within %v", strings.Join(args, " "), cmdTimeout)
	}
	code := exitCode(err)
	if code < 0 {
		t.Fatalf("logline %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return code, string(out)
}

// corpusCopies writes n copies of the whole corpus (8,577 spans) with
// fresh ids (prefix <tag><copy>_) to a file and returns its path and size.
func corpusCopies(t *testing.T, tag string, n int) (string, int64) {
	t.Helper()
	corpus, err := os.ReadFile(corpusPath)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for c := range n {
		buf.Write(bytes.ReplaceAll(corpus, []byte(`"id":"s_`), fmt.Appendf(nil, `"id":"%s%d_`, tag, c)))
	}
	p := filepath.Join(t.TempDir(), tag+".ndjson")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, int64(buf.Len())
}

// killWhenChunkGrows kills cmd once the chunk it is writing in dir has
// passed size bytes; it reports false when cmd ended first.
func killWhenChunkGrows(cmd *exec.Cmd, exited <-chan error, dir string, size int64) bool {
	for {
		select {
		case <-exited:
			return false
		case <-time.After(time.Millisecond):
		}
		tmps, _ := filepath.Glob(filepath.Join(dir, "entries", ".chunk-*.tmp"))
		for _, p := range tmps {
			if fi, err := os.Stat(p); err == nil && fi.Size() >= size {
				_ = cmd.Process.Kill()
				<-exited
				return true
			}
		}
	}
}

// TestKillDuringBackup SIGKILLs `logline backup` at random moments of
// first and incremental runs against a live server: after every kill the
// backup is the previous one (or none, before the first commit) and
// verifies; the next run completes and leaves no leftover files.
func TestKillDuringBackup(t *testing.T) {
	r, _ := newRand(t)
	srv := startServer(t, t.TempDir())
	out := filepath.Join(t.TempDir(), "backup")
	rounds := 6
	if testing.Short() {
		rounds = 3
	}
	killedMidRun := 0
	for round := range rounds {
		copies := 2
		if round == 0 {
			copies = 4 // ~34,000 spans, ~25 MB for the first run
		}
		file, bytesIn := corpusCopies(t, fmt.Sprintf("k%d-", round), copies)
		if code, o := runLogline(t, "ingest", "--server", srv.base, file); code != 0 {
			t.Fatalf("ingest: exit %d\n%s", code, o)
		}
		before, had := readBackupState(t, out)

		cmd := exec.Command(binPath, "backup", "--out", out, "--server", srv.base)
		var cmdOut syncBuffer
		cmd.Stdout, cmd.Stderr = &cmdOut, &cmdOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if round%2 == 0 {
			// In the middle of writing a chunk.
			at := bytesIn/20 + r.Int64N(bytesIn*3/4)
			if killWhenChunkGrows(cmd, exited, out, at) {
				killedMidRun++
				t.Logf("round %d: killed once the chunk passed %d bytes", round, at)
			} else {
				t.Logf("round %d: backup finished before its chunk passed %d bytes", round, at)
			}
		} else {
			// At any moment.
			wait := time.Duration(r.IntN(300)) * time.Millisecond
			select {
			case err := <-exited:
				t.Logf("round %d: backup finished before the kill at %v (%v)", round, wait, err)
			case <-time.After(wait):
				_ = cmd.Process.Kill()
				<-exited
				killedMidRun++
				t.Logf("round %d: killed after %v", round, wait)
			}
		}

		// The backup is the previous one or a complete new one, and verifies.
		after, has := readBackupState(t, out)
		switch {
		case !has && had:
			t.Fatalf("round %d: backup.json vanished", round)
		case has && had && after.Size != before.Size && !slices.Equal(after.Chunks[:len(before.Chunks)], before.Chunks):
			t.Fatalf("round %d: the backup's old chunks changed", round)
		}
		if has {
			if code, o := runLogline(t, "restore", out, "--check"); code != 0 {
				t.Fatalf("round %d: the backup left by the kill does not verify: exit %d\n%s", round, code, o)
			}
		}
		// The next run completes and cleans up.
		if code, o := runLogline(t, "backup", "--out", out, "--server", srv.base); code != 0 {
			t.Fatalf("round %d: backup after the kill: exit %d\n%s", round, code, o)
		}
		final, _ := readBackupState(t, out)
		var want, got []string
		for _, c := range final.Chunks {
			want = append(want, c.File)
		}
		ents, err := os.ReadDir(filepath.Join(out, "entries"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			got = append(got, "entries/"+e.Name())
		}
		if !slices.Equal(got, want) {
			t.Errorf("round %d: entries/ holds %q, backup.json names %q", round, got, want)
		}
	}
	if killedMidRun == 0 {
		t.Errorf("no kill landed while a backup ran")
	}
	code, o := runLogline(t, "restore", out, "--check")
	if code != 0 || !strings.Contains(o, "OK") {
		t.Fatalf("final backup: exit %d\n%s", code, o)
	}
	data := filepath.Join(t.TempDir(), "data")
	if code, o := runLogline(t, "restore", out, "--data", data, "--new-log-key"); code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, o)
	}
	verifyOK(t, data)
}
