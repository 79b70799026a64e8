package crashtest

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// crashRun is one data directory that a test crashes again and again, and
// everything the test knows about it.
type crashRun struct {
	t    *testing.T
	r    *rand.Rand
	seed uint64
	dir  string
	w    *workload
	m    *model
	v    *view
	srv  *server

	lastTail tail // what the last kill left; checked on the next start

	// counters for the log
	tornRounds     int // kills that left a torn tail (each one cut on restart)
	recoveryKills  int // kills while serve was still recovering
	verifiedCopies int
	retried        int
	retryDups      int
	retryAdded     int
}

// newCrashRun starts a fresh data directory; r and seed are the test's.
func newCrashRun(t *testing.T, r *rand.Rand, seed uint64) *crashRun {
	return &crashRun{
		t:    t,
		r:    r,
		seed: seed,
		dir:  filepath.Join(t.TempDir(), "data"),
		w:    newWorkload(t),
		m:    newModel(t),
		v:    newView(),
	}
}

// genFunc makes the next request of one client.
type genFunc func(r *rand.Rand, client int, next *int) (*batch, error)

// drive runs n clients against the running server until it is killed:
// each sends requests made by gen and records every acknowledgement.
// When waitForKill returns, the server gets SIGKILL. An error before the
// kill fails the test; a request the kill cut off is queued for a retry.
func (c *crashRun) drive(round, n int, gen genFunc, waitForKill func()) {
	t := c.t
	srv := c.srv
	var killed atomic.Bool
	var wg sync.WaitGroup
	for client := range n {
		r := subRand(c.seed, round, client)
		wg.Go(func() {
			next := 0
			for !killed.Load() {
				b, err := gen(r, client, &next)
				if err != nil {
					t.Errorf("round %d client %d: %v", round, client, err)
					return
				}
				o := send(context.Background(), srv.http, srv.base, b)
				c.m.record(b, o, round, strict)
				if !o.complete(b) {
					if !killed.Load() {
						t.Errorf("round %d: %s got no complete answer before the kill (status %d, %d/%d results): %v",
							round, b.name, o.status, len(o.results), len(b.keys), o.err)
						return
					}
					c.m.addRetry(b)
					return
				}
			}
		})
	}
	waitForKill()
	killed.Store(true)
	srv.kill(t)
	wg.Wait()
	c.afterKill(round)
}

// afterKill records what the kill left at the tail of the last segment.
func (c *crashRun) afterKill(round int) {
	tl, err := inspectTail(c.dir)
	if err != nil {
		c.t.Fatalf("round %d: %v", round, err)
	}
	c.lastTail = tl
	if tl.torn() {
		c.tornRounds++
		c.t.Logf("round %d: the kill left a torn tail: %d bytes (%d complete lines) after offset %d of %s",
			round, tl.size-tl.cut, tl.lines, tl.cut, filepath.Base(tl.file))
	}
}

// restart starts serve on the crashed directory and checks it: the torn
// tail (if any) was cut, every streamed entry is unchanged, the chains
// link, every acknowledged span is there, a sample reads back by id;
// then it retries the requests the kill cut off. With killDuringRecovery
// the first start is killed before it listens (as soon as possible, or
// after a short random delay), and the next start must still recover.
func (c *crashRun) restart(round int, killDuringRecovery bool) {
	t := c.t
	if killDuringRecovery {
		s := spawn(t, c.dir)
		time.Sleep(time.Duration(c.r.IntN(40)) * time.Millisecond)
		s.kill(t)
		c.recoveryKills++
		tl, err := inspectTail(c.dir)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if was := c.lastTail; tl.file != was.file || tl.cut != was.cut || (tl.size != was.size && tl.size != was.cut) {
			t.Errorf("round %d: a start killed during recovery left %s at %d bytes (last commit line ends at %d), want %s at %d bytes (as the crash left it) or %d (cut)",
				round, filepath.Base(tl.file), tl.size, tl.cut, filepath.Base(was.file), was.size, was.cut)
		}
		c.lastTail = tl
	}
	c.srv = startServer(t, c.dir)
	checkTornTailCut(t, c.srv, c.lastTail)
	c.v.refresh(t, c.srv)
	c.v.checkAcks(t, c.m)
	c.v.checkGets(t, c.srv, c.m, c.r, 100, 100)
	if bs := c.m.takeRetries(); len(bs) > 0 {
		d, a := c.v.retry(t, c.srv, c.m, round, bs)
		c.retried += len(bs)
		c.retryDups += d
		c.retryAdded += a
	}
}

// verifyCopy runs `logline verify` on a copy of the crashed directory,
// as it is before the next start (torn tail and un-replayed index
// included).
func (c *crashRun) verifyCopy(round int) {
	cp := filepath.Join(c.t.TempDir(), "copy-"+strconv.Itoa(round))
	if err := copyDir(c.dir, cp); err != nil {
		c.t.Fatalf("copy %s: %v", c.dir, err)
	}
	if verifyOK(c.t, cp) {
		c.verifiedCopies++
	}
	_ = os.RemoveAll(cp)
}

// finish restarts after the last kill, checks everything once more
// (retries included), stops serve gracefully and runs verify on the
// directory itself.
func (c *crashRun) finish(round, rounds int, start time.Time) {
	t := c.t
	c.restart(round, false)
	c.v.refresh(t, c.srv)
	n := c.v.checkAcks(t, c.m)
	c.srv.stopOK(t)
	verifyOK(t, c.dir)
	t.Logf("%d kill/restart rounds in %v: %d acknowledged spans all present (log size %d); %d kills left a torn tail, all cut at the last commit line; %d kills during recovery; %d cut-off requests retried (%d lines came back as duplicates, %d were new, none stored twice); verify passed on %d copies of the crashed directory",
		rounds, time.Since(start).Round(time.Millisecond), n, len(c.v.entries), c.tornRounds, c.recoveryKills, c.retried, c.retryDups, c.retryAdded, c.verifiedCopies)
}

