package oidclogin

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

func TestPendingStore(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	mine, other := [sha256.Size]byte{1}, [sha256.Size]byte{2}
	add := func(s *pendingStore, state string, at time.Time) int {
		return s.put(&pending{state: state, binding: mine, created: at})
	}

	t.Run("single use", func(t *testing.T) {
		s := newPendingStore(time.Minute, 10)
		add(s, "a", t0)
		if _, got := s.take("a", mine, t0); got != taken {
			t.Fatalf("first take: got %v, want taken", got)
		}
		if _, got := s.take("a", mine, t0); got != notFound {
			t.Errorf("second take: got %v, want notFound", got)
		}
	})
	t.Run("other browser leaves the entry", func(t *testing.T) {
		s := newPendingStore(time.Minute, 10)
		add(s, "a", t0)
		if _, got := s.take("a", other, t0); got != mismatch {
			t.Errorf("got %v, want mismatch", got)
		}
		if _, got := s.take("a", mine, t0); got != taken {
			t.Errorf("own browser after a forged take: got %v, want taken", got)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		s := newPendingStore(time.Minute, 10)
		add(s, "a", t0)
		add(s, "b", t0.Add(30*time.Second))
		if _, got := s.take("a", mine, t0.Add(time.Minute)); got != notFound {
			t.Errorf("expired: got %v, want notFound", got)
		}
		if _, got := s.take("b", mine, t0.Add(time.Minute)); got != taken {
			t.Errorf("live: got %v, want taken", got)
		}
	})
	t.Run("clock stepped back", func(t *testing.T) {
		s := newPendingStore(time.Minute, 10)
		add(s, "a", t0.Add(time.Hour))
		add(s, "b", t0)
		if _, got := s.take("b", mine, t0.Add(2*time.Minute)); got != notFound {
			t.Errorf("expired behind the front: got %v, want notFound", got)
		}
	})
	t.Run("bound evicts oldest", func(t *testing.T) {
		s := newPendingStore(time.Minute, 3)
		for i := range 5 {
			n := add(s, fmt.Sprint(i), t0)
			if want := max(0, min(1, i-2)); n != want {
				t.Errorf("put %d: evicted %d, want %d", i, n, want)
			}
		}
		if s.len() != 3 || s.evictedTotal() != 2 {
			t.Errorf("got %d entries and %d evicted, want 3 and 2", s.len(), s.evictedTotal())
		}
		for i, want := range []takeResult{notFound, notFound, taken, taken, taken} {
			if _, got := s.take(fmt.Sprint(i), mine, t0); got != want {
				t.Errorf("take %d: got %v, want %v", i, got, want)
			}
		}
	})
	t.Run("expired entries make room first", func(t *testing.T) {
		s := newPendingStore(time.Minute, 2)
		add(s, "a", t0)
		add(s, "b", t0)
		if n := add(s, "c", t0.Add(time.Minute)); n != 0 {
			t.Errorf("evicted %d live entries, want 0 (the full store had only expired ones)", n)
		}
	})
}
