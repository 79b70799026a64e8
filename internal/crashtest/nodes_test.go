package crashtest

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
)

// nodeRun is one database that TestKillNode serves with two nodes and
// kills one of them again and again, and everything the test knows.
type nodeRun struct {
	t     *testing.T
	r     *rand.Rand
	seed  uint64
	db    string     // the database URL (an administrator's)
	dirs  [2]string  // each node's --data (its log key, receipts)
	nodes [2]*server // the running processes
	w     *workload
	m     *model
	v     *view

	// counters for the log
	cutOff        int // requests a kill cut off (retried after the restart)
	retryDups     int
	retryAdded    int
	survivorAfter int // requests the surviving node completed after a kill
}

// nodeClients is the number of clients appending through each node.
const nodeClients = 2

// nodeRoundsPerDB bounds the rounds on one database, as roundsPerDir does
// for TestKillDuringIngest.
const nodeRoundsPerDB = 40

// TestKillNode runs two `logline serve --store` processes on one
// PostgreSQL database, clients appending NDJSON batches through both, and
// kills one node with SIGKILL while it has requests in flight (a batch
// queued, being copied or committed, or answered half-way), round after
// round. The other node must keep serving throughout; the killed one is
// restarted and must resume (stream the whole log, take appends); after
// every restart every span acknowledged by either node is in the log at
// the log index it was acknowledged with, log_index is dense, the tenant
// chains link, and requests the kill cut off come back as duplicates or
// are appended once. At the end `logline verify --store` accepts the
// ledger. See docs/crash-safety.md.
func TestKillNode(t *testing.T) {
	pgtest.AdminURL(t) // fails under CI=true without a server, skips otherwise
	r, seed := newRand(t)
	total := rounds(t)
	for first := 1; first <= total; first += nodeRoundsPerDB {
		last := min(first+nodeRoundsPerDB-1, total)
		c := &nodeRun{t: t, r: r, seed: seed, db: pgtest.NewDatabase(t), w: newWorkload(t), m: newModel(t), v: newView()}
		for i := range c.dirs {
			c.dirs[i] = filepath.Join(t.TempDir(), "node"+strconv.Itoa(i))
		}
		c.killRounds(first, last)
		if t.Failed() {
			return
		}
	}
}

// start starts node i on the database.
func (c *nodeRun) start(i int) {
	extra := []string{"--store", c.db}
	if i == 0 {
		extra = append(extra, "--log-origin", "crash.test/nodes")
	}
	c.nodes[i] = startServer(c.t, c.dirs[i], extra...)
}

// killRounds runs rounds first..last on c's database.
func (c *nodeRun) killRounds(first, last int) {
	t := c.t
	start := time.Now()
	c.start(0)
	c.start(1)
	for round := first; round <= last; round++ {
		victim := c.r.IntN(2)
		c.killRound(round, victim)
		c.start(victim)
		c.checkAfter(round, victim)
		if t.Failed() {
			return
		}
	}
	c.finish(last-first+1, start)
}

