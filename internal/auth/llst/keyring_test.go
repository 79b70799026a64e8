package llst

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// jwksKids returns the kids of r's JWKS.
func jwksKids(t *testing.T, r *Keyring) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func keyFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "llst-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// TestScheduleTimeline runs three and a half days in 5-minute steps,
// rotating, issuing and verifying at each, and checks the schedule's
// promises throughout.
func TestScheduleTimeline(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	type issued struct {
		tok, kid string
		at, exp  time.Time
	}
	var toks []issued
	firstSeen := map[string]time.Time{} // kid → first time in the JWKS
	var signers []string                // distinct signing kids, in order
	bootstrap := e.activeKey().ID
	const step = 5 * time.Minute
	for now := t0; now.Before(t0.Add(84 * time.Hour)); now = now.Add(step) {
		e.clock.Set(now)
		if err := e.ring.Rotate(ctx, now); err != nil {
			t.Fatal(err)
		}
		kids := jwksKids(t, e.ring)
		for _, k := range kids {
			if _, ok := firstSeen[k]; !ok {
				firstSeen[k] = now
			}
		}
		if len(kids) > 3 || len(kids) == 0 {
			t.Fatalf("%v: JWKS holds %v", now, kids)
		}
		if files := keyFiles(t, e.dir); len(files) > 3 {
			t.Fatalf("%v: %d key files: %v", now, len(files), files)
		}

		tok, exp, err := e.issuer.Issue(ctx, writerClaims())
		if err != nil {
			t.Fatalf("%v: %v", now, err)
		}
		p, err := e.uncached.Verify(tok)
		if err != nil {
			t.Fatalf("%v: fresh token: %v", now, err)
		}
		toks = append(toks, issued{tok, p.KeyID, now, exp})
		if len(signers) == 0 || signers[len(signers)-1] != p.KeyID {
			signers = append(signers, p.KeyID)
			// Rotations happen every 24 h exactly.
			if want := t0.Add(time.Duration(len(signers)-1) * 24 * time.Hour); !now.Equal(want) {
				t.Errorf("key %s signs first at %v, want %v", p.KeyID, now, want)
			}
		}
		// Publish before use: the signing key was in the JWKS an overlap ago.
		if p.KeyID != bootstrap && now.Sub(firstSeen[p.KeyID]) < e.cfg.Overlap {
			t.Errorf("%v: key %s signs, published only at %v", now, p.KeyID, firstSeen[p.KeyID])
		}
		// Every token verifies, and its key is published, until exp + skew.
		for _, old := range toks {
			if !now.Before(old.exp.Add(e.cfg.Skew)) {
				continue
			}
			if _, err := e.uncached.Verify(old.tok); err != nil {
				t.Errorf("%v: token of %v by %s: %v", now, old.at, old.kid, err)
			}
			if !slices.Contains(kids, old.kid) {
				t.Errorf("%v: key %s of a live token is not in the JWKS %v", now, old.kid, kids)
			}
		}
	}
	if len(signers) != 4 {
		t.Errorf("got %d signing keys in 3.5 days, want 4: %v", len(signers), signers)
	}
	// After its last token expired, a key is gone: old tokens say so.
	if _, err := e.uncached.Verify(toks[0].tok); !errors.Is(err, ErrExpired) && !errors.Is(err, ErrUnknownKey) {
		t.Errorf("first token at the end: got %v", err)
	}
}

