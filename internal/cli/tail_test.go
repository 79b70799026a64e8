package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func entryLine(i int) string {
	return fmt.Sprintf(`{"did":"d","id":"s%d","log_index":%d,"tenant":"t","this":"x","when":"2026-01-01T00:00:00Z","who":"w"}`, i, i)
}

// fakeStream serves GET /ledger/stream from a script of responses: each
// sends the entries [from, to) and then ends cleanly with the trailer
// (next = to) or breaks the connection.
type fakeStream struct {
	mu      sync.Mutex
	script  []streamStep
	cursors []uint64
	follow  []string
	onLast  func()
}

type streamStep struct {
	to     int
	broken bool
}

func (f *fakeStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cursor, _ := strconv.ParseUint(r.URL.Query().Get("cursor"), 10, 64)
	f.mu.Lock()
	n := len(f.cursors)
	f.cursors = append(f.cursors, cursor)
	f.follow = append(f.follow, r.URL.Query().Get("follow"))
	f.mu.Unlock()
	if n >= len(f.script) {
		if f.onLast != nil {
			f.onLast()
		}
		<-r.Context().Done()
		return
	}
	step := f.script[n]
	w.Header().Set("Trailer", "Logline-Next-Cursor")
	w.Header().Set("Content-Type", "application/x-ndjson")
	for i := int(cursor); i < step.to; i++ {
		fmt.Fprintln(w, entryLine(i))
	}
	w.(http.Flusher).Flush()
	if step.broken {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.Header().Set("Logline-Next-Cursor", strconv.Itoa(max(step.to, int(cursor))))
}

func TestTailFollowResumes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake := &fakeStream{
		script: []streamStep{
			{to: 2},               // cut off cleanly at 2
			{to: 3, broken: true}, // entry 2, then the connection breaks
			{to: 4},               // entry 3
		},
		onLast: cancel, // Ctrl-C
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	out, errOut, code := runMain(t, ctx, nil, "", "tail", "--follow", "--json", "--server", srv.URL)
	if code != ExitOK {
		t.Fatalf("exit %d, want 0\n%s", code, errOut)
	}
	want := strings.Join([]string{entryLine(0), entryLine(1), entryLine(2), entryLine(3)}, "\n") + "\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint64{0, 2, 3, 4}, fake.cursors); diff != "" {
		t.Errorf("cursors asked for (-want +got):\n%s", diff)
	}
	if fake.follow[0] != "1" {
		t.Errorf("follow=%q, want 1", fake.follow[0])
	}
	if !strings.Contains(errOut, "reconnecting") {
		t.Errorf("stderr lacks the reconnect note: %s", errOut)
	}
}

func TestTailWithoutFollowGoesOnAfterCutoff(t *testing.T) {
	fake := &fakeStream{script: []streamStep{{to: 2}, {to: 3}, {to: 3}}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	out, errOut, code := runMain(t, context.Background(), nil, "", "tail", "--server", srv.URL)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if got := strings.Count(out, "\n"); got != 3 {
		t.Errorf("%d lines, want 3:\n%s", got, out)
	}
	if !strings.HasPrefix(out, "#0 2026-01-01T00:00:00Z t w · d · x id=s0\n") {
		t.Errorf("human line: %q", out)
	}
	if diff := cmp.Diff([]uint64{0, 2, 3}, fake.cursors); diff != "" {
		t.Errorf("cursors (-want +got):\n%s", diff)
	}
	if fake.follow[0] != "" {
		t.Errorf("follow=%q without --follow", fake.follow[0])
	}
}

func TestGetPretty(t *testing.T) {
	line := entryLine(7)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/spans/s7" && r.URL.Query().Get("tenant") == "t" && r.URL.Query().Get("seq") == "2":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, line)
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"title":"Not found","status":404,"code":"not_found","detail":"no span with that id"}`)
		}
	}))
	defer srv.Close()
	args := []string{"get", "--server", srv.URL, "--tenant", "t", "--seq", "2", "s7"}

	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, IO{Out: &out, Err: &errOut, OutTTY: true, Getenv: func(string) string { return "" }}, "test")
	if code != 0 || !strings.Contains(out.String(), "\n  \"log_index\": 7,\n") {
		t.Errorf("on a terminal: exit %d, output %q", code, out.String())
	}
	got, _, code := runMain(t, context.Background(), nil, "", args...)
	if code != 0 || got != line+"\n" {
		t.Errorf("piped: exit %d, output %q, want the raw line", code, got)
	}
	_, errText, code := runMain(t, context.Background(), nil, "", "get", "--server", srv.URL, "nope")
	if code != ExitFailed || !strings.Contains(errText, "not found") {
		t.Errorf("missing span: exit %d, stderr %q", code, errText)
	}
}
