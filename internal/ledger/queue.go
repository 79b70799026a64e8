package ledger

import (
	"context"
	"sync"
)

// Queue hands append requests from any number of callers to one writer
// goroutine, the shape both stores share: a bounded channel (full means
// the writer is behind, and senders wait — backpressure), closed once,
// after which Submit refuses with ErrClosed and the writer drains what
// was queued before it stops. R is the store's own request type.
//
// Submit and Close are safe for concurrent use; Requests and Quit are
// for the writer.
type Queue[R any] struct {
	reqs chan R
	quit chan struct{}

	mu     sync.RWMutex // guards closed against concurrent sends
	closed bool
}

// NewQueue returns a queue holding at most depth requests.
func NewQueue[R any](depth int) *Queue[R] {
	return &Queue[R]{reqs: make(chan R, depth), quit: make(chan struct{})}
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
