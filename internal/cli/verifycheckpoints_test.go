package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// ledgerWithArchive writes a stopped ledger whose entries are spans
// ids[0..n) (an id starting with "x" gets other content), with a log key
// in keys and signed checkpoints of the given sizes archived, as serve
// would leave it. keys is created on first use and shared by callers
// that want one log key across several directories (a forked history).
func ledgerWithArchive(t *testing.T, dir, keysDir string, ids []string, archived []uint64) {
	t.Helper()
	ctx := context.Background()
	keys, err := tlog.LoadOrCreateKeys(keysDir, "logline.test/ledger", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if keysDir != filepath.Join(dir, keysDirName) {
		copyTree(t, keysDir, filepath.Join(dir, keysDirName))
	}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	store, err := segment.Open(ctx, segment.Config{Dir: dir, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		did := "baked"
		if strings.HasPrefix(id, "x") {
			did = "forged"
		}
		sp := ledgertest.MustSpan(t, fmt.Sprintf(`{"id":%q,"tenant":"acme","who":"ana","did":%q,"this":"bread","when":"2026-11-25T10:00:00Z"}`, strings.TrimPrefix(id, "x"), did))
		if outs, err := store.Append(ctx, []*span.Span{sp}); err != nil || outs[0].Err != nil {
			t.Fatalf("append: %v %v", err, outs)
		}
	}
	var lines []byte
	for _, n := range archived {
		root, err := store.TreeHash(ctx, min(n, store.Size()))
		if err != nil {
			t.Fatal(err)
		}
		note, err := tlog.SignCheckpoint(keys.Signer(), keys.Origin(), n, root)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := json.Marshal(map[string]any{"size": n, "checkpoint": string(note)})
		lines = append(append(lines, line...), '\n')
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, checkpointsDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, checkpointsDirName, "2026-11-25.ndjson"), lines, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

func ids(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprint(prefix, i))
	}
	return out
}

// TestVerifyAgainstCheckpoints: verify --data checks every archived
// checkpoint and the last-signed record against the segments, so a
// history rewritten with consistent commit lines, or cut short, is caught
// and the damaged range of log indexes named.
func TestVerifyAgainstCheckpoints(t *testing.T) {
	keysDir := filepath.Join(t.TempDir(), "keys")
	good := filepath.Join(t.TempDir(), "good")
	ledgerWithArchive(t, good, keysDir, ids("s", 10), []uint64{0, 3, 6, 10})

	out, _, code := runMain(t, context.Background(), nil, "", "verify", "--data", good)
	if code != 0 || !strings.Contains(out, "checkpoints 4 archived (sizes 0..10): signatures and roots match") {
		t.Fatalf("good ledger: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		name  string
		ids   []string
		want  string
		index int64
	}{
		{"rewritten from the start", ids("xs", 10), "history was rewritten at a log index in [0, 3)", 0},
		{"rewritten in the middle", append(ids("s", 4), ids("xs", 10)[4:]...), "history was rewritten at a log index in [3, 6)", 3},
		{"cut short", ids("s", 7), "segments hold 7: acknowledged entries from log index 7 on are missing", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			// The same log key, another history; then the good log's archive.
			ledgerWithArchive(t, dir, keysDir, tc.ids, nil)
			copyFile(t, filepath.Join(good, checkpointsDirName, "2026-11-25.ndjson"), filepath.Join(dir, checkpointsDirName, "2026-11-25.ndjson"))
			out, _, code := runMain(t, context.Background(), nil, "", "verify", "--data", dir, "--json")
			var res verifyResult
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("exit %d, bad JSON %v:\n%s", code, err, out)
			}
			p := res.Problem
			if code != ExitFailed || res.OK || p == nil || p.Kind != "checkpoint" || !strings.Contains(p.Reason, tc.want) || p.LogIndex == nil || *p.LogIndex != tc.index {
				t.Fatalf("exit %d, problem %+v\n%s", code, p, out)
			}
		})
	}

	t.Run("forged signature", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		ledgerWithArchive(t, dir, filepath.Join(t.TempDir(), "other-keys"), ids("s", 10), []uint64{10})
		// The archive was signed by another key than the one in data/keys.
		if err := os.RemoveAll(filepath.Join(dir, keysDirName)); err != nil {
			t.Fatal(err)
		}
		copyTree(t, keysDir, filepath.Join(dir, keysDirName))
		out, _, code := runMain(t, context.Background(), nil, "", "verify", "--data", dir)
		if code != ExitFailed || !strings.Contains(out, "archived checkpoint does not verify with the log's keys") || !strings.Contains(out, "2026-11-25.ndjson:1") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})

	t.Run("last-signed record beyond the log", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		ledgerWithArchive(t, dir, keysDir, ids("s", 10), nil)
		root := [32]byte{1}
		guard, err := tlog.OpenGuard(filepath.Join(dir, keysDirName), "logline.test/ledger")
		if err != nil {
			t.Fatal(err)
		}
		if err := guard.Advance(12, root); err != nil {
			t.Fatal(err)
		}
		out, _, code := runMain(t, context.Background(), nil, "", "verify", "--data", dir)
		if code != ExitFailed || !strings.Contains(out, "last-signed record") || !strings.Contains(out, "log index 10") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})

	t.Run("no archive", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		ledgerWithArchive(t, dir, keysDir, ids("s", 3), nil)
		if err := os.RemoveAll(filepath.Join(dir, checkpointsDirName)); err != nil {
			t.Fatal(err)
		}
		out, _, code := runMain(t, context.Background(), nil, "", "verify", "--data", dir)
		if code != 0 || !strings.Contains(out, "no archived checkpoints") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKeysRotate: after a rotation the old checkpoints still verify (the
// retired verifier key stays listed) and the new key is active.
func TestKeysRotate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ledgerWithArchive(t, dir, filepath.Join(dir, keysDirName), ids("s", 4), []uint64{2, 4})
	out, _, code := runMain(t, context.Background(), nil, "", "keys", "list", "--data", dir, "--json")
	var before struct {
		Origin string       `json:"origin"`
		Keys   []logKeyJSON `json:"keys"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &before) != nil || len(before.Keys) != 1 || !before.Keys[0].Active {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	out, errOut, code := runMain(t, context.Background(), nil, "", "keys", "rotate", "--data", dir)
	if code != 0 || !strings.Contains(errOut, "retired log key "+before.Keys[0].ID) || strings.Count(out, "\n") != 3 || !strings.Contains(out, "retired ") {
		t.Fatalf("rotate: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, keysDirName, before.Keys[0].ID+".key")); !os.IsNotExist(err) {
		t.Fatalf("retired private key still there: %v", err)
	}
	if out, _, code := runMain(t, context.Background(), nil, "", "verify", "--data", dir); code != 0 || !strings.Contains(out, "checkpoints 2 archived") {
		t.Fatalf("verify after rotation: exit %d\n%s", code, out)
	}
	// A new checkpoint signs with the new key; both verify with the list.
	origin, err := tlog.KeysOrigin(filepath.Join(dir, keysDirName))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tlog.LoadOrCreateKeys(filepath.Join(dir, keysDirName), origin, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := keys.Keys(); len(got) != 2 || got[0].ID() != before.Keys[0].ID || !got[1].Active {
		t.Fatalf("keys after rotation: %+v", got)
	}

	for _, args := range [][]string{
		{"keys", "rotate", "--data", t.TempDir()},
		{"keys", "list", "--data", t.TempDir()},
	} {
		if _, errOut, code := runMain(t, context.Background(), nil, "", args...); code != ExitUsage || !strings.Contains(errOut, "no log keys") {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
	}
}
