package llst

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Keyring is the in-memory view of the LLST keys of a KeyStore, and the
// schedule that rotates them. Reads (signing-key and verification-key
// lookups, JWKS) are lock-free on an immutable snapshot; Reload and
// Rotate replace the snapshot. Safe for concurrent use.
type Keyring struct {
	cfg Config

	mu   sync.Mutex // serialises installs of snap in this process
	snap atomic.Pointer[snapshot]
}

// snapshot is one immutable state of the keyring.
type snapshot struct {
	keys []*ringKey // by ActiveFrom, then ID
	byID map[string]*ringKey
}

// ringKey is a loaded key with what signing and verifying need. It is
// shared by successive snapshots while its stored content is unchanged;
// dead is set once a snapshot no longer holds it, which invalidates the
// tokens it verified that the Verifier cached.
type ringKey struct {
	Key
	pub      ed25519.PublicKey
	retireAt int64 // RetireAt in Unix nanoseconds, for the cache's check
	signer   jose.Signer
	dead     atomic.Bool
}

// Open builds a Keyring on cfg.Store and runs one Rotate, so that on
// return there is a key that signs now (created if the store had none).
// Call Run to keep the schedule going.
func Open(ctx context.Context, cfg Config) (*Keyring, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Keyring{cfg: cfg}
	r.snap.Store(&snapshot{byID: map[string]*ringKey{}})
	if err := r.Rotate(ctx, cfg.Now()); err != nil {
		return nil, err
	}
	return r, nil
}

// Config returns the keyring's configuration with defaults filled in.
func (r *Keyring) Config() Config { return r.cfg }

// Reload replaces the in-memory keys with the store's: keys another
// process created appear, removed ones disappear (and their cached
// tokens stop verifying).
func (r *Keyring) Reload(ctx context.Context) error {
	keys, err := r.cfg.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("reload LLST keys: %w", err)
	}
	return r.install(keys)
}

// Rotate reloads the store and advances the key schedule to now, under
// the store's lock if anything must change:
//
//   - keys whose RetireAt has passed are deleted;
//   - if no key can sign a full-lifetime token now, one is created that
//     signs at once (first start, or after a downtime longer than a
//     rotation period: then no overlap is possible, and this is logged);
//   - once the newest key signs, its successor is created, to be
//     published at max(now, ActiveFrom − Overlap) and to sign from
//     ActiveFrom = the newest key's RetireAt − Lifetime − Skew, the last
//     moment it can sign a full-lifetime token (= its ActiveFrom +
//     RotateEvery).
//
// Every process sharing the store computes the same plan from the same
// keys, and the lock makes the first one do it; the others find the
// plan done when they take the lock.
func (r *Keyring) Rotate(ctx context.Context, now time.Time) error {
	keys, err := r.cfg.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("rotate LLST keys: %w", err)
	}
	if add, remove := r.schedule(keys, now); len(add) == 0 && len(remove) == 0 {
		return r.install(keys)
	}
	ev := RotationEvent{At: now}
	bootstrap := false
	err = r.cfg.Store.Update(ctx, func(keys []Key) (Change, error) {
		ev.Created, ev.Removed, bootstrap = nil, nil, false
		specs, remove := r.schedule(keys, now)
		ch := Change{Remove: remove}
		ids := map[string]bool{}
		for _, k := range keys {
			ids[k.ID] = true
		}
		for _, s := range specs {
			k, err := newKey(r.cfg.Rand, now, s.publish, s.active, s.retire)
			for err == nil && ids[k.ID] { // a 32-bit suffix collided: draw again
				k, err = newKey(r.cfg.Rand, now, s.publish, s.active, s.retire)
			}
			if err != nil {
				return Change{}, err
			}
			ids[k.ID] = true
			ch.Add = append(ch.Add, k)
			ev.Created = append(ev.Created, k.Info())
			bootstrap = bootstrap || (s.immediate && len(keys) > 0) // not a first start
		}
		ev.Removed = remove
		return ch, nil
	})
	if err != nil {
		return fmt.Errorf("rotate LLST keys: %w", err)
	}
	log := r.cfg.Logger
	for _, k := range ev.Created {
		log.Info("created LLST signing key", "kid", k.ID, "publish_at", k.PublishAt, "active_from", k.ActiveFrom, "retire_at", k.RetireAt)
	}
	if bootstrap {
		log.Warn("no LLST key could sign: the new key signs at once, before JWKS caches of relying parties know it (was every process down for longer than a rotation period?)")
	}
	for _, kid := range ev.Removed {
		log.Info("retired LLST signing key", "kid", kid)
	}
	if r.cfg.OnRotate != nil && (len(ev.Created) > 0 || len(ev.Removed) > 0) {
		r.cfg.OnRotate(ev)
	}
	return r.Reload(ctx)
}

