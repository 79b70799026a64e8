package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/tlog"
)

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return -1
}

func TestOpenLogKeys(t *testing.T) {
	t.Run("generated once, then kept", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "keys")
		keys, _, err := openLogKeys(dir, "", bytes.NewReader(bytes.Repeat([]byte{0xab}, 6)))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := keys.Origin(), "logline.local/abababababab"; got != want {
			t.Fatalf("got origin %q, want %q", got, want)
		}
		again, _, err := openLogKeys(dir, "", bytes.NewReader(bytes.Repeat([]byte{0xcd}, 6)))
		if err != nil {
			t.Fatal(err)
		}
		if again.Origin() != keys.Origin() || again.VerifierKeys()[0] != keys.VerifierKeys()[0] {
			t.Errorf("reopened: got %q %q, want the first start's %q %q",
				again.Origin(), again.VerifierKeys()[0], keys.Origin(), keys.VerifierKeys()[0])
		}
		same, _, err := openLogKeys(dir, keys.Origin(), nil)
		if err != nil || same.Origin() != keys.Origin() {
			t.Errorf("explicit same origin: got %v", err)
		}
	})
	t.Run("explicit origin", func(t *testing.T) {
		keys, guard, err := openLogKeys(filepath.Join(t.TempDir(), "keys"), "ledger.example.com/prod", nil)
		if err != nil {
			t.Fatal(err)
		}
		if keys.Origin() != "ledger.example.com/prod" || guard == nil {
			t.Errorf("got origin %q guard %v", keys.Origin(), guard)
		}
	})
	t.Run("another origin", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "keys")
		if _, _, err := openLogKeys(dir, "a.example/log", nil); err != nil {
			t.Fatal(err)
		}
		_, _, err := openLogKeys(dir, "b.example/log", nil)
		if code := exitCode(err); code != ExitUsage || !errors.Is(err, tlog.ErrWrongOrigin) {
			t.Errorf("got %v (exit %d), want ErrWrongOrigin, exit 2", err, code)
		}
	})
	t.Run("bad origin", func(t *testing.T) {
		_, _, err := openLogKeys(filepath.Join(t.TempDir(), "keys"), "has space", nil)
		if code := exitCode(err); code != ExitUsage {
			t.Errorf("got %v (exit %d), want exit 2", err, code)
		}
	})
	t.Run("corrupt manifest", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, tlog.KeysFile), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := openLogKeys(dir, "", nil)
		if code := exitCode(err); code != ExitFailed || !errors.Is(err, tlog.ErrCorruptKeys) {
			t.Errorf("got %v (exit %d), want ErrCorruptKeys, exit 1", err, code)
		}
	})
}

// runServe starts `logline serve` in-process on a free port and returns
// its URL, a stop function returning the exit code, and its log.
// Authentication is off (--dev); runServeAuth leaves it on.
func runServe(t *testing.T, data string, extra ...string) (url string, stop func() int, log *syncBuf) {
	t.Helper()
	return runServeArgs(t, data, append([]string{"--dev"}, extra...)...)
}

// runServeAuth is runServe with authentication on.
func runServeAuth(t *testing.T, data string, extra ...string) (url string, stop func() int, log *syncBuf) {
	t.Helper()
	return runServeArgs(t, data, extra...)
}

func runServeArgs(t *testing.T, data string, extra ...string) (url string, stop func() int, log *syncBuf) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(context.Background())
	log = &syncBuf{}
	done := make(chan int, 1)
	args := append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--addr-file", addrFile}, extra...)
	go func() {
		done <- Main(ctx, args, IO{In: strings.NewReader(""), Out: io.Discard, Err: log, Getenv: func(string) string { return "" }}, "test")
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(addrFile)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			url = "http://" + strings.TrimSpace(string(b))
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited with %d before listening:\n%s", code, log)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not listen:\n%s", log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := false
	var code int
	stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			code = <-done
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return url, stop, log
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", url, resp.StatusCode, b, err)
	}
	return b
}

// TestServeSignsCheckpoints: serve creates the log key, signs a
// checkpoint for every commit, and keeps key and origin across restarts.
func TestServeSignsCheckpoints(t *testing.T) {
	data := t.TempDir()
	url, stop, log := runServe(t, data)
	resp, err := http.Post(url+"/ingest", "application/json",
		strings.NewReader(`{"id":"a","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("ingest: got %d", resp.StatusCode)
	}
	keyText := strings.TrimSpace(string(httpGet(t, url+"/log/key")))
	v, err := note.NewVerifier(keyText)
	if err != nil {
		t.Fatalf("GET /log/key %q: %v", keyText, err)
	}
	origin := v.Name()
	if !regexp.MustCompile(`^logline\.local/[0-9a-f]{12}$`).MatchString(origin) {
		t.Errorf("generated origin %q, want logline.local/<12 hex>", origin)
	}
	cp, err := tlog.ParseCheckpoint(httpGet(t, url+"/checkpoint"), note.VerifierList(v), origin)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 1 {
		t.Errorf("checkpoint size %d, want 1", cp.Size)
	}
	var p tlog.InclusionProof
	if err := p.UnmarshalJSON(bytes.TrimSpace(httpGet(t, url+"/proof/inclusion?id=a&tenant=t"))); err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(cp.Root); err != nil {
		t.Errorf("inclusion proof against the checkpoint: %v", err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d:\n%s", code, log)
	}
	if s := log.String(); !strings.Contains(s, origin) || !strings.Contains(s, `"key_id":"`+keyText[len(origin)+1:len(origin)+9]+`"`) {
		t.Errorf("serve log lacks the origin and key id:\n%s", s)
	}

	// Restart: same key, same origin, the new checkpoint extends the old.
	url, stop, _ = runServe(t, data)
	if got := strings.TrimSpace(string(httpGet(t, url+"/log/key"))); got != keyText {
		t.Errorf("after restart GET /log/key = %q, want %q", got, keyText)
	}
	cp2, err := tlog.ParseCheckpoint(httpGet(t, url+"/checkpoint"), note.VerifierList(v), origin)
	if err != nil || cp2.Size != cp.Size || cp2.Root != cp.Root {
		t.Errorf("after restart: checkpoint %d %x (%v), want %d %x", cp2.Size, cp2.Root, err, cp.Size, cp.Root)
	}
	stop()

	// Another origin for the same data directory is refused.
	_, errOut, code := runMain(t, context.Background(), nil, "", "serve", "--data", data, "--addr", "127.0.0.1:0", "--log-origin", "other.example/log")
	if code != ExitUsage || !strings.Contains(errOut, "log-origin") {
		t.Errorf("--log-origin of another log: got exit %d %q, want 2", code, errOut)
	}
}

// TestServeRefusesRollback: a ledger that lost entries the log already
// signed is not signed again (the no-fork guard).
func TestServeRefusesRollback(t *testing.T) {
	data := t.TempDir()
	url, stop, _ := runServe(t, data, "--log-origin", "rollback.example/log")
	resp, err := http.Post(url+"/ingest", "application/json",
		strings.NewReader(`{"id":"a","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}
	if err := os.RemoveAll(filepath.Join(data, "ledger")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runMain(t, context.Background(), nil, "", "serve", "--data", data, "--addr", "127.0.0.1:0")
	if code != ExitFailed || !strings.Contains(errOut, "fork") {
		t.Errorf("got exit %d %q, want 1 naming the fork", code, errOut)
	}
}

// syncBuf is a bytes.Buffer safe for the server's concurrent log writes.
type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
