package ledger

import (
	"context"
	"sync"
	"time"
)

// Queue hands append requests from any number of callers to one writer
// goroutine, the shape both stores share: a bounded channel (full means
// the writer is behind, and senders wait — backpressure), closed once,
// after which Submit refuses with ErrClosed and the writer drains what
// was queued before it stops. R is the store's own request type.
//
// Submit, Call and Close are safe for concurrent use; Requests, Quit and
// Batch are for the writer.
type Queue[R any] struct {
	reqs chan R
	quit chan struct{}
	obs  Observer // nil: nothing is measured

	mu     sync.RWMutex // guards closed against concurrent sends
	closed bool
}

// Observer is told what a store's append path does (internal/metrics
// turns it into Prometheus metrics). Queue.Call and Queue.Batch call it
// from the appending goroutines and from the writer: its methods must be
// safe for concurrent use, cheap, and must not block.
type Observer interface {
	// Waiting: an append of spans spans began: it waits for room in the
	// queue, then for the writer. Every Waiting is followed by one
	// Answered with the same spans.
	Waiting(spans int)
	// Answered: that append ended wait after Waiting. With err nil every
	// outcome in out without an error is durable; otherwise nothing may
	// be trusted (out is nil) — the queue was closed, the caller's
	// context ended, or the writer failed.
	Answered(spans int, wait time.Duration, out []Outcome, err error)
	// Batch: the writer took spans spans from the queue for one group
	// commit.
	Batch(spans int)
}

// NewQueue returns a queue holding at most depth requests, reporting to
// obs (nil: to nobody).
func NewQueue[R any](depth int, obs Observer) *Queue[R] {
	return &Queue[R]{reqs: make(chan R, depth), quit: make(chan struct{}), obs: obs}
}

// Submit queues r for the writer. It returns ErrClosed once Close was
// called, or ctx's error if ctx ends while the queue is full; either way
// r was not queued. A queued request is the writer's to answer.
func (q *Queue[R]) Submit(ctx context.Context, r R) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	select {
	case q.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Call is a store's Append around Submit: it submits r, then waits for
// the writer's answer on done (r's own channel, answered exactly once). out
// is r's outcome slice, one per span, which the writer fills before it
// answers. With an Observer, Call reports the append to it (Waiting, then
// Answered with the time from submitting to the answer).
func (q *Queue[R]) Call(ctx context.Context, r R, out []Outcome, done <-chan error) error {
	if q.obs == nil {
		if err := q.Submit(ctx, r); err != nil {
			return err
		}
		return <-done
	}
	start := time.Now()
	q.obs.Waiting(len(out))
	err := q.Submit(ctx, r)
	if err == nil {
		err = <-done
	}
	if err != nil {
		q.obs.Answered(len(out), time.Since(start), nil, err)
		return err
	}
	q.obs.Answered(len(out), time.Since(start), out, nil)
	return nil
}

// Batch tells the Observer that the writer took spans spans from the
// queue for one group commit.
func (q *Queue[R]) Batch(spans int) {
	if q.obs != nil {
		q.obs.Batch(spans)
	}
}

// Close stops accepting requests and closes Quit. It reports whether this
// call closed the queue (false: it was closed already). Requests queued
// before it stay in Requests for the writer to drain.
func (q *Queue[R]) Close() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.closed = true
	close(q.quit)
	return true
}

// Closed reports whether Close was called.
func (q *Queue[R]) Closed() bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.closed
}

// Requests is where the writer receives requests. After Quit is closed no
// new request arrives: a writer drains it with a non-blocking receive.
func (q *Queue[R]) Requests() <-chan R { return q.reqs }

// Quit is closed by Close.
func (q *Queue[R]) Quit() <-chan struct{} { return q.quit }
