package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// corpusPath finds the public corpus: $LOGLINE_CORPUS, or
// ../shared/corpus/receipt.ndjson next to the repository.
func corpusPath(t *testing.T) string {
	if p := os.Getenv("LOGLINE_CORPUS"); p != "" {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			t.Fatalf("no go.mod above %s", wd)
		}
		root = parent
	}
	return filepath.Join(root, "..", "shared", "corpus", "receipt.ndjson")
}

// inCI reports whether the CI environment variable is set: then missing
// prerequisites fail the test instead of skipping it.
func inCI() bool { return os.Getenv("CI") != "" }

// buildBinary builds cmd/logline into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if inCI() {
			t.Fatalf("go tool not found: %v", err)
		}
		t.Skipf("go tool not found: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "logline")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runCLI runs the binary to completion and returns stdout, stderr and
// the exit code.
func runCLI(t *testing.T, bin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("logline %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// mustRun is runCLI that requires exit code 0.
func mustRun(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, bin, env, args...)
	if code != 0 {
		t.Fatalf("logline %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// server is a `logline serve` child process.
type server struct {
	cmd    *exec.Cmd
	url    string
	addr   string
	stderr *bytes.Buffer // read it with log() while the server runs
	errw   *lockedWriter
	done   chan error
}

// log returns what the server wrote to standard error so far.
func (s *server) log() string {
	s.errw.mu.Lock()
	defer s.errw.mu.Unlock()
	return s.stderr.String()
}

// startServer starts serve with authentication off (--dev) unless extra
// flags are given (TestAuthEndToEnd passes its own).
func startServer(t *testing.T, bin, data, addr string, extra ...string) *server {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	if extra == nil {
		extra = []string{"--dev"}
	}
	cmd := exec.Command(bin, append([]string{"serve", "--data", data, "--addr", addr, "--addr-file", addrFile}, extra...)...)
	s := &server{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	s.errw = &lockedWriter{w: s.stderr}
	cmd.Stderr = s.errw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(addrFile)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			s.addr = strings.TrimSpace(string(b))
			s.url = "http://" + s.addr
			return s
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve exited before listening: %v\n%s", err, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen within 60s\n%s", s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGINT and requires a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("serve exited with %v\n%s", err, s.stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop within 60s\n%s", s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "listening on "+s.url) {
		t.Errorf("serve log lacks %q:\n%s", "listening on "+s.url, s.stderr)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// follower is a `logline tail --follow --json` child process whose
// output lines are collected as they arrive.
type follower struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	done  chan error
	err   bytes.Buffer
}

func startFollower(t *testing.T, bin, url string) *follower {
	t.Helper()
	f := &follower{cmd: exec.Command(bin, "tail", "--follow", "--json", "--server", url), done: make(chan error, 1)}
	f.cmd.Stderr = &lockedWriter{w: &f.err}
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.mu.Lock()
			f.lines = append(f.lines, sc.Text())
			f.mu.Unlock()
		}
		f.done <- f.cmd.Wait()
	}()
	t.Cleanup(func() {
		if f.cmd.ProcessState == nil {
			_ = f.cmd.Process.Kill()
			<-f.done
		}
	})
	return f
}

// waitFor waits until the follower has n lines.
func (f *follower) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		f.mu.Lock()
		got := len(f.lines)
		lines := f.lines
		f.mu.Unlock()
		if got >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("tail --follow printed %d lines, want %d\n%s", got, n, f.err.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCorpusEndToEnd ingests the public corpus through a real server
// built from this package, reads a sample back, tails and follows the
// whole log (across a server restart), and verifies the data directory.
func TestCorpusEndToEnd(t *testing.T) {
	corpus := corpusPath(t)
	raw, err := os.ReadFile(corpus)
	if err != nil {
		if inCI() {
			t.Fatalf("corpus: %v (CI is set: the corpus is required)", err)
		}
		t.Skipf("corpus not available: %v", err)
	}
	if testing.Short() && !inCI() {
		t.Skip("-short: skipping the corpus end-to-end test")
	}
	var spans []map[string]any
	for line := range bytes.Lines(raw) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("corpus line %d: %v", len(spans)+1, err)
		}
		spans = append(spans, m)
	}
	n := len(spans)

	start := time.Now()
	bin := buildBinary(t)
	t.Logf("go build: %s", time.Since(start))
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, bin, data, "127.0.0.1:0")
	env := []string{"LOGLINE_SERVER=" + srv.url}
	tail := startFollower(t, bin, srv.url)

	// Ingest.
	var sum struct {
		Lines, Accepted, Duplicates, Rejected int
	}
	out := mustRun(t, bin, env, "ingest", "--json", corpus)
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("ingest --json: %v\n%s", err, out)
	}
	if sum.Lines != n || sum.Accepted != n || sum.Rejected != 0 {
		t.Fatalf("ingest: got %+v, want %d lines all accepted", sum, n)
	}

	// Read back a sample: every field sent is stored unchanged.
	for i := 0; i < n; i += n/25 + 1 {
		want := spans[i]
		id, _ := want["id"].(string)
		out := mustRun(t, bin, env, "get", "--json", id)
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("get %s: %v\n%s", id, err, out)
		}
		if idx, _ := got["log_index"].(float64); int(idx) != i {
			t.Errorf("get %s: log_index %v, want %d", id, got["log_index"], i)
		}
		for k, v := range want {
			if diff := cmp.Diff(v, got[k]); diff != "" {
				t.Errorf("get %s: field %q differs (-sent +stored):\n%s", id, k, diff)
			}
		}
	}

	// Tail everything: n entries, dense log indexes, the corpus ids in order.
	out = mustRun(t, bin, env, "tail", "--json")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("tail --json: got %d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		var e struct {
			ID       string `json:"id"`
			LogIndex int    `json:"log_index"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("tail line %d: %v", i+1, err)
		}
		if e.LogIndex != i || e.ID != spans[i]["id"] {
			t.Fatalf("tail line %d: log_index %d id %s, want %d %v", i+1, e.LogIndex, e.ID, i, spans[i]["id"])
		}
	}
	if got := tail.waitFor(t, n); !cmp.Equal(got[:n], lines) {
		t.Errorf("tail --follow printed other lines than tail")
	}

	// Query one case, all pages.
	this, _ := spans[0]["this"].(string)
	tenant, _ := spans[0]["tenant"].(string)
	want := 0
	for _, s := range spans {
		if s["this"] == this {
			want++
		}
	}
	out = mustRun(t, bin, env, "query", "--tenant", tenant, "--this", this, "--limit", "7", "--all", "--json")
	if got := strings.Count(out, "\n"); got != want {
		t.Errorf("query --this %s --all: %d entries, want %d", this, got, want)
	}

	// Ingest again: all duplicates.
	out = mustRun(t, bin, env, "ingest", "--json", corpus)
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Duplicates != n || sum.Accepted != 0 {
		t.Errorf("re-ingest: got %+v, want %d duplicates", sum, n)
	}

	// Restart the server on the same address: the follower reconnects and
	// sees a new span exactly once.
	srv.stop(t)
	srv = startServer(t, bin, data, srv.addr)
	extra := filepath.Join(t.TempDir(), "extra.ndjson")
	if err := os.WriteFile(extra, []byte(`{"id":"after-restart","tenant":"`+tenant+`","who":"e2e","did":"restarted","this":"server","when":"2026-01-01T00:00:00Z"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, bin, env, "ingest", extra)
	got := tail.waitFor(t, n+1)
	if !strings.Contains(got[n], `"id":"after-restart"`) || !strings.Contains(got[n], fmt.Sprintf(`"log_index":%d`, n)) {
		t.Errorf("tail --follow after restart: got %s", got[n])
	}
	if err := tail.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := <-tail.done; err != nil {
		t.Errorf("tail --follow: exit %v after SIGINT, want 0\n%s", err, tail.err.String())
	}
	tail.mu.Lock()
	if len(tail.lines) != n+1 {
		t.Errorf("tail --follow: %d lines in all, want %d (nothing missed or repeated)", len(tail.lines), n+1)
	}
	tail.mu.Unlock()
	srv.stop(t)

	// Verify offline, rebuild the index, verify again.
	for _, step := range []string{"verify", "reindex", "verify"} {
		out = mustRun(t, bin, nil, step, "--data", data, "--json")
		if step != "verify" {
			continue
		}
		var rep struct {
			OK           bool   `json:"ok"`
			Entries      int    `json:"entries"`
			IndexChecked bool   `json:"index_checked"`
			TornTail     string `json:"torn_tail"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		if !rep.OK || rep.Entries != n+1 || !rep.IndexChecked || rep.TornTail != "" {
			t.Errorf("verify: got %+v, want ok with %d entries and the index checked", rep, n+1)
		}
	}
}
