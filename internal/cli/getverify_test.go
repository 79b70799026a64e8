package cli

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logline/logline/internal/tlog"
)

func TestGetVerify(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	url, _, _ := runServe(t, data)
	trust := t.TempDir()
	post := func(ids ...string) {
		var body strings.Builder
		for _, id := range ids {
			body.WriteString(`{"id":"` + id + `","tenant":"acme","who":"ana","did":"baked","this":"bread:1","when":"2026-01-02T03:04:05Z"}` + "\n")
		}
		resp, err := http.Post(url+"/ingest", "application/x-ndjson", strings.NewReader(body.String()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get := func(args ...string) (string, int) {
		_, errOut, code := runMain(t, context.Background(), nil, "", append([]string{"get", "--server", url, "--verify", "--trust-dir", trust}, args...)...)
		return errOut, code
	}
	post("a", "b", "c")
	if out, code := get("b"); code != 0 || !strings.Contains(out, "first use") || !strings.Contains(out, "VERIFIED") || !strings.Contains(out, "leaf 1 ") {
		t.Fatalf("first verify: exit %d\n%s", code, out)
	}
	post("d", "e")
	if out, code := get("a"); code != 0 || !strings.Contains(out, "only grew since the checkpoint verified before (size 3)") {
		t.Fatalf("second verify: exit %d\n%s", code, out)
	}

	checkForgedTrust(t, data, trust, url, 5, "NOT VERIFIED", func(args ...string) (string, int) { return get(append([]string{"a"}, args...)...) })
}

// checkForgedTrust makes the client trust checkpoints that contradict the
// server's log of logSize entries — signed with the log's own key, as only
// a lying server could — and a foreign log key, and checks that run fails
// each time with exit 1, the reason, and failWord in its output.
func checkForgedTrust(t *testing.T, data, trust, url string, logSize uint64, failWord string, run func(args ...string) (string, int)) {
	t.Helper()
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
		{"replayed older checkpoint", logSize + 3, "the log went back"},
		{"fork", logSize, "the log is forked"},
		{"history rewritten", logSize - 1, "not an extension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			note, err := tlog.SignCheckpoint(keys.Signer(), keys.Origin(), tc.size, [32]byte{9})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(trusted, note, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, code := run(); code != ExitFailed || !strings.Contains(out, tc.want) || !strings.Contains(out, failWord) {
				t.Fatalf("got exit %d, want %d with %q:\n%s", code, ExitFailed, tc.want, out)
			}
			if got, _ := os.ReadFile(trusted); string(got) != string(note) {
				t.Fatal("a failed check replaced the trusted checkpoint")
			}
		})
	}
	os.Remove(trusted)

	t.Run("another log key", func(t *testing.T) {
		other, err := tlog.LoadOrCreateKeys(t.TempDir(), keys.Origin(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		keyFile := filepath.Join(t.TempDir(), "other.key")
		if err := os.WriteFile(keyFile, []byte(other.VerifierKeys()[0]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, code := run("--log-key", keyFile); code != ExitFailed || !strings.Contains(out, "does not verify with the trusted log key") {
			t.Fatalf("got exit %d:\n%s", code, out)
		}
	})
}
