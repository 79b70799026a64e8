package crashtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/tlog"
)

// TestCheckpointsAcrossKills polls GET /checkpoint while a client appends
// and the server is killed with SIGKILL at random moments, and also reads
// the checkpoint each restart signs. Every note collected must verify with
// the served log key; no size may ever appear with two roots; and the
// server must prove every later checkpoint consistent with every earlier
// one — the log only grew, across crashes.
func TestCheckpointsAcrossKills(t *testing.T) {
	r, seed := newRand(t)
	dir := filepath.Join(t.TempDir(), "data")
	w := newWorkload(t)
	n := max(rounds(t)/2, 5)
	var notes [][]byte
	srv := startServer(t, dir)
	next := 0
	for round := range n {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			cr := subRand(seed, round)
			for ctx.Err() == nil {
				b, err := w.newBatch(cr, round, 0, &next, true, 1+cr.IntN(200), 300)
				if err != nil {
					t.Error(err)
					return
				}
				send(ctx, srv.http, srv.base, b)
			}
		}()
		until := time.Now().Add(time.Duration(30+r.IntN(250)) * time.Millisecond)
		for time.Now().Before(until) {
			if cp, err := fetch(srv, "/checkpoint"); err == nil {
				notes = append(notes, cp)
			}
			time.Sleep(time.Duration(1+r.IntN(15)) * time.Millisecond)
		}
		srv.kill(t)
		cancel()
		<-done
		srv = startServer(t, dir)
		cp, err := fetch(srv, "/checkpoint")
		if err != nil {
			t.Fatalf("round %d: checkpoint after restart: %v", round, err)
		}
		notes = append(notes, cp)
	}
	keyText, err := fetch(srv, "/log/key")
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(strings.SplitN(strings.TrimSpace(string(keyText)), "\n", 2)[0])
	if err != nil {
		t.Fatalf("served log key: %v", err)
	}
	roots := map[uint64][32]byte{}
	for i, msg := range notes {
		cp, err := tlog.ParseCheckpoint(msg, note.VerifierList(verifier), verifier.Name())
		if err != nil {
			t.Fatalf("checkpoint %d does not verify: %v\n%s", i, err, msg)
		}
		if prev, ok := roots[cp.Size]; ok && prev != cp.Root {
			t.Fatalf("two checkpoints of size %d with different roots: %x and %x", cp.Size, prev, cp.Root)
		}
		roots[cp.Size] = cp.Root
	}
	sizes := make([]uint64, 0, len(roots))
	for s := range roots {
		sizes = append(sizes, s)
	}
	slices.Sort(sizes)
	for i := 1; i < len(sizes); i++ {
		from, to := sizes[i-1], sizes[i]
		body, err := fetch(srv, fmt.Sprintf("/proof/consistency?from=%d&to=%d", from, to))
		if err != nil {
			t.Fatal(err)
		}
		var p tlog.ConsistencyProof
		if err := p.UnmarshalJSON(bytes.TrimSpace(body)); err != nil {
			t.Fatalf("consistency %d → %d: %v", from, to, err)
		}
		if err := tlog.VerifyConsistency(from, to, p.Hashes, roots[from], roots[to]); err != nil {
			t.Fatalf("checkpoint %d is not a prefix of checkpoint %d: %v", from, to, err)
		}
	}
	t.Logf("%d checkpoints collected over %d kills, %d distinct sizes up to %d, all consistent", len(notes), n, len(sizes), sizes[len(sizes)-1])
	srv.stopOK(t)
	verifyOK(t, dir)
}

// fetch GETs path from srv and returns the body of a 200 response.
func fetch(srv *server, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := srv.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return body, nil
}
