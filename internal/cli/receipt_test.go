package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyReceipt(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	url, stop, _ := runServe(t, data)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	post := func(query, body string) []byte {
		resp, err := http.Post(url+"/ingest"+query, "application/x-ndjson", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return buf.Bytes()
	}
	span := func(id string) string {
		return `{"id":"` + id + `","tenant":"acme","who":"ana","did":"baked","this":"bread:1","when":"2026-01-02T03:04:05Z"}` + "\n"
	}
	logKey := write("log.key", httpGet(t, url+"/log/key"))
	withProof := bytes.SplitN(post("?proof=1", span("a")+span("b")), []byte("\n"), 3)
	first := write("first.json", withProof[0])
	second := write("second.json", withProof[1]) // names its checkpoint by size only

	var firstLine struct {
		Receipt struct {
			Checkpoint string `json:"checkpoint"`
		} `json:"receipt"`
	}
	if err := json.Unmarshal(withProof[0], &firstLine); err != nil || firstLine.Receipt.Checkpoint == "" {
		t.Fatalf("first result line has no checkpoint note: %s (%v)", withProof[0], err)
	}
	note := write("checkpoint.txt", []byte(firstLine.Receipt.Checkpoint))
	noProof := write("noproof.json", bytes.SplitN(post("", span("c")), []byte("\n"), 2)[0])
	tampered := write("tampered.json", bytes.Replace(withProof[0], []byte(`"tenant":"acme","log_index":0,"leaf_hash"`), []byte(`"tenant":"acme","log_index":1,"leaf_hash"`), 1))

	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"with proof", []string{"--receipt", first, "--log-key", logKey}, 0, "inclusion proof verified"},
		{"named checkpoint", []string{"--receipt", second, "--log-key", logKey, "--checkpoint", note}, 0, "inclusion proof verified"},
		{"named checkpoint, no note", []string{"--receipt", second, "--log-key", logKey}, ExitFailed, "carries no note"},
		{"without proof", []string{"--receipt", noProof, "--log-key", logKey}, 0, "inclusion NOT checked"},
		{"tampered", []string{"--receipt", tampered, "--log-key", logKey}, ExitFailed, "FAILED"},
		{"missing key", []string{"--receipt", first}, ExitUsage, "go together"},
		{"not a key", []string{"--receipt", first, "--log-key", first}, ExitUsage, "not a verifier key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runMain(t, context.Background(), nil, "", append([]string{"verify"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("got exit %d, output %q %q; want exit %d containing %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
	out, _, code := runMain(t, context.Background(), nil, "", "verify", "--receipt", first, "--log-key", logKey, "--json")
	var res receiptResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || !res.OK || !res.Included || res.SpanID != "a" {
		t.Fatalf("--json: got %s (exit %d, %v)", out, code, err)
	}

	// The server kept a self-contained copy of every receipt it gave.
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	files, _ := filepath.Glob(filepath.Join(data, "receipts", "*.ndjson"))
	var kept []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			p := write("kept.json", line)
			out, errOut, code := runMain(t, context.Background(), nil, "", "verify", "--receipt", p, "--log-key", logKey, "--json")
			var r receiptResult
			if json.Unmarshal([]byte(out), &r) != nil || code != 0 || !r.OK {
				t.Fatalf("kept receipt %s does not verify: %s %s", line, out, errOut)
			}
			kept = append(kept, r.SpanID)
		}
	}
	if strings.Join(kept, ",") != "a,b,c" {
		t.Fatalf("kept receipts for %v, want a,b,c", kept)
	}
}