// roundsPerDir bounds the rounds run on one data directory, so that the
// long mode (thousands of rounds) checks a log of bounded size after each
// restart; each directory ends with a graceful stop and verify.
const roundsPerDir = 40

// TestKillDuringIngest kills serve with SIGKILL at random moments while
// several clients stream NDJSON batches (1–500 lines) and single spans,
// and checks after every restart that nothing acknowledged was lost or
// duplicated. See docs/crash-safety.md.
func TestKillDuringIngest(t *testing.T) {
	r, seed := newRand(t)
	total := rounds(t)
	for first := 1; first <= total; first += roundsPerDir {
		last := min(first+roundsPerDir-1, total)
		c := newCrashRun(t, r, seed)
		c.killRounds(first, last)
		if t.Failed() {
			return // keep the directory for a look
		}
		_ = os.RemoveAll(c.dir)
	}
}

// killRounds runs rounds first..last of TestKillDuringIngest on c.
func (c *crashRun) killRounds(first, last int) {
	const clients = 4
	t := c.t
	start := time.Now()
	gen := func(r *rand.Rand, client int, next *int, round int) (*batch, error) {
		size := 200 + r.IntN(600)
		if r.IntN(6) == 0 {
			return c.w.newBatch(r, round, client, next, false, 1, size)
		}
		return c.w.newBatch(r, round, client, next, true, batchSize(r), size)
	}
	c.srv = startServer(t, c.dir)
	for round := first; round <= last; round++ {
		if round > first {
			c.restart(round, c.r.IntN(8) == 0)
		}
		// Mostly a window of 30-300 ms; sometimes a kill right away.
		window := time.Duration(30+c.r.IntN(270)) * time.Millisecond
		if c.r.IntN(8) == 0 {
			window = time.Duration(c.r.IntN(10)) * time.Millisecond
		}
		c.drive(round, clients,
			func(r *rand.Rand, client int, next *int) (*batch, error) { return gen(r, client, next, round) },
			func() { time.Sleep(window) })
		if (round-first)%6 == 5 {
			c.verifyCopy(round)
		}
	}
	c.finish(last+1, last-first+1, start)
}

// TestKillDuringIngestTornWrite makes torn tails likely: clients send
// large batches (5,000 spans of about 2 KB), and serve is killed the
// moment the ledger has grown past a random threshold, that is while the
// writer is in the middle of writing a group commit. Recovery must cut
// the torn tail at the last commit line and lose nothing acknowledged.
// Rounds continue past the minimum until at least one kill tore a write.
func TestKillDuringIngestTornWrite(t *testing.T) {
	const (
		clients    = 1
		batchSpans = 5000
		spanBytes  = 2048
	)
	// 4 rounds by default, a fifth of the rounds in the long mode; more
	// (up to 26 more) until a kill tore a write.
	minRounds := max(4, rounds(t)/5)
	maxRounds := minRounds + 26
	r, seed := newRand(t)
	c := newCrashRun(t, r, seed)
	start := time.Now()
	c.srv = startServer(t, c.dir)
	round := 1
	for ; round <= maxRounds && (round <= minRounds || c.tornRounds == 0); round++ {
		if round > 1 {
			c.restart(round, false)
		}
		threshold := c.r.Int64N(6 << 20)
		c.drive(round, clients,
			func(r *rand.Rand, client int, next *int) (*batch, error) {
				return c.w.newBatch(r, round, client, next, true, batchSpans, spanBytes)
			},
			func() { waitForGrowth(t, c.dir, threshold, 30*time.Second) })
	}
	if c.tornRounds == 0 {
		t.Errorf("no kill in %d rounds tore a write: the torn-tail path was not exercised", round-1)
	}
	c.finish(round, round-1, start)
}

// waitForGrowth returns as soon as the segments of dir have grown by more
// than n bytes, or after timeout. It spins on fstat of the last segment
// (re-listing the directory only when a new segment may have been
// started), so that it notices the growth while the write that causes it
// is still going on: the kill then tears that write.
func waitForGrowth(t *testing.T, dir string, n int64, timeout time.Duration) {
	t.Helper()
	var (
		base   int64 // sizes of the segments before the last one
		last   *os.File
		target int64
	)
	open := func() bool {
		files, err := segmentFiles(dir)
		if err != nil || len(files) == 0 {
			t.Errorf("list segments of %s: %v", dir, err)
			return false
		}
		base = 0
		for _, f := range files[:len(files)-1] {
			if fi, err := os.Stat(f); err == nil {
				base += fi.Size()
			}
		}
		if last != nil {
			last.Close()
		}
		if last, err = os.Open(files[len(files)-1]); err != nil {
			t.Errorf("open %s: %v", files[len(files)-1], err)
			return false
		}
		return true
	}
	if !open() {
		return
	}
	defer func() { last.Close() }()
	size := func() int64 {
		fi, err := last.Stat()
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	target = base + size() + n
	deadline := time.Now().Add(timeout)
	for polls := 1; ; polls++ {
		sz := size()
		if base+sz > target {
			return
		}
		if sz >= segmentSize || polls%4096 == 0 {
			if !open() {
				return
			}
			if time.Now().After(deadline) {
				t.Logf("the ledger did not grow by %d bytes within %v; killing anyway", n, timeout)
				return
			}
		}
		runtime.Gosched()
	}
}
