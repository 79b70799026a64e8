package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// seed ingests n spans (alternating tenants acme and other) and returns
// the stored lines.
func (e *env) seed(n int) [][]byte {
	e.t.Helper()
	var b strings.Builder
	for i := range n {
		b.WriteString(spanJSON(map[string]any{
			"id":     fmt.Sprintf("st%d-%d", e.store.Size(), i),
			"tenant": []string{"acme", "other"}[i%2],
		}) + "\n")
	}
	if r := e.postNDJSON("/ingest", strings.NewReader(b.String()), nil); r.Summary.Accepted != n {
		e.t.Fatalf("seed: got %+v, want %d accepted", r.Summary, n)
	}
	return e.rawEntries()
}

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	ID, Event, Data string
	Comment         bool
}

// readSSE parses events from r until EOF or an error.
func readSSE(r io.Reader, fn func(sseEvent) bool) error {
	br := bufio.NewReader(r)
	var ev sseEvent
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev != (sseEvent{}) && !fn(ev) {
				return nil
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			ev.Comment = true
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.Event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.Data = line[6:]
		default:
			return fmt.Errorf("unexpected SSE line %q", line)
		}
	}
}

func logIndexOf(t testing.TB, line []byte) uint64 {
	t.Helper()
	var v struct {
		LogIndex *uint64 `json:"log_index"`
	}
	if err := json.Unmarshal(line, &v); err != nil || v.LogIndex == nil {
		t.Fatalf("entry %q has no log_index (%v)", line, err)
	}
	return *v.LogIndex
}

func TestStream(t *testing.T) {
	e := newEnv(t, nil)
	stored := e.seed(10)
	join := func(idx ...int) string {
		var b strings.Builder
		for _, i := range idx {
			b.Write(stored[i])
			b.WriteByte('\n')
		}
		return b.String()
	}
	tests := []struct {
		name, path string
		want       string
		wantNext   string
	}{
		{"all", "/ledger/stream", join(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), "10"},
		{"alias", "/api/timeline/stream", join(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), "10"},
		{"from a cursor", "/ledger/stream?cursor=7", join(7, 8, 9), "10"},
		{"tenant filter", "/ledger/stream?tenant=other&cursor=2", join(3, 5, 7, 9), "10"},
		{"at the end", "/ledger/stream?cursor=10", "", "10"},
		{"past the end", "/ledger/stream?cursor=50", "", "50"},
		{"follow=0", "/ledger/stream?follow=0&cursor=9", join(9), "10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.get(tt.path, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
				t.Fatalf("got %d %q, want 200 application/x-ndjson", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if string(body) != tt.want {
				t.Errorf("got body\n%s\nwant\n%s", body, tt.want)
			}
			if got := resp.Trailer.Get("Logline-Next-Cursor"); got != tt.wantNext {
				t.Errorf("got trailer Logline-Next-Cursor %q, want %q", got, tt.wantNext)
			}
		})
	}

	sse := []struct {
		name, path, lastID string
		wantFirst          int
	}{
		{"sse", "/ledger/stream", "", 0},
		{"sse from a cursor", "/ledger/stream?cursor=4", "", 4},
		{"sse with Last-Event-ID", "/ledger/stream?cursor=1", "6", 7},
	}
	for _, tt := range sse {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"Accept": "text/event-stream"}
			if tt.lastID != "" {
				hdr["Last-Event-ID"] = tt.lastID
			}
			resp, body := e.get(tt.path, hdr)
			if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
				t.Fatalf("got %d %q, want 200 text/event-stream", resp.StatusCode, ct)
			}
			var got []sseEvent
			if err := readSSE(bytes.NewReader(body), func(ev sseEvent) bool { got = append(got, ev); return true }); err != io.EOF {
				t.Fatalf("parse: %v", err)
			}
			if len(got) != 10-tt.wantFirst {
				t.Fatalf("got %d events, want %d", len(got), 10-tt.wantFirst)
			}
			for k, ev := range got {
				i := tt.wantFirst + k
				if ev.ID != strconv.Itoa(i) || ev.Event != "span" || ev.Data != string(stored[i]) {
					t.Errorf("event %d: got %+v, want id %d event span and the stored line", k, ev, i)
				}
			}
			if got := resp.Trailer.Get("Logline-Next-Cursor"); got != "10" {
				t.Errorf("got trailer %q, want 10", got)
			}
		})
	}

	bad := []struct {
		name, path string
		hdr        map[string]string
		code       string
	}{
		{"negative cursor", "/ledger/stream?cursor=-1", nil, "invalid_parameter"},
		{"bad follow", "/ledger/stream?follow=always", nil, "invalid_parameter"},
		{"bad tenant", "/ledger/stream?tenant=ACME", nil, "invalid_parameter"},
		{"bad Last-Event-ID", "/ledger/stream", map[string]string{"Accept": "text/event-stream", "Last-Event-ID": "x"}, "invalid_header"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.get(tt.path, tt.hdr)
			if p := decodeProblem(t, resp, body); resp.StatusCode != 400 || p.Code != tt.code {
				t.Errorf("got %d %q, want 400 %q", resp.StatusCode, p.Code, tt.code)
			}
		})
	}
}