// keySpec is the schedule of a key to create.
type keySpec struct {
	publish, active, retire time.Time
	immediate               bool // signs at once: nothing else could
}

// schedule returns the keys to create and the kids to delete at now.
func (r *Keyring) schedule(keys []Key, now time.Time) (add []keySpec, remove []string) {
	now = now.UTC().Truncate(time.Second)
	margin := r.cfg.Lifetime + r.cfg.Skew // a key signs until RetireAt − margin
	var live []Key
	for _, k := range keys {
		if !now.Before(k.RetireAt) {
			remove = append(remove, k.ID)
		} else {
			live = append(live, k)
		}
	}
	canSign := false
	var newest time.Time // latest ActiveFrom
	var newestRetire time.Time
	for _, k := range live {
		if !now.Before(k.ActiveFrom) && !k.RetireAt.Before(now.Add(margin)) {
			canSign = true
		}
		if k.ActiveFrom.After(newest) || newest.IsZero() {
			newest, newestRetire = k.ActiveFrom, k.RetireAt
		}
	}
	if !canSign {
		s := keySpec{publish: now, active: now, retire: now.Add(r.cfg.RotateEvery + margin), immediate: true}
		add = append(add, s)
		newest, newestRetire = s.active, s.retire
	}
	if !now.Before(newest) { // the newest key signs: plan its successor
		active := newestRetire.Add(-margin)
		if active.Before(now) {
			active = now
		}
		publish := active.Add(-r.cfg.Overlap)
		if publish.Before(now) {
			publish = now
		}
		add = append(add, keySpec{publish: publish, active: active, retire: active.Add(r.cfg.RotateEvery + margin)})
	}
	return add, remove
}

// install makes keys the current snapshot, keeping the ringKey of every
// unchanged key and marking the others dead.
func (r *Keyring) install(keys []Key) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	next := &snapshot{byID: make(map[string]*ringKey, len(keys))}
	for _, k := range keys {
		if _, dup := next.byID[k.ID]; dup {
			return fmt.Errorf("install LLST keys: kid %s stored twice", k.ID)
		}
		rk := old.byID[k.ID]
		if rk == nil || !rk.Key.Equal(k) {
			var err error
			if rk, err = newRingKey(k); err != nil {
				return err
			}
		}
		next.keys = append(next.keys, rk)
		next.byID[k.ID] = rk
	}
	slices.SortFunc(next.keys, func(a, b *ringKey) int {
		if c := a.ActiveFrom.Compare(b.ActiveFrom); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	})
	r.snap.Store(next)
	for id, rk := range old.byID {
		if next.byID[id] != rk {
			rk.dead.Store(true)
		}
	}
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func newRingKey(k Key) (*ringKey, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: k.Private, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType(TokenType),
	)
	if err != nil {
		return nil, fmt.Errorf("LLST key %s: %w", k.ID, err)
	}
	return &ringKey{Key: k, pub: k.Public(), retireAt: k.RetireAt.UnixNano(), signer: signer}, nil
}

// signingKey returns the key that signs a token expiring at exp, issued
// at now: the newest key active at now whose RetireAt leaves room for
// exp + skew; nil if there is none.
func (r *Keyring) signingKey(now, exp time.Time) *ringKey {
	s := r.snap.Load()
	for i := len(s.keys) - 1; i >= 0; i-- {
		k := s.keys[i]
		if now.Before(k.ActiveFrom) {
			continue
		}
		if exp.Add(r.cfg.Skew).After(k.RetireAt) {
			return nil
		}
		return k
	}
	return nil
}

// verifyingKey returns the key kid if it verifies at now (published, up
// to the skew, and not retired); nil otherwise.
func (r *Keyring) verifyingKey(kid string, now time.Time) *ringKey {
	k := r.snap.Load().byID[kid]
	if k == nil || now.Add(r.cfg.Skew).Before(k.PublishAt) || !now.Before(k.RetireAt) {
		return nil
	}
	return k
}

// Keys describes the keys currently loaded, by ActiveFrom.
func (r *Keyring) Keys() []KeyInfo {
	s := r.snap.Load()
	out := make([]KeyInfo, len(s.keys))
	for i, k := range s.keys {
		out[i] = k.Info()
	}
	return out
}

// Run rotates (and so reloads) every Config.CheckEvery, on the ticks of
// Config.Ticker, until ctx is done; then it returns nil. A failed
// rotation is logged and retried at the next tick: the keys already
// loaded keep working.
func (r *Keyring) Run(ctx context.Context) error {
	tick, stop := r.cfg.Ticker(r.cfg.CheckEvery)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if err := r.Rotate(ctx, r.cfg.Now()); err != nil && ctx.Err() == nil {
				r.cfg.Logger.Error("LLST key rotation failed; retrying at the next check", "err", err)
			}
		}
	}
}