func TestRetiredKeyVerifiesUntilItsLastTokenExpires(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k0 := e.activeKey()
	rotation := t0.Add(24 * time.Hour)

	// The last token K0 signs, one second before the rotation.
	e.clock.Set(rotation.Add(-time.Second))
	if err := e.ring.Rotate(ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	last, exp, err := e.issuer.Issue(ctx, writerClaims())
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := e.uncached.Verify(last); p == nil || p.KeyID != k0.ID {
		t.Fatalf("last token before the rotation not signed by %s: %+v", k0.ID, p)
	}
	// A token signed by K0 for any later moment, as a thief of the
	// retired key would make it.
	forged := func() string {
		h, c := e.header(k0.ID), e.claimsMap()
		return signRaw(t, k0.Private, h, c)
	}

	steps := []struct {
		name string
		at   time.Time
		want error // for the last token
		kids int   // keys in the JWKS
		has  bool  // K0 in the JWKS and verifying
	}{
		{"rotation", rotation, nil, 2, true},
		{"exp", exp, nil, 2, true},
		{"exp + skew − 1 s", exp.Add(time.Minute - time.Second), nil, 2, true},
		{"exp + skew", exp.Add(time.Minute), ErrExpired, 2, true},
		{"retire_at", k0.RetireAt, ErrUnknownKey, 1, false},
		{"a day later: K1 retires too", k0.RetireAt.Add(24 * time.Hour), ErrUnknownKey, 1, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			e.clock.Set(s.at)
			if err := e.ring.Rotate(ctx, s.at); err != nil {
				t.Fatal(err)
			}
			for name, v := range map[string]*Verifier{"cached": e.verifier, "uncached": e.uncached} {
				_, err := v.Verify(last)
				if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
					t.Errorf("%s: last token: got %v, want %v", name, err, s.want)
				}
			}
			if tok, _, err := e.issuer.Issue(ctx, writerClaims()); err != nil {
				t.Fatal(err)
			} else if p, err := e.uncached.Verify(tok); err != nil || p.KeyID == k0.ID {
				t.Errorf("new token after the rotation: %+v, %v", p, err)
			}
			kids := jwksKids(t, e.ring)
			if len(kids) != s.kids || slices.Contains(kids, k0.ID) != s.has {
				t.Errorf("JWKS %v: want %d keys, K0 present %v", kids, s.kids, s.has)
			}
			_, err := e.uncached.Verify(forged())
			if s.has && err != nil || !s.has && !errors.Is(err, ErrUnknownKey) {
				t.Errorf("token by K0 made now: got %v", err)
			}
			if _, err := os.Stat(filepath.Join(e.dir, k0.ID+".json")); s.has == errors.Is(err, os.ErrNotExist) {
				t.Errorf("K0's file: stat %v, want present %v", err, s.has)
			}
		})
	}
}

func TestRotateAfterDowntime(t *testing.T) {
	var logs logBuffer
	e := newEnv(t, func(c *Config) { c.Logger = logs.logger() })
	ctx := context.Background()
	old := e.ring.Keys()
	// Every process was down for three days: every key retired.
	later := t0.Add(72 * time.Hour)
	e.clock.Set(later)
	if err := e.ring.Rotate(ctx, later); err != nil {
		t.Fatal(err)
	}
	keys := e.ring.Keys()
	if len(keys) != 2 {
		t.Fatalf("got keys %+v, want a new active one and its successor", keys)
	}
	for _, k := range keys {
		if slices.ContainsFunc(old, func(o KeyInfo) bool { return o.ID == k.ID }) {
			t.Errorf("retired key %s still loaded", k.ID)
		}
	}
	if !keys[0].ActiveFrom.Equal(later) || !keys[0].PublishAt.Equal(later) {
		t.Errorf("new key %+v, want active and published at %v", keys[0], later)
	}
	if !strings.Contains(logs.String(), "no LLST key could sign") {
		t.Errorf("downtime not logged:\n%s", logs.String())
	}
	if _, err := e.verifier.Verify(e.issue(writerClaims())); err != nil {
		t.Fatal(err)
	}
}

func TestKeyringsShareADirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := newClock(t0)
	open := func(seed byte) *Keyring {
		t.Helper()
		r, err := Open(ctx, Config{Store: NewDirStore(dir, discard()), Issuer: testIssuer, Now: c.Now, Rand: newRand(seed), Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := open(1)
	b := open(2) // another process: server and `logline token issue`
	if diff := cmp.Diff(a.Keys(), b.Keys()); diff != "" {
		t.Fatalf("second keyring differs (-a +b):\n%s", diff)
	}
	if n := len(keyFiles(t, dir)); n != 2 {
		t.Fatalf("%d key files, want 2 (the second keyring made none)", n)
	}
	crossVerify := func() {
		t.Helper()
		for _, pair := range [][2]*Keyring{{a, b}, {b, a}} {
			tok, _, err := NewIssuer(pair[0]).Issue(ctx, writerClaims())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewVerifier(pair[1]).Verify(tok); err != nil {
				t.Errorf("token of one keyring on the other: %v", err)
			}
		}
	}
	crossVerify()

	// B advances the schedule; A picks B's key up at its next reload.
	c.Set(t0.Add(24 * time.Hour))
	if err := b.Rotate(ctx, c.Now()); err != nil {
		t.Fatal(err)
	}
	if err := a.Rotate(ctx, c.Now()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a.Keys(), b.Keys()); diff != "" {
		t.Fatalf("keyrings diverged (-a +b):\n%s", diff)
	}
	if n := len(keyFiles(t, dir)); n != 3 {
		t.Errorf("%d key files, want 3", n)
	}
	crossVerify()
}

func TestKeyringsRaceToCreate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := newClock(t0)
	rings := make([]*Keyring, 8)
	var wg sync.WaitGroup
	for i := range rings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := Open(ctx, Config{Store: NewDirStore(dir, discard()), Issuer: testIssuer, Now: c.Now, Rand: newRand(byte(i)), Logger: discard()})
			if err != nil {
				t.Error(err)
				return
			}
			rings[i] = r
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if files := keyFiles(t, dir); len(files) != 2 {
		t.Fatalf("key files %v, want 2", files)
	}
	for _, r := range rings[1:] {
		if diff := cmp.Diff(rings[0].Keys(), r.Keys()); diff != "" {
			t.Errorf("keyrings differ:\n%s", diff)
		}
	}
}

// TestProcessesShareADirectory opens keyrings on one directory from four
// processes at once.
func TestProcessesShareADirectory(t *testing.T) {
	if dir := os.Getenv("LLST_HELPER_DIR"); dir != "" {
		helperProcess(dir)
		return
	}
	dir := t.TempDir()
	outs := make([][]byte, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestProcessesShareADirectory$")
			cmd.Env = append(os.Environ(), "LLST_HELPER_DIR="+dir, fmt.Sprintf("LLST_HELPER_SEED=%d", i))
			outs[i], errs[i] = cmd.Output()
		}()
	}
	wg.Wait()
	var first string
	for i, out := range outs {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], out)
		}
		line, _, _ := strings.Cut(string(out), "\n")
		if !strings.HasPrefix(line, "keys ") {
			t.Fatalf("process %d printed %q", i, out)
		}
		if i == 0 {
			first = line
		} else if line != first {
			t.Errorf("process %d: %s\nprocess 0: %s", i, line, first)
		}
	}
	if files := keyFiles(t, dir); len(files) != 2 {
		t.Errorf("key files %v, want 2", files)
	}
}

func helperProcess(dir string) {
	seed := os.Getenv("LLST_HELPER_SEED")
	r, err := Open(context.Background(), Config{
		Store: NewDirStore(dir, discard()), Issuer: testIssuer,
		Now: func() time.Time { return t0 }, Rand: newRand(seed[0]), Logger: discard(),
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var ids []string
	for _, k := range r.Keys() {
		ids = append(ids, k.ID)
	}
	fmt.Println("keys", strings.Join(ids, " "))
}

func TestRun(t *testing.T) {
	tick := make(chan time.Time)
	events := make(chan RotationEvent, 4)
	stopped := false
	e := newEnv(t, func(c *Config) {
		c.Ticker = func(d time.Duration) (<-chan time.Time, func()) {
			if d != DefaultCheckEvery {
				t.Errorf("ticker every %v, want %v", d, DefaultCheckEvery)
			}
			return tick, func() { stopped = true }
		}
		c.OnRotate = func(ev RotationEvent) { events <- ev }
	})
	<-events // Open's first rotation
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.ring.Run(ctx) }()

	before := e.ring.Keys()
	at := t0.Add(24 * time.Hour)
	e.clock.Set(at)
	tick <- at
	ev := <-events
	if len(ev.Created) != 1 || len(ev.Removed) != 0 || !ev.At.Equal(at) {
		t.Errorf("event %+v, want one key created at %v", ev, at)
	}
	tick <- at // nothing to do: no event, but the tick is consumed
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
	if !stopped {
		t.Error("ticker not stopped")
	}
	after := e.ring.Keys()
	if len(after) != len(before)+1 || after[len(after)-1].ID != ev.Created[0].ID {
		t.Errorf("keys %+v after the tick, before %+v", after, before)
	}
}
