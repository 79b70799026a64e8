package oidclogin

import (
	"container/list"
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"
)

// pending is one started login, kept server-side until its callback.
type pending struct {
	state    string
	binding  [sha256.Size]byte // bindingHash of the browser's cookie
	nonce    string
	verifier string // PKCE code_verifier
	returnTo string
	created  time.Time
}

// pendingStore holds started logins: bounded, each entry single-use and
// valid for ttl. Entries are created in time order and all live equally
// long, so the oldest is always at the front of the list: expiry and
// eviction pop from the front.
type pendingStore struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	// Guarded by mu:
	byState map[string]*list.Element // of *pending
	order   *list.List               // of *pending, oldest first
	evicted int                      // live entries pushed out by the bound
}

func newPendingStore(ttl time.Duration, max int) *pendingStore {
	return &pendingStore{ttl: ttl, max: max, byState: map[string]*list.Element{}, order: list.New()}
}

// put records p. When the store is full it evicts the oldest live entry
// (an attacker flooding /auth/login can only delay logins that take
// longer than the flood needs to fill the store, never complete one) and
// reports how many it evicted.
func (s *pendingStore) put(p *pending) (evicted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(p.created)
	for len(s.byState) >= s.max {
		s.removeLocked(s.order.Front())
		s.evicted++
		evicted++
	}
	s.byState[p.state] = s.order.PushBack(p)
	return evicted
}

// takeResult says what take found.
type takeResult int

const (
	taken    takeResult = iota // found, bound to this browser, removed
	notFound                   // unknown, expired or already taken
	mismatch                   // found but bound to another browser; left in place
)

// take removes and returns the login for state if it exists, has not
// expired at now and is bound to binding. A login bound to another
// browser is left in place, so that a forged callback cannot spoil the
// real one.
func (s *pendingStore) take(state string, binding [sha256.Size]byte, now time.Time) (*pending, takeResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	e, ok := s.byState[state]
	if !ok {
		return nil, notFound
	}
	p := e.Value.(*pending)
	if now.Sub(p.created) >= s.ttl { // a clock stepped back may leave one behind the front
		s.removeLocked(e)
		return nil, notFound
	}
	if subtle.ConstantTimeCompare(p.binding[:], binding[:]) != 1 {
		return nil, mismatch
	}
	s.removeLocked(e)
	return p, taken
}

// expireLocked drops entries older than ttl at now.
func (s *pendingStore) expireLocked(now time.Time) {
	for e := s.order.Front(); e != nil; e = s.order.Front() {
		if now.Sub(e.Value.(*pending).created) < s.ttl {
			return
		}
		s.removeLocked(e)
	}
}

func (s *pendingStore) removeLocked(e *list.Element) {
	delete(s.byState, e.Value.(*pending).state)
	s.order.Remove(e)
}

// len returns the number of live entries (expired ones included until the
// next put or take).
func (s *pendingStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byState)
}

// evictedTotal returns how many live entries the bound has pushed out.
func (s *pendingStore) evictedTotal() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evicted
}