// openStream starts a streaming GET and returns the response; cancel
// disconnects.
func (e *env) openStream(ctx context.Context, path string, hdr map[string]string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET %s: got status %d, want 200", path, resp.StatusCode)
	}
	return resp
}

// appendLoop posts n single spans, one by one, with tiny pauses, and
// reports the first error on the returned channel.
func (e *env) appendLoop(n int, prefix string) <-chan error {
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for i := range n {
			body := spanJSON(map[string]any{"id": fmt.Sprintf("%s-%d", prefix, i)})
			resp, err := e.ts.Client().Post(e.ts.URL+"/ingest", "application/json", strings.NewReader(body))
			if err != nil {
				errc <- err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				errc <- fmt.Errorf("append %d: status %d", i, resp.StatusCode)
				return
			}
			if i%7 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	return errc
}

func TestStreamFollow(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Follow an empty log: headers arrive at once, entries as they commit.
	resp := e.openStream(ctx, "/ledger/stream?follow=1", nil)
	defer resp.Body.Close()
	const n = 40
	errc := e.appendLoop(n, "f")
	br := bufio.NewReader(resp.Body)
	for i := range n {
		line, err := br.ReadBytes('\n')
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if got := logIndexOf(t, line); got != uint64(i) {
			t.Fatalf("got log_index %d, want %d", got, i)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestStreamHeartbeat(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.heartbeat = 20 * time.Millisecond // before any request
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := e.openStream(ctx, "/ledger/stream?follow=1", map[string]string{"Accept": "text/event-stream"})
	defer resp.Body.Close()
	beats := 0
	err := readSSE(resp.Body, func(ev sseEvent) bool {
		if !ev.Comment {
			t.Errorf("got event %+v on an idle log, want comments only", ev)
		}
		beats++
		return beats < 3
	})
	if err != nil || beats != 3 {
		t.Errorf("got %d heartbeats (%v), want 3", beats, err)
	}
}

// TestStreamReconnect reads a following stream in pieces, disconnecting
// and resuming while appends continue, and checks that the entries seen
// are exactly the log, in order, without gaps or repeats.
func TestStreamReconnect(t *testing.T) {
	for _, mode := range []string{"ndjson cursor", "sse Last-Event-ID"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, nil)
			const total = 150
			errc := e.appendLoop(total, "r")
			rng := rand.New(rand.NewPCG(1, 2))
			var seen [][]byte
			for reconnects := 0; len(seen) < total; reconnects++ {
				if reconnects > total {
					t.Fatal("too many reconnects")
				}
				next := len(seen)
				want := 1 + rng.IntN(20)
				ctx, cancel := context.WithCancel(context.Background())
				got := 0
				if mode == "ndjson cursor" {
					resp := e.openStream(ctx, fmt.Sprintf("/ledger/stream?follow=1&cursor=%d", next), nil)
					br := bufio.NewReader(resp.Body)
					for got < want && len(seen) < total {
						line, err := br.ReadBytes('\n')
						if err != nil {
							t.Fatalf("read: %v", err)
						}
						seen = append(seen, bytes.TrimSuffix(line, []byte("\n")))
						got++
					}
					cancel()
					resp.Body.Close()
				} else {
					hdr := map[string]string{"Accept": "text/event-stream"}
					if next > 0 {
						hdr["Last-Event-ID"] = strconv.Itoa(next - 1)
					}
					// The URL keeps cursor=0, as an EventSource would:
					// Last-Event-ID wins.
					resp := e.openStream(ctx, "/ledger/stream?follow=1&cursor=0", hdr)
					err := readSSE(resp.Body, func(ev sseEvent) bool {
						if ev.Comment {
							return true
						}
						if ev.ID != strconv.Itoa(len(seen)) {
							t.Errorf("got event id %q, want %d", ev.ID, len(seen))
						}
						seen = append(seen, []byte(ev.Data))
						got++
						return got < want && len(seen) < total
					})
					if err != nil {
						t.Fatalf("read: %v", err)
					}
					cancel()
					resp.Body.Close()
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			stored := e.rawEntries()
			if len(stored) != total {
				t.Fatalf("got %d stored, want %d", len(stored), total)
			}
			for i := range seen {
				if logIndexOf(t, seen[i]) != uint64(i) || !bytes.Equal(seen[i], stored[i]) {
					t.Fatalf("entry %d: got %s, want %s", i, seen[i], stored[i])
				}
			}
		})
	}
}

// slowWriter is a ResponseWriter whose every Write takes delay, like a
// client that accepts data slowly.
type slowWriter struct {
	mu     sync.Mutex
	h      http.Header
	status int
	body   bytes.Buffer
	delay  time.Duration
}

func (w *slowWriter) Header() http.Header { return w.h }
func (w *slowWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *slowWriter) Flush() {}
func (w *slowWriter) Write(b []byte) (int, error) {
	time.Sleep(w.delay)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.Write(b)
}

func TestStreamSlowClientCutOff(t *testing.T) {
	for _, sse := range []bool{false, true} {
		t.Run(fmt.Sprintf("sse=%v", sse), func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.StreamWriteTimeout = 100 * time.Millisecond })
			stored := e.seed(5)
			req := httptest.NewRequest(http.MethodGet, "/ledger/stream?follow=1&cursor=1", nil)
			if sse {
				req.Header.Set("Accept", "text/event-stream")
			}
			w := &slowWriter{h: http.Header{}, delay: 80 * time.Millisecond}
			done := make(chan struct{})
			go func() { e.srv.Handler().ServeHTTP(w, req); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("a slow following client was not cut off")
			}
			if got := w.h.Get("Logline-Next-Cursor"); got != "5" {
				t.Errorf("got trailer Logline-Next-Cursor %q, want 5", got)
			}
			if !strings.Contains(w.h.Get("Trailer"), "Logline-Next-Cursor") {
				t.Errorf("got Trailer header %q, want it to declare Logline-Next-Cursor", w.h.Get("Trailer"))
			}
			body := w.body.String()
			if !sse {
				want := string(bytes.Join(stored[1:], []byte("\n"))) + "\n"
				if body != want {
					t.Errorf("got body %q, want the 4 entries", body)
				}
				return
			}
			if !strings.HasSuffix(body, "event: cutoff\ndata: {\"cursor\":5}\n\n") {
				t.Errorf("got body ending %q, want a cutoff event with cursor 5", body[max(0, len(body)-80):])
			}
		})
	}
}