// killRound drives clients through both nodes and kills the victim while
// it has requests in flight; the survivor's clients go on for a while
// after the kill and must get every answer.
func (c *nodeRun) killRound(round, victim int) {
	t := c.t
	var (
		killed, stop atomic.Bool
		inflight     atomic.Int32 // the victim's requests on the wire
		after        atomic.Int32 // survivor requests begun after the kill and answered
		wg           sync.WaitGroup
	)
	for node := range 2 {
		s := c.nodes[node]
		for k := range nodeClients {
			client := node*nodeClients + k
			r := subRand(c.seed, round, client)
			wg.Go(func() {
				next := 0
				for !stop.Load() {
					if node == victim && killed.Load() {
						return
					}
					b, err := c.w.newBatch(r, round, client, &next, true, batchSize(r), 200+r.IntN(400))
					if err != nil {
						t.Errorf("round %d client %d: %v", round, client, err)
						return
					}
					begunAfterKill := killed.Load()
					if node == victim {
						inflight.Add(1)
					}
					o := send(context.Background(), s.http, s.base, b)
					if node == victim {
						inflight.Add(-1)
					}
					c.m.record(b, o, round, strict)
					switch {
					case o.complete(b) && node != victim && begunAfterKill:
						after.Add(1)
					case o.complete(b):
					case node == victim && killed.Load():
						c.m.addRetry(b)
						return
					default:
						t.Errorf("round %d: node %d (the survivor: %v) gave %s no complete answer (status %d, %d/%d results): %v",
							round, node, node != victim, b.name, o.status, len(o.results), len(b.keys), o.err)
						return
					}
				}
			})
		}
	}
	time.Sleep(time.Duration(30+c.r.IntN(270)) * time.Millisecond)
	for deadline := time.Now().Add(5 * time.Second); inflight.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	killed.Store(true)
	c.nodes[victim].kill(t)
	// The survivor goes on serving its clients.
	deadline := time.Now().Add(5 * time.Second)
	for after.Load() < nodeClients && time.Now().Before(deadline) && !t.Failed() {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if n := after.Load(); n < nodeClients {
		t.Errorf("round %d: the surviving node %d answered %d requests begun after the kill, want at least %d", round, 1-victim, n, nodeClients)
	}
	c.survivorAfter += int(after.Load())
}

// checkAfter checks the log through the restarted victim: it streams the
// whole log (every entry unchanged, dense, chains linked), every
// acknowledgement is there, reads by id agree on both nodes, and the
// requests the kill cut off are retried through it.
func (c *nodeRun) checkAfter(round, victim int) {
	t := c.t
	s := c.nodes[victim]
	c.v.refresh(t, s)
	c.v.checkAcks(t, c.m)
	c.v.checkGets(t, s, c.m, c.r, 30, 30)
	c.v.checkGets(t, c.nodes[1-victim], c.m, c.r, 10, 10)
	bs := c.m.takeRetries()
	c.cutOff += len(bs)
	d, a := c.v.retry(t, s, c.m, round, bs)
	c.retryDups += d
	c.retryAdded += a
	// The restarted node takes new appends.
	next := 0
	b, err := c.w.newBatch(c.r, round, 99, &next, true, 20, 300)
	if err != nil {
		t.Fatal(err)
	}
	if o := send(context.Background(), s.http, s.base, b); !o.complete(b) {
		t.Errorf("round %d: the restarted node %d gave no complete answer (status %d): %v", round, victim, o.status, o.err)
	} else {
		c.m.record(b, o, round, strict)
	}
}

// entriesRE reads the entry count of verify's report.
var entriesRE = regexp.MustCompile(`(?m)^entries +([0-9]+) `)

// finish stops both nodes gracefully, checks the whole log once more and
// runs `logline verify --store`.
func (c *nodeRun) finish(rounds int, start time.Time) {
	t := c.t
	c.v.refresh(t, c.nodes[0])
	n := c.v.checkAcks(t, c.m)
	for _, s := range c.nodes {
		s.stopOK(t)
	}
	code, out := runLogline(t, "verify", "--store", c.db)
	if code != 0 {
		t.Fatalf("logline verify --store: exit status got %d, want 0\n%s", code, out)
	}
	if m := entriesRE.FindStringSubmatch(out); m == nil || m[1] != strconv.Itoa(len(c.v.entries)) {
		t.Errorf("logline verify --store: got %q, want %d entries\n%s", m, len(c.v.entries), out)
	}
	t.Logf("%d node kills in %v: %d acknowledged spans all present (log size %d); %d cut-off requests retried (%d lines came back as duplicates, %d were new); the surviving node answered %d requests begun after a kill; verify --store passed",
		rounds, time.Since(start).Round(time.Millisecond), n, len(c.v.entries), c.cutOff, c.retryDups, c.retryAdded, c.survivorAfter)
}
