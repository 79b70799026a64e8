package crashtest

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// segmentSize is serve's default segment size: the active segment is
// sealed and the next one created once a commit takes it past this.
const segmentSize = 64 << 20

// TestStopAndKillAtSegmentRotation fills the first segment until serve
// seals it and creates the next, empty one, and stops ingesting right
// there. A graceful stop at that point must leave a directory that
// verifies; a restart must find everything; and a SIGKILL while the
// second segment fills must recover like any other.
func TestStopAndKillAtSegmentRotation(t *testing.T) {
	r0, seed := newRand(t)
	c := newCrashRun(t, r0, seed)
	start := time.Now()
	c.srv = startServer(t, c.dir)
	first := filepath.Join(c.dir, "ledger", "segments", "00000001.ndjson")
	second := filepath.Join(c.dir, "ledger", "segments", "00000002.ndjson")
	r := subRand(c.seed, 1)
	next := 0
	for {
		b, err := c.w.newBatch(r, 1, 0, &next, true, 64, 8<<10)
		if err != nil {
			t.Fatal(err)
		}
		o := send(context.Background(), c.srv.http, c.srv.base, b)
		c.m.record(b, o, 1, strict)
		if !o.complete(b) {
			t.Fatalf("%s: no complete answer (status %d): %v", b.name, o.status, o.err)
		}
		fi, err := os.Stat(first)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() >= segmentSize {
			break
		}
	}
	// The writer seals the segment right after answering the commit that
	// filled it; give it a moment to create the next one.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %d+ bytes but %s was not created", first, segmentSize, second)
		}
		time.Sleep(time.Millisecond)
	}
	if fi, err := os.Stat(second); err != nil || fi.Size() != 0 {
		t.Fatalf("%s: want an empty new segment, got %v %v", second, fi.Size(), err)
	}
	c.srv.stopOK(t)
	t.Logf("stopped right after rotation: %d spans acknowledged in %v", c.m.size(), time.Since(start).Round(time.Millisecond))
	verifyOK(t, c.dir)

	// Restart on the rotated directory, then crash while the second
	// segment fills.
	c.lastTail, _ = inspectTail(c.dir)
	c.restart(2, false)
	c.drive(2, 2,
		func(r *rand.Rand, client int, next *int) (*batch, error) {
			return c.w.newBatch(r, 2, client, next, true, batchSize(r), 200+r.IntN(2000))
		},
		func() { time.Sleep(time.Duration(50+c.r.IntN(200)) * time.Millisecond) })
	c.finish(3, 1, start)
}
