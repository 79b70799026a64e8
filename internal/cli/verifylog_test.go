package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logline/logline/internal/tlog"
)

// TestVerifyLog: verify --log pins the key, remembers the checkpoint, and
// later proves the log only grew; a replayed older checkpoint, a fork and
// a foreign key all fail with exit 1.
func TestVerifyLog(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	url, _, _ := runServe(t, data)
	trust := t.TempDir()
	post := func(body string) {
		resp, err := http.Post(url+"/ingest", "application/x-ndjson", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	vlog := func(args ...string) (string, int) {
		out, errOut, code := runMain(t, context.Background(), nil, "", append([]string{"verify", "--log", "--server", url, "--trust-dir", trust}, args...)...)
		return out + errOut, code
	}
	post(`{"id":"a","tenant":"acme","who":"ana","did":"baked","this":"bread:1","when":"2026-01-02T03:04:05Z"}` + "\n")
	if out, code := vlog(); code != 0 || !strings.Contains(out, "first use") || !strings.Contains(out, "OK          checkpoint of size 1") {
		t.Fatalf("first: exit %d\n%s", code, out)
	}
	post(`{"id":"b","tenant":"acme","who":"ana","did":"baked","this":"bread:2","when":"2026-01-02T03:04:05Z"}` + "\n")
	out, code := vlog("--json")
	var res logResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.OK || res.Size != 2 || res.PreviousSize == nil || *res.PreviousSize != 1 {
		t.Fatalf("second: exit %d\n%s", code, out)
	}

	origin, err := tlog.KeysOrigin(filepath.Join(data, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tlog.LoadOrCreateKeys(filepath.Join(data, "keys"), origin, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	trusted := filepath.Join(trust, serverDirName(url), trustCheckpointFile)
	for _, tc := range []struct {
		name string
		size uint64
		want string
	}{
		{"replayed old checkpoint", 5, "the log went back"},
		{"fork", 2, "the log is forked"},
		{"history rewritten", 1, "not an extension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The client trusted a checkpoint the server's current log
			// contradicts (signed by the log's own key).
			note, err := tlog.SignCheckpoint(keys.Signer(), keys.Origin(), tc.size, [32]byte{7})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(trusted, note, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, code := vlog(); code != ExitFailed || !strings.Contains(out, "FAILED") || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 1 with %q\n%s", code, tc.want, out)
			}
			if got, _ := os.ReadFile(trusted); string(got) != string(note) {
				t.Fatal("a failed check replaced the trusted checkpoint")
			}
		})
	}
	t.Run("foreign key", func(t *testing.T) {
		other, err := tlog.LoadOrCreateKeys(t.TempDir(), keys.Origin(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		keyFile := filepath.Join(t.TempDir(), "other.key")
		if err := os.WriteFile(keyFile, []byte(other.VerifierKeys()[0]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, code := vlog("--log-key", keyFile); code != ExitFailed || !strings.Contains(out, "does not verify with the trusted log key") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
}