// smallBufListener shrinks the kernel send buffer of accepted connections
// so that a client that stops reading blocks the server quickly.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// TestStreamStuckClientDropped: a client that stops reading is dropped
// after StreamWriteTimeout without holding the handler, and resumes with
// cursor = last complete entry + 1 without gaps.
func TestStreamStuckClientDropped(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.StreamWriteTimeout = 200 * time.Millisecond })
	var b strings.Builder
	const n = 600
	for i := range n {
		b.WriteString(spanJSON(map[string]any{"id": fmt.Sprintf("big%d", i), "data": map[string]any{"pad": strings.Repeat("p", 2000)}}) + "\n")
	}
	if r := e.postNDJSON("/ingest", strings.NewReader(b.String()), nil); r.Summary.Accepted != n {
		t.Fatalf("seed: %+v", r.Summary)
	}
	stored := e.rawEntries()

	// A separate server whose connections have tiny send buffers, and a
	// client with a tiny receive buffer.
	ts := httptest.NewUnstartedServer(e.srv.Handler())
	ts.Listener = smallBufListener{ts.Listener}
	ts.Start()
	defer ts.Close()
	dialer := &net.Dialer{Control: nil}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4 << 10)
		}
		return c, err
	}}}
	defer client.CloseIdleConnections()

	resp, err := client.Get(ts.URL + "/ledger/stream?follow=1")
	if err != nil {
		t.Fatal(err)
	}
	// Do not read; wait for the server to give up on us.
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.srv.actMu.Lock()
		active := e.srv.actN
		e.srv.actMu.Unlock()
		if active == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stream handler is still running for a client that does not read")
		}
		time.Sleep(20 * time.Millisecond)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("got a clean end after %d bytes, want the connection cut", len(body))
	}
	complete := bytes.Count(body, []byte("\n"))
	if complete >= n {
		t.Fatalf("got all %d entries, want the stream cut before the end", complete)
	}
	lines := bytes.SplitAfter(body, []byte("\n"))
	for i := range complete {
		if !bytes.Equal(bytes.TrimSuffix(lines[i], []byte("\n")), stored[i]) {
			t.Fatalf("entry %d differs from the stored line", i)
		}
	}
	// Resume after the last complete line: the rest arrives exactly once.
	resp2, rest := e.get(fmt.Sprintf("/ledger/stream?cursor=%d", complete), nil)
	if resp2.StatusCode != 200 {
		t.Fatalf("resume: got %d", resp2.StatusCode)
	}
	restLines := nonBlankLines(rest)
	if complete+len(restLines) != n {
		t.Fatalf("got %d + %d entries, want %d", complete, len(restLines), n)
	}
	for i, l := range restLines {
		if !bytes.Equal(l, stored[complete+i]) {
			t.Fatalf("resumed entry %d differs from the stored line", complete+i)
		}
	}
}

func TestStreamShutdown(t *testing.T) {
	for _, sse := range []bool{false, true} {
		t.Run(fmt.Sprintf("sse=%v", sse), func(t *testing.T) {
			e := newEnv(t, nil)
			e.seed(3)
			hdr := map[string]string{}
			if sse {
				hdr["Accept"] = "text/event-stream"
			}
			resp := e.openStream(context.Background(), "/ledger/stream?follow=1", hdr)
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			if _, err := br.Peek(1); err != nil { // the first entries arrived
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.srv.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: got %v, want nil", err)
			}
			body, err := io.ReadAll(br)
			if err != nil {
				t.Fatalf("got %v reading the rest, want a clean end", err)
			}
			if got := resp.Trailer.Get("Logline-Next-Cursor"); got != "3" {
				t.Errorf("got trailer %q, want 3", got)
			}
			if sse && !bytes.HasSuffix(body, []byte("event: cutoff\ndata: {\"cursor\":3}\n\n")) {
				t.Errorf("got body ending %q, want a cutoff event", body[max(0, len(body)-60):])
			}
		})
	}
}
