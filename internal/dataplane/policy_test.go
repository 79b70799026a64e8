package dataplane

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
	"github.com/logline/logline/internal/span"
)

// storedPolicy is a stored derivation_policy record.
type storedPolicy struct {
	Index      uint64 // where it is stored
	Tenant     string
	Who        string
	From       uint64  `json:"from_log_index"`
	Trajectory bool    `json:"trajectory"`
	Diamond    bool    `json:"diamond"`
	Program    string  `json:"program_sha256"`
	Embedded   *string `json:"program"`
}

func storedPolicies(t *testing.T, s ledger.Store) []storedPolicy {
	t.Helper()
	var out []storedPolicy
	err := s.ReadRaw(context.Background(), 0, s.Size(), func(index uint64, line []byte) error {
		e, err := span.ParseEntry(bytes.Clone(line))
		if err != nil {
			return err
		}
		if e.EntityType != TypePolicy {
			if IsPolicyLine(line) {
				t.Errorf("entry %d (%s) passes IsPolicyLine", index, e.EntityType)
			}
			return nil
		}
		if !IsPolicyLine(line) {
			t.Errorf("policy record at %d fails IsPolicyLine: %s", index, line)
		}
		data, _ := e.Field("data")
		r := storedPolicy{Index: index, Tenant: e.Tenant, Who: e.Who}
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("policy record %s: %w", e.ID, err)
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// liveConfig is a tenant configuration changed while the worker runs,
// as hot reloads change it.
type liveConfig struct {
	mu    sync.Mutex
	feats eval.Features
	prog  *ir.Program
}

func (c *liveConfig) set(f eval.Features, p *ir.Program) {
	c.mu.Lock()
	c.feats, c.prog = f, p
	c.mu.Unlock()
}
func (c *liveConfig) program(string) *ir.Program {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prog
}
func (c *liveConfig) features(string) eval.Features {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.feats
}

// failingPolicyStore refuses, once armed, the first append that holds a
// derivation_policy record.
type failingPolicyStore struct {
	ledger.Store
	armed, failed atomic.Bool
}

func (s *failingPolicyStore) Append(ctx context.Context, spans []*span.Span) ([]ledger.Outcome, error) {
	if s.armed.Load() {
		for _, sp := range spans {
			if sp.EntityType == TypePolicy && s.failed.CompareAndSwap(false, true) {
				return nil, errors.New("disk on fire")
			}
		}
	}
	return s.Store.Append(ctx, spans)
}

// savedCursor is the cursor of the state file at path (0 when none).
func savedCursor(t *testing.T, path string) uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st.Cursor
}

// TestPolicyRecords: the worker records the policy it derives each
// tenant's entries with — on the first entry, and whenever the flags or
// the program change (hot-reloaded while it runs) — naming the first
// entry derived under it; a record whose append failed is recorded
// again; a restart under the same configuration records nothing.
func TestPolicyRecords(t *testing.T) {
	dir := t.TempDir()
	real := openStore(t, dir)
	defer real.Close()
	s := &failingPolicyStore{Store: real}
	spans := corpusSpans(t, 2000)
	p1 := defaultProgram(t)
	p2 := compile(t, "policy trajectory_linker {\n  close_timeout: 2h\n}\n")
	on := eval.Features{Trajectory: true, Diamond: true}
	off := eval.Features{Diamond: true}
	cfgs := &liveConfig{feats: on, prog: p1}
	clock := &fixedClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg := Config{Store: s, Program: cfgs.program, Features: cfgs.features,
		StatePath: filepath.Join(dir, StateFile), Now: clock.Now, ClockIdle: 24 * time.Hour, Tick: time.Millisecond, Chunk: 300}
	w, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	// caughtUp waits until the worker has applied every entry and saved
	// its state there.
	caughtUp := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for w.Status().Cursor != real.Size() || savedCursor(t, cfg.StatePath) != real.Size() {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("worker at %+v, ledger %d", w.Status(), real.Size())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}

	type change struct {
		name  string
		feats eval.Features
		prog  *ir.Program
		fail  bool // the records' first append fails
	}
	changes := []change{
		{"first entry", on, p1, false},
		{"trajectory off", off, p1, false},
		{"trajectory on", on, p1, false},
		// With the first entry of another tenant before the change, in
		// the same batch: neither record may be lost, though the saved
		// state names no policy of the new tenant.
		{"program changed, a new tenant, the records' append failing", on, p2, true},
	}
	var others []*span.Span
	for i := range 20 {
		sp, err := span.Decode(fmt.Appendf(nil, `{"id":"o%d","tenant":"t_other","who":"w","did":"d","this":"x","when":"2011-01-01T00:00:%02dZ"}`, i, i), span.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		others = append(others, sp)
	}
	var want []storedPolicy
	for i, c := range changes {
		cfgs.set(c.feats, c.prog)
		s.armed.Store(c.fail)
		from := real.Size()
		if c.fail {
			appendAll(t, real, others)
			want = append(want, storedPolicy{Tenant: "t_other", From: from, Trajectory: c.feats.Trajectory, Diamond: c.feats.Diamond, Program: ProgramSHA256(c.prog)})
			from += uint64(len(others))
		}
		appendAll(t, real, spans[i*400:(i+1)*400])
		caughtUp()
		if c.fail && !s.failed.Load() {
			t.Fatalf("%s: no append failed", c.name)
		}
		want = append(want, storedPolicy{Tenant: spans[0].Tenant, From: from, Trajectory: c.feats.Trajectory, Diamond: c.feats.Diamond, Program: ProgramSHA256(c.prog)})
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := storedPolicies(t, real)
	check := func(got []storedPolicy) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%d policy records %+v, want %d", len(got), got, len(want))
		}
		for i, g := range got {
			w := want[i]
			if g.Tenant != w.Tenant || g.From != w.From || g.Trajectory != w.Trajectory || g.Diamond != w.Diamond || g.Program != w.Program {
				t.Errorf("record %d: tenant %s from %d trajectory %v diamond %v program %.12s; want %s %d %v %v %.12s",
					i, g.Tenant, g.From, g.Trajectory, g.Diamond, g.Program, w.Tenant, w.From, w.Trajectory, w.Diamond, w.Program)
			}
			if g.Who != PolicyWho || g.Index <= g.From {
				t.Errorf("record %d: who %q at %d, from %d", i, g.Who, g.Index, g.From)
			}
			if g.Embedded == nil {
				t.Errorf("record %d: no program embedded", i)
				continue
			}
			enc, err := base64.StdEncoding.DecodeString(*g.Embedded)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ir.Decode(enc)
			if err != nil || ProgramSHA256(p) != w.Program {
				t.Errorf("record %d: the embedded program decodes to %v (%v), want sha256 %.12s", i, p != nil, err, w.Program)
			}
		}
	}
	check(got)
	if st := w.Status(); st.Policies < int64(len(want)) || st.Skipped < st.Derived+st.Policies {
		t.Errorf("status %+v: want %d policies and its own spans skipped", st, len(want))
	}

	// A restart under the same configuration records nothing; the
	// records are the worker's own, which derivation ignores.
	w, err = Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, real, spans[1600:])
	st := runUntil(t, w, real, func(Status) bool { return true })
	if st.Policies != 0 {
		t.Errorf("after a restart: %d policy records, want none", st.Policies)
	}
	check(storedPolicies(t, real))
	if st.Conflicts != 0 || st.Err != "" {
		t.Errorf("status %+v", st)
	}
}

// TestPolicyRecordedAgainAfterCrash: a worker that crashed after storing
// a policy record but before saving its state, restarted under another
// configuration, records its policy again from its saved cursor on,
// after the stale record: the later record supersedes it (replay reads
// them in log order). Under the configuration the saved state names, it
// would record nothing, and the stale record would be wrong.
func TestPolicyRecordedAgainAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	spans := corpusSpans(t, 900)
	p1 := defaultProgram(t)
	on := eval.Features{Trajectory: true, Diamond: true}
	cfgs := &liveConfig{feats: on, prog: p1}
	clock := &fixedClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg := Config{Store: s, Program: cfgs.program, Features: cfgs.features,
		StatePath: filepath.Join(dir, StateFile), Now: clock.Now, ClockIdle: 24 * time.Hour, Chunk: 300}
	appendAll(t, s, spans[:300])
	w, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, w, s, func(Status) bool { return true })
	early, err := os.ReadFile(cfg.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	saved := savedCursor(t, cfg.StatePath)

	// Trajectories off: recorded, derived (nothing), saved; then the
	// state of before is put back, as if the worker had crashed.
	cfgs.set(eval.Features{}, p1)
	appendAll(t, s, spans[300:600])
	if w, err = Open(cfg); err != nil {
		t.Fatal(err)
	}
	runUntil(t, w, s, func(Status) bool { return true })
	if err := os.WriteFile(cfg.StatePath, early, 0o644); err != nil {
		t.Fatal(err)
	}
	stale := len(storedPolicies(t, s))

	// Back on, as the saved state says: the entries after it are
	// derived again, on; the record says so, after the stale one.
	cfgs.set(on, p1)
	appendAll(t, s, spans[600:])
	if w, err = Open(cfg); err != nil {
		t.Fatal(err)
	}
	runUntil(t, w, s, func(Status) bool { return true })
	got := storedPolicies(t, s)
	if stale != 2 || len(got) != 3 {
		t.Fatalf("%d records before the restart, %d after: %+v; want 2 and 3", stale, len(got), got)
	}
	if last := got[2]; !last.Trajectory || last.From < saved || last.From > got[1].From || last.Index < got[1].Index {
		t.Errorf("records %+v: want the last on, from the saved cursor %d at most the stale one's", got, saved)
	}
}

