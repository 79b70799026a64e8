package crashtest

import (
	"context"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gracefulBound is how long serve may take from SIGTERM to exit while
// clients stream appends (its drain timeout is 30 s; in-flight batches
// are small and finish long before).
const gracefulBound = 10 * time.Second

// TestGracefulShutdown sends SIGTERM while clients stream appends. serve
// must exit 0 within gracefulBound; every request that got a response got
// a whole one (NDJSON ends with its summary line), and every span it
// acknowledged is there after a restart. Requests refused because the
// server is going away get 503 "unavailable" and store nothing partial.
func TestGracefulShutdown(t *testing.T) {
	tests := []struct {
		name    string
		clients int
		gen     func(w *workload, r *rand.Rand, client int, next *int) (*batch, error)
		// midResponse > 0 sends SIGTERM once a client has had that many
		// result lines of one request, with the rest of its lines being
		// read, decoded and appended (the body read to its end once
		// fewer than ~1,200 lines are left). Otherwise SIGTERM comes at
		// a random moment once every client has a request on its way.
		midResponse func(r *rand.Rand) int
	}{
		{name: "mixed batches and single spans", clients: 4, gen: func(w *workload, r *rand.Rand, client int, next *int) (*batch, error) {
			return w.newBatch(r, 1, client, next, r.IntN(5) != 0, batchSize(r), 200+r.IntN(600))
		}},
		{name: "large batches", clients: 2, midResponse: func(r *rand.Rand) int { return 100 + r.IntN(4800) }, gen: func(w *workload, r *rand.Rand, client int, next *int) (*batch, error) {
			return w.newBatch(r, 1, client, next, true, 5000, 500)
		}},
		{name: "slow clients", clients: 2, midResponse: func(r *rand.Rand) int { return 1 + r.IntN(1500) }, gen: func(w *workload, r *rand.Rand, client int, next *int) (*batch, error) {
			b, err := w.newBatch(r, 1, client, next, true, 2000, 300)
			if b != nil {
				b.trickle, b.pause = 50+r.IntN(200), time.Duration(1+r.IntN(5))*time.Millisecond
			}
			return b, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testGracefulShutdown(t, tt.clients, tt.midResponse, tt.gen)
		})
	}
}

func testGracefulShutdown(t *testing.T, clients int, midResponse func(*rand.Rand) int, gen func(w *workload, r *rand.Rand, client int, next *int) (*batch, error)) {
	r, seed := newRand(t)
	dir := filepath.Join(t.TempDir(), "data")
	w := newWorkload(t)
	m := newModel(t)
	srv := startServer(t, dir)

	var (
		stopping   atomic.Bool
		wg         sync.WaitGroup
		requests   atomic.Int64
		refused    atomic.Int64 // no response at all (after SIGTERM)
		unavail    atomic.Int64 // 503, or answered only in part
		unfinished []*batch
		mu         sync.Mutex
		sending    = make(chan struct{}, clients) // each client's first request
		answering  = make(chan struct{})          // closed at the first result line
		answerOnce sync.Once
	)
	threshold := 0
	if midResponse != nil {
		threshold = midResponse(r)
	}
	progress := func(n int) {
		if n >= threshold {
			answerOnce.Do(func() { close(answering) })
		}
	}
	for client := range clients {
		cr := subRand(seed, client)
		wg.Go(func() {
			next := 0
			for {
				b, err := gen(w, cr, client, &next)
				if err != nil {
					t.Errorf("client %d: %v", client, err)
					return
				}
				if next == len(b.keys) {
					sending <- struct{}{}
				}
				o := sendWatch(context.Background(), srv.http, srv.base, b, progress)
				requests.Add(1)
				m.record(b, o, 1, draining)
				switch {
				case o.status == 0:
					if !stopping.Load() {
						t.Errorf("%s: no response before SIGTERM: %v", b.name, o.err)
					}
					refused.Add(1)
					return
				case o.err != nil:
					t.Errorf("%s: response cut off (status %d, %d/%d results, stopping=%v): %v",
						b.name, o.status, len(o.results), len(b.keys), stopping.Load(), o.err)
					return
				case o.status == http.StatusServiceUnavailable:
					unavail.Add(1)
					continue
				case b.ndjson && o.summary == nil:
					t.Errorf("%s: NDJSON response without a summary line", b.name)
					return
				case b.ndjson && len(o.results) != o.summary.Lines:
					t.Errorf("%s: %d result lines, summary says %d lines", b.name, len(o.results), o.summary.Lines)
				}
				if o.summary != nil && o.summary.Accepted+o.summary.Duplicates < len(b.keys) {
					// Answered, but not every line was stored: the server
					// stopped at a batch boundary (or refused lines).
					mu.Lock()
					unfinished = append(unfinished, b)
					mu.Unlock()
					unavail.Add(1)
				}
			}
		})
	}
	if midResponse != nil {
		select {
		case <-answering:
		case <-time.After(requestTimeout):
			t.Fatalf("no result line within %v", requestTimeout)
		}
	} else {
		// Once every client has a request on its way, and then some.
		for range clients {
			select {
			case <-sending:
			case <-time.After(requestTimeout):
				t.Fatalf("clients did not start")
			}
		}
		time.Sleep(time.Duration(20+r.IntN(400)) * time.Millisecond)
	}
	stopping.Store(true)
	code, took := srv.stop(t, gracefulBound)
	wg.Wait()
	if code != 0 {
		t.Errorf("serve exit status after SIGTERM: got %d, want 0\noutput:\n%s", code, srv.out)
	}
	if len(srv.logRecords(`"stopped"`)) == 0 {
		t.Errorf("serve did not log that it stopped cleanly\noutput:\n%s", srv.out)
	}
	t.Logf("SIGTERM → exit %d in %v; %d requests, %d acknowledged spans, %d got no response, %d were refused (503) or answered only in part",
		code, took.Round(time.Millisecond), requests.Load(), m.size(), refused.Load(), unavail.Load())

	// No torn tail after a graceful stop, and verify passes as it is.
	if tl, err := inspectTail(dir); err != nil || tl.torn() {
		t.Errorf("after a graceful stop the last segment must end with a commit line: %+v %v", tl, err)
	}
	verifyOK(t, dir)

	srv = startServer(t, dir)
	checkTornTailCut(t, srv, tail{})
	v := newView()
	v.refresh(t, srv)
	n := v.checkAcks(t, m)
	v.checkGets(t, srv, m, r, 50, 50)
	// Partly answered batches: the lines not acknowledged were not
	// stored (nothing partial), and a retry completes them exactly once.
	m.mu.Lock()
	for _, b := range unfinished {
		for _, k := range b.keys {
			if _, acked := m.acked[k]; !acked {
				if i, stored := v.index[k]; stored {
					t.Errorf("%s: %s was not acknowledged during shutdown but is stored at log index %d", b.name, k, i)
				}
			}
		}
	}
	m.mu.Unlock()
	d, a := v.retry(t, srv, m, 2, unfinished)
	v.refresh(t, srv)
	v.checkAcks(t, m)
	srv.stopOK(t)
	verifyOK(t, dir)
	t.Logf("%d acknowledged spans present after restart; %d partly answered batches retried (%d duplicates, %d new)", n, len(unfinished), d, a)
}
