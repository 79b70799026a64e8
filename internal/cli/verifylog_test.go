package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
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

	checkForgedTrust(t, data, trust, url, 2, "FAILED", vlog)
}