// TestProgramSHA256: a program's recorded hash does not depend on where
// its files are (the data directory's path), only on what they say.
func TestProgramSHA256(t *testing.T) {
	compileAt := func(name, src string) *ir.Program {
		t.Helper()
		f, err := syntax.Parse(name, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		p, err := check.Check([]*syntax.File{f}, check.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const src = "policy trajectory_linker {\n  close_timeout: 2h\n}\n"
	a := compileAt("/srv/logline/cfg/tenants/acme/p.lll", src)
	b := compileAt("data/cfg/tenants/acme/p.lll", src)
	c := compileAt("data/cfg/tenants/acme/p.lll", "policy trajectory_linker {\n  close_timeout: 3h\n}\n")
	if ProgramSHA256(a) != ProgramSHA256(b) || ProgramSHA256(a) == ProgramSHA256(c) || ProgramSHA256(nil) != "" {
		t.Errorf("sha256 %s (at /srv), %s (at data), %s (other source): want the first two equal, the third other", ProgramSHA256(a), ProgramSHA256(b), ProgramSHA256(c))
	}
	p, err := ir.Decode(EncodeRecorded(a))
	if err != nil || ProgramSHA256(p) != ProgramSHA256(a) || p.Files[0] != "p.lll" {
		t.Errorf("the recorded encoding decodes to %v (%v): want the same hash, file p.lll", p, err)
	}
	if a.Files[0] != "/srv/logline/cfg/tenants/acme/p.lll" {
		t.Errorf("EncodeRecorded changed the program's files: %v", a.Files)
	}
}
