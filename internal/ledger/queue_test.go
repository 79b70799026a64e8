package ledger

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestQueueSubmitAndDrain(t *testing.T) {
	q := NewQueue[int](4)
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
	q := NewQueue[int](1)
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
	q := NewQueue[int](1024)
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
