package ledger

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestQueueSubmitAndDrain(t *testing.T) {
	q := NewQueue[int](4, nil)
	for i := range 3 {
		if err := q.Submit(context.Background(), i); err != nil {
			t.Fatalf("Submit(%d): %v", i, err)
		}
	}
	if !q.Close() {
		t.Fatal("first Close reported the queue closed already")
	}
	if q.Close() {
		t.Fatal("second Close reported closing it")
	}
	if !q.Closed() {
		t.Fatal("Closed() = false after Close")
	}
	select {
	case <-q.Quit():
	default:
		t.Fatal("Quit not closed by Close")
	}
	if err := q.Submit(context.Background(), 9); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close = %v, want ErrClosed", err)
	}
	// What was queued before Close is still there, in order.
	for want := range 3 {
		select {
		case got := <-q.Requests():
			if got != want {
				t.Fatalf("drained %d, want %d", got, want)
			}
		default:
			t.Fatalf("request %d lost at Close", want)
		}
	}
}

func TestQueueSubmitFullHonoursContext(t *testing.T) {
	q := NewQueue[int](1, nil)
	if err := q.Submit(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Submit(ctx, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit to a full queue with a canceled ctx = %v, want context.Canceled", err)
	}
}

// TestQueueCloseWaitsForSenders: Close never races a Submit into a send
// on a closed queue; every Submit either queued (and is drained) or got
// ErrClosed.
func TestQueueCloseWaitsForSenders(t *testing.T) {
	q := NewQueue[int](1024, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := range 64 {
		wg.Go(func() {
			if err := q.Submit(context.Background(), i); err == nil {
				mu.Lock()
				accepted++
				mu.Unlock()
			} else if !errors.Is(err, ErrClosed) {
				t.Errorf("Submit: %v", err)
			}
		})
	}
	q.Close()
	wg.Wait()
	drained := 0
	for {
		select {
		case <-q.Requests():
			drained++
			continue
		default:
		}
		break
	}
	if drained != accepted {
		t.Fatalf("drained %d requests, %d were accepted", drained, accepted)
	}
}

// recordingObserver records what a Queue reports.
type recordingObserver struct {
	mu       sync.Mutex
	waiting  int // spans Waiting minus spans Answered
	answered []answer
	batches  []int
}

type answer struct {
	spans int
	out   int // len(out)
	err   error
}

func (o *recordingObserver) Waiting(spans int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waiting += spans
}

func (o *recordingObserver) Answered(spans int, wait time.Duration, out []Outcome, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waiting -= spans
	o.answered = append(o.answered, answer{spans, len(out), err})
}

func (o *recordingObserver) Batch(spans int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches = append(o.batches, spans)
}

type testReq struct {
	out  []Outcome
	done chan error
	fail error // what the writer answers
}

// TestQueueCallObserves: Call reports every append it makes, answered
// or refused, with the outcomes only when the writer answered without an
// error; Batch reaches the observer.
func TestQueueCallObserves(t *testing.T) {
	writerErr := errors.New("disk on fire")
	for _, tc := range []struct {
		name    string
		fail    error // the writer's answer
		closed  bool  // Close before Call
		ctxDone bool  // queue full and ctx canceled
		want    answer
	}{
		{name: "durable", want: answer{spans: 3, out: 3}},
		{name: "writer failed", fail: writerErr, want: answer{spans: 3, out: 0, err: writerErr}},
		{name: "queue closed", closed: true, want: answer{spans: 3, out: 0, err: ErrClosed}},
		{name: "caller gave up on a full queue", ctxDone: true, want: answer{spans: 3, out: 0, err: context.Canceled}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := &recordingObserver{}
			q := NewQueue[*testReq](1, obs)
			ctx := context.Background()
			if tc.ctxDone {
				if err := q.Submit(ctx, &testReq{}); err != nil { // fills the queue
					t.Fatal(err)
				}
				c, cancel := context.WithCancel(ctx)
				cancel()
				ctx = c
			}
			if tc.closed {
				q.Close()
			}
			var wg sync.WaitGroup
			if !tc.closed && !tc.ctxDone {
				wg.Go(func() { // the writer
					r := <-q.Requests()
					q.Batch(len(r.out))
					r.done <- r.fail
				})
			}
			r := &testReq{out: make([]Outcome, 3), done: make(chan error, 1), fail: tc.fail}
			err := q.Call(ctx, r, r.out, r.done)
			wg.Wait()
			if !errors.Is(err, tc.want.err) || (err == nil) != (tc.want.err == nil) {
				t.Fatalf("Call = %v, want %v", err, tc.want.err)
			}
			obs.mu.Lock()
			defer obs.mu.Unlock()
			if len(obs.answered) != 1 || obs.answered[0].spans != tc.want.spans || obs.answered[0].out != tc.want.out || !errors.Is(obs.answered[0].err, tc.want.err) {
				t.Errorf("answered %+v, want one %+v", obs.answered, tc.want)
			}
			if obs.waiting != 0 {
				t.Errorf("backlog after the answer: %d spans, want 0", obs.waiting)
			}
			wantBatches := 0
			if !tc.closed && !tc.ctxDone {
				wantBatches = 1
			}
			if len(obs.batches) != wantBatches {
				t.Errorf("batches %v, want %d", obs.batches, wantBatches)
			}
		})
	}
}

// TestQueueCallUnobserved: without an Observer, Call still submits and
// waits for the answer.
func TestQueueCallUnobserved(t *testing.T) {
	q := NewQueue[*testReq](1, nil)
	go func() {
		r := <-q.Requests()
		q.Batch(1) // no observer: nothing to tell
		r.done <- r.fail
	}()
	r := &testReq{out: make([]Outcome, 1), done: make(chan error, 1), fail: ErrCorrupt}
	if err := q.Call(context.Background(), r, r.out, r.done); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Call = %v, want the writer's answer", err)
	}
}
