package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/logline/logline/internal/dataplane"
	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/span"
)

// How replay runs (replay.go is the command): the ledger flows through
// a pipeline, in batches of consecutive entries —
//
//	reader   → reads the stored lines in log order (ReadRaw)
//	workers  → parse each batch's entries, in parallel
//	engine   → applies the entries in log order (derive.Engine.Apply)
//	workers  → write what it derived in canonical form, with its hash
//	matcher  → compares, in log order, with the stored derived spans
//
// so that the costly steps use every core while the engine stays
// sequential. The spans of the tenants are parsed as the server's worker
// reads them (span.ParseEntry, derive.FromSpan). Stored derived spans —
// most of a ledger with trajectories on — are not: their line is
// scanned for the members the engine and the match need (replaycanon.go)
// and compared byte for byte with the entry the re-derived span would be
// stored as: its canonical form, curr_hash included, with a log_index,
// prev_hash and received_at after its id. For the engine a stored
// derived span is a derived type of its tenant that moves no time: its
// tenant, id, entity_type and who are all Apply reads of it.
//
// A re-derived span is held in canonical form until its stored copy is
// met, within replayBudget; past it (a ledger whose data plane ran far
// behind ingest) only its hash is held, and compared with the stored
// copy's curr_hash as written ('logline verify' checks that every
// curr_hash is its content's). A line that does not match is parsed in
// full and compared by the curr_hash parsing computes.

// replayBudget bounds the bytes of re-derived spans held in canonical
// form while they wait for their stored copy; past it only their hash
// is held.
const replayBudget = 64 << 20

// Batch sizes of the pipeline.
const (
	replayBatchEntries = 1024
	replayBatchBytes   = 1 << 20
)

// pendingSpan is a re-derived span not yet met in the ledger.
type pendingSpan struct {
	hash     span.Hash
	cause    uint64 // log index of the entry that caused it
	n        uint64 // order of derivation
	typ      string
	compared bool   // caused at or after --from
	unver    bool   // not compared: caused in an unverifiable range
	canon    []byte // its canonical form, while within replayBudget
	split    int    // in canon, after the id member
}

// replayBatch is a run of consecutive entries on its way through the
// pipeline. Each stage owns it in turn; the channels hand it over.
type replayBatch struct {
	arena   []byte // the stored lines
	entries []replayEntry
	parsed  chan struct{} // closed once entries are parsed (or err set)
	err     error

	derived []derivedSpan // what the engine derived from the entries, in order
	hashed  chan struct{} // closed once derived are in canonical form (or herr set)
	left    atomic.Int32  // decoding tasks still running
	herr    atomic.Pointer[error]
}

// replayEntry is one stored entry.
type replayEntry struct {
	index     uint64
	off, n    int           // its line in the batch's arena
	e         *span.Entry   // parsed in full, or
	in        *derive.Input // read for the engine (inputOf), or
	fast      *fastDerived  // a derived span read without parsing it
	from, end int32         // what it derived, in the batch's derived
}

func (b *replayBatch) line(en *replayEntry) []byte { return b.arena[en.off : en.off+en.n] }

// causeKey is tenant + "\x00" + id of an entry read by inputOf or
// parsed (not a fast one).
func (en *replayEntry) causeKey() string {
	if en.e != nil {
		return en.e.Tenant + "\x00" + en.e.ID
	}
	return en.in.Tenant + "\x00" + en.in.ID
}

// derivedSpan is one re-derived span.
type derivedSpan struct {
	d        derive.Derived
	cause    uint64
	compared bool      // caused at or after --from
	unver    bool      // not compared: caused in an unverifiable range
	canon    []byte    // its canonical form (when compared)
	split    int       // in canon, after the id member
	hash     span.Hash // its curr_hash
}

// readPolicyRecords reads the data plane's derivation_policy records in
// the entries [0, size) — before the entries they govern are replayed:
// a record is stored after its from_log_index. It is one more read of
// the ledger, but not a parse: only the lines that end as the data
// plane's records end (dataplane.IsPolicyLine) are parsed, and the
// ledger is read in as many ranges at once as there are cores.
//
// It returns them by tenant, in the order they govern (ascending
// from_log_index): a record supersedes those stored before it that
// start at or after its from_log_index — the worker went back to a
// saved state before them (a failure, a crash) and derived those
// entries again, as the later record says. A record it cannot read is
// left out, with a warning.
func readPolicyRecords(ctx context.Context, store ledger.Store, size uint64) (map[string][]dataplane.PolicyRecord, []string, error) {
	parts := uint64(runtime.GOMAXPROCS(0))
	if size < 1<<16 {
		parts = 1
	}
	found := make([][]dataplane.PolicyRecord, parts)
	warns := make([][]string, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() {
			from, to := i*size/parts, (i+1)*size/parts
			errs[i] = store.ReadRaw(ctx, from, to, func(idx uint64, line []byte) error {
				if !dataplane.IsPolicyLine(line) {
					return nil
				}
				e, err := span.ParseEntry(bytes.Clone(line))
				if err != nil {
					return fmt.Errorf("%w: log index %d: %v", ledger.ErrCorrupt, idx, err)
				}
				rec, ok, err := dataplane.ReadPolicyRecord(e)
				switch {
				case err != nil:
					warns[i] = append(warns[i], fmt.Sprintf("%v: left out; the tenant's entries it would govern are derived under the record before it", err))
				case ok:
					found[i] = append(found[i], rec)
				}
				return nil
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	out := map[string][]dataplane.PolicyRecord{}
	for _, part := range found {
		for _, rec := range part {
			list := out[rec.Tenant]
			keep := len(list)
			for keep > 0 && list[keep-1].From >= rec.From {
				keep--
			}
			out[rec.Tenant] = append(list[:keep], rec)
		}
	}
	return out, slices.Concat(warns...), nil
}

// shedRange is the log index range of the causes a derivation_shed
// record names (derived_events_perf shed_derived).
type shedRange struct{ from, to uint64 }

// replayer re-derives the ledger and matches what it derives with the
// stored derived spans. Derived spans are stored after the entry that
// causes them, so a stored one is compared as soon as it is read and
// pending holds only what the server has yet to store (in a ledger the
// data plane kept up with, a few thousand spans).
type replayer struct {
	o     replayOptions
	pol   *replayPolicies
	saved *workerState

	// The engine stage's.
	eng       *derive.Engine
	cur       uint64 // log index of the entry being applied
	batch     *replayBatch
	state     string
	stateDiff string

	// The matcher's.
	pending map[string]pendingSpan // by tenant + "\x00" + id
	causes  map[string]struct{}    // with --from: spans at or after it, by tenant + "\x00" + id
	// unverCauses are the spans of tenants with unverifiable ranges from
	// the first such range on (replayPolicies.unverified), by tenant +
	// "\x00" + id: the derived spans they caused are not compared.
	unverCauses map[string]struct{}
	shed        map[string][]shedRange // by tenant: causes whose derived spans the data plane shed
	shedLeft    [][]byte               // the canonical form of those found shed, in derivation order
	tenants     map[string]*replayTenant
	examples    map[string]map[string]int // tenant → kind → listed
	n           uint64
	parsed      int64 // stored derived spans parsed in full
	kept        int   // bytes of pendingSpan.canon
	budget      int   // most bytes kept: replayBudget
	key         []byte
	buf         []byte
}

func newReplayer(o replayOptions, pol *replayPolicies, saved *workerState) *replayer {
	r := &replayer{o: o, pol: pol, saved: saved, pending: map[string]pendingSpan{}, shed: map[string][]shedRange{},
		tenants: map[string]*replayTenant{}, examples: map[string]map[string]int{}}
	if o.from > 0 {
		r.causes = map[string]struct{}{}
	}
	if len(pol.unverified) > 0 {
		r.unverCauses = map[string]struct{}{}
	}
	r.eng = derive.New(pol.policy)
	r.budget = cmp.Or(o.budget, replayBudget)
	if o.backfill {
		r.budget = math.MaxInt // every re-derived span may have to be appended
	}
	switch {
	case saved == nil:
		r.state = "not checked: the data plane saved no state"
	case o.policy != "":
		r.state = "not checked: --policy"
	case o.tenant != "":
		r.state = "not checked: --tenant"
	}
	return r
}

// run replays the entries [0, size); progress is told how many are done.
func (r *replayer) run(parent context.Context, store ledger.Store, size uint64, progress func(uint64)) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var (
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}

	workers := runtime.GOMAXPROCS(0)
	tasks := make(chan func(), 2*workers)
	var workersDone sync.WaitGroup
	for range workers {
		workersDone.Go(func() {
			for t := range tasks {
				t()
			}
		})
	}
	submit := func(t func()) bool {
		select {
		case tasks <- t:
			return true
		case <-ctx.Done():
			return false
		}
	}

	parsed := make(chan *replayBatch, 4)
	hashed := make(chan *replayBatch, 4)
	free := make(chan *replayBatch, 16) // batches the matcher is done with, for the reader
	var stages sync.WaitGroup
	stages.Go(func() {
		defer close(parsed)
		if err := r.read(ctx, store, size, submit, free, parsed); err != nil && ctx.Err() == nil {
			fail(err)
		}
	})
	stages.Go(func() {
		defer close(hashed)
		if err := r.derive(ctx, size, workers, submit, parsed, hashed); err != nil {
			fail(err)
		}
	})
	if err := r.match(ctx, hashed, free, progress); err != nil {
		fail(err)
	}
	cancel()
	stages.Wait()
	close(tasks)
	workersDone.Wait()
	if firstErr != nil {
		return firstErr
	}
	return parent.Err() // interrupted: the stages stopped early
}

// read is the reader stage: batches of stored lines, each parsed by a
// worker, handed to the engine in log order.
func (r *replayer) read(ctx context.Context, store ledger.Store, size uint64, submit func(func()) bool, free <-chan *replayBatch, out chan<- *replayBatch) error {
	next := func() *replayBatch {
		select {
		case b := <-free:
			return b
		default:
			return &replayBatch{
				arena:   make([]byte, 0, replayBatchBytes+64<<10),
				entries: make([]replayEntry, 0, replayBatchEntries),
				derived: make([]derivedSpan, 0, 2*replayBatchEntries),
			}
		}
	}
	b := next()
	send := func() error {
		batch := b
		b = next()
		batch.parsed = make(chan struct{})
		if !submit(func() { batch.parse() }) {
			return ctx.Err()
		}
		select {
		case out <- batch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := store.ReadRaw(ctx, 0, size, func(idx uint64, line []byte) error {
		b.entries = append(b.entries, replayEntry{index: idx, off: len(b.arena), n: len(line)})
		b.arena = append(b.arena, line...)
		if len(b.entries) == replayBatchEntries || len(b.arena) >= replayBatchBytes {
			return send()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(b.entries) > 0 {
		return send()
	}
	return nil
}

// reset empties a batch for the reader to fill again; nothing refers to
// its memory once the matcher is done with it.
func (b *replayBatch) reset() {
	b.arena, b.entries, b.derived = b.arena[:0], b.entries[:0], b.derived[:0]
	b.err = nil
	b.herr.Store(nil)
}

// parse parses a batch's entries (a worker's task).
func (b *replayBatch) parse() {
	defer close(b.parsed)
	for i := range b.entries {
		en := &b.entries[i]
		line := b.line(en)
		if f, ok := scanDerived(line); ok {
			en.fast = f
			continue
		}
		if in, ok := inputOf(line); ok {
			en.in = in
			continue
		}
		e, err := span.ParseEntry(line)
		if err != nil {
			b.err = fmt.Errorf("%w: log index %d: %v", ledger.ErrCorrupt, en.index, err)
			return
		}
		en.e = e
	}
}

// derive is the engine stage: it applies each batch's entries in log
// order and has workers decode what they derive.
func (r *replayer) derive(ctx context.Context, size uint64, workers int, submit func(func()) bool, in <-chan *replayBatch, out chan<- *replayBatch) error {
	for {
		var b *replayBatch
		select {
		case b = <-in:
		case <-ctx.Done():
			return nil
		}
		if b == nil {
			break
		}
		select {
		case <-b.parsed:
		case <-ctx.Done():
			return nil
		}
		if b.err != nil {
			return b.err
		}
		r.batch = b
		for i := range b.entries {
			en := &b.entries[i]
			r.cur = en.index
			r.pol.cur = en.index
			if r.state == "" && r.saved.Cursor == en.index {
				r.checkState()
			}
			var in *derive.Input
			if f := en.fast; f != nil {
				// A derived span: Apply reads its tenant and type, and
				// that who is a system one (it moves no time).
				in = &derive.Input{Tenant: f.tenant, ID: f.id, EntityType: f.typ, Who: derive.Who}
			} else if en.in != nil {
				in = en.in
			} else {
				in = derive.FromSpan(&en.e.Span)
			}
			en.from = int32(len(b.derived))
			if err := r.eng.Apply(in, r.emit); err != nil {
				return failErrorf("replay: log index %d: %v", en.index, err)
			}
			en.end = int32(len(b.derived))
		}
		b.hashed = make(chan struct{})
		r.hash(b, workers, submit)
		select {
		case out <- b:
		case <-ctx.Done():
			return nil
		}
	}
	if r.state == "" && r.saved.Cursor == size {
		r.checkState()
	}
	return nil
}

// emit takes a re-derived span (in the engine stage).
func (r *replayer) emit(d *derive.Derived) {
	unver := r.unverifiedAt(d.Tenant, r.cur)
	r.batch.derived = append(r.batch.derived, derivedSpan{d: *d, cause: r.cur, compared: r.cur >= r.o.from && !unver, unver: unver})
}

// unverifiedAt reports whether what tenant's entry at index derives
// cannot be verified (replayPolicies.unverified).
func (r *replayer) unverifiedAt(tenant string, index uint64) bool {
	if len(r.pol.unverified) == 0 {
		return false
	}
	from, ok := r.pol.unverified[tenant]
	return ok && index >= from
}

// hash has workers write a batch's derived spans in canonical form, with
// their hash; b.hashed closes when they are done.
func (r *replayer) hash(b *replayBatch, workers int, submit func(func()) bool) {
	n := len(b.derived)
	if n == 0 {
		close(b.hashed)
		return
	}
	parts := min(workers, (n+63)/64)
	b.left.Store(int32(parts))
	for p := range parts {
		lo, hi := p*n/parts, (p+1)*n/parts
		ok := submit(func() {
			if err := canonicalize(b.derived[lo:hi]); err != nil {
				b.herr.CompareAndSwap(nil, &err)
			}
			if b.left.Add(-1) == 0 {
				close(b.hashed)
			}
		})
		if !ok {
			return // cancelled: the matcher stops too
		}
	}
}

// canonicalize writes the canonical form and hash of each derived span
// compared (a worker's task): directly, or through span.Decode of its
// JSON when appendCanonical declines it.
func canonicalize(ds []derivedSpan) error {
	var (
		c     derivedCanon
		arena = make([]byte, 0, len(ds)*512)
		offs  = make([]int, len(ds)+1)
		js    []byte
	)
	for i := range ds {
		x := &ds[i]
		offs[i] = len(arena)
		if !x.compared {
			continue
		}
		var ok bool
		if arena, x.split, x.hash, ok = c.appendCanonical(arena, &x.d); ok {
			continue
		}
		js = x.d.AppendJSON(js[:0])
		sp, err := span.Decode(js, span.DecodeOptions{})
		if err != nil {
			return failErrorf("replay: log index %d: the derived span %s does not decode: %v", x.cause, x.d.ID, err)
		}
		x.hash = sp.Hash
		arena = append(arena, sp.Canonical()...)
		x.split = canonicalSplit(arena[offs[i]:])
	}
	offs[len(ds)] = len(arena)
	for i := range ds {
		if ds[i].compared {
			ds[i].canon = arena[offs[i]:offs[i+1]:offs[i+1]]
		}
	}
	return nil
}

// match is the matcher stage: in log order, each stored derived span is
// compared with its re-derived copy, and what each entry derived waits
// for its stored copy.
func (r *replayer) match(ctx context.Context, in <-chan *replayBatch, free chan<- *replayBatch, progress func(uint64)) error {
	for {
		var b *replayBatch
		select {
		case b = <-in:
		case <-ctx.Done():
			return nil
		}
		if b == nil {
			return nil
		}
		select {
		case <-b.hashed:
		case <-ctx.Done():
			return nil
		}
		if err := b.herr.Load(); err != nil {
			return *err
		}
		for i := range b.entries {
			en := &b.entries[i]
			switch {
			case en.fast != nil:
				if err := r.storedFast(b, en); err != nil {
					return err
				}
			case en.in != nil && en.in.Who == derive.Who:
				r.parsed++
				e, err := span.ParseEntry(bytes.Clone(b.line(en)))
				if err != nil {
					return fmt.Errorf("%w: log index %d: %v", ledger.ErrCorrupt, en.index, err)
				}
				r.stored(e.Tenant, e.ID, e.EntityType, e.Seq, e.Hash, e)
			case en.e != nil && en.e.Who == derive.Who:
				r.parsed++
				r.stored(en.e.Tenant, en.e.ID, en.e.EntityType, en.e.Seq, en.e.Hash, en.e)
			case en.e != nil && en.e.EntityType == derive.TypeShed:
				r.shedRecord(en.e.Tenant, en.e)
			case en.in != nil && en.in.EntityType == derive.TypeShed:
				r.shedRecord(en.in.Tenant, en.in.Fields)
			case r.causes != nil && en.index >= r.o.from:
				r.causes[en.causeKey()] = struct{}{}
			}
			if r.unverCauses != nil && en.fast == nil {
				if k := en.causeKey(); r.unverifiedAt(k[:strings.IndexByte(k, 0)], en.index) {
					r.unverCauses[k] = struct{}{}
				}
			}
			for j := en.from; j < en.end; j++ {
				r.addPending(&b.derived[j])
			}
		}
		progress(b.entries[len(b.entries)-1].index + 1)
		b.reset()
		select {
		case free <- b:
		default:
		}
	}
}

// shedRecord notes the causes a derivation_shed record names: what they
// derived and is not stored was shed, not lost.
func (r *replayer) shedRecord(tenant string, fields eval.Fields) {
	raw, ok := fields.Field("data")
	var d struct {
		From *uint64 `json:"from_log_index"`
		To   *uint64 `json:"to_log_index"`
	}
	if !ok || json.Unmarshal(raw, &d) != nil || d.From == nil || d.To == nil || *d.To < *d.From {
		return // not a record the data plane writes: its spans count as missing
	}
	if r.shed[tenant] == nil {
		tenant = strings.Clone(tenant) // it may alias a batch's memory
	}
	r.shed[tenant] = append(r.shed[tenant], shedRange{*d.From, *d.To})
}

// wasShed reports whether tenant's data plane recorded the derived spans
// of the entry at cause as shed.
func (r *replayer) wasShed(tenant string, cause uint64) bool {
	for _, s := range r.shed[tenant] {
		if s.from <= cause && cause <= s.to {
			return true
		}
	}
	return false
}

// shedSpans returns the canonical form of the re-derived spans found
// shed (after finish), in the order they were derived.
func (r *replayer) shedSpans() [][]byte { return r.shedLeft }

// addPending makes a re-derived span wait for its stored copy.
func (r *replayer) addPending(ds *derivedSpan) {
	p := pendingSpan{cause: ds.cause, n: r.n, typ: ds.d.Type, compared: ds.compared, unver: ds.unver, hash: ds.hash}
	r.n++
	if p.compared {
		if r.kept+len(ds.canon) <= r.budget {
			p.canon, p.split = ds.canon, ds.split
			r.kept += len(p.canon)
		}
		r.tenant(ds.d.Tenant).Replayed++
	}
	r.key = append(append(append(r.key[:0], ds.d.Tenant...), 0), ds.d.ID...)
	r.pending[string(r.key)] = p
}

// take removes and returns the re-derived span of tenant and id.
func (r *replayer) take(tenant, id string) (pendingSpan, bool) {
	r.key = append(append(append(r.key[:0], tenant...), 0), id...)
	p, ok := r.pending[string(r.key)]
	if ok {
		delete(r.pending, string(r.key))
		r.kept -= len(p.canon)
	}
	return p, ok
}

// storedFast compares a stored derived span read without parsing it:
// byte for byte with the entry its re-derived copy would be stored as,
// or else parsed and by curr_hash.
func (r *replayer) storedFast(b *replayBatch, en *replayEntry) error {
	f := en.fast
	line := b.line(en)
	r.key = append(append(append(r.key[:0], f.tenant...), 0), f.id...)
	p, ok := r.pending[string(r.key)]
	other := r.o.tenant != "" && f.tenant != r.o.tenant
	switch {
	case ok && (!p.compared || other):
		r.take(f.tenant, f.id) // caused before --from, or not replayed, or not verifiable
		if p.unver && !other {
			r.tenant(f.tenant).NotVerifiable++
		}
		return nil
	case !ok && (other || en.index < r.o.from):
		return nil // extra, but caused before --from (it is stored before it)
	case ok && p.canon != nil:
		if matchEntry(line, p.canon, p.split, en.index) {
			r.identical(f)
			return nil
		}
	case ok && p.hash == f.hash:
		// Its copy was not kept (replayBudget): the curr_hash as stored
		// is the content's ('logline verify' checks every one).
		r.identical(f)
		return nil
	}
	r.parsed++
	e, err := span.ParseEntry(bytes.Clone(line))
	if err != nil {
		return fmt.Errorf("%w: log index %d: %v", ledger.ErrCorrupt, en.index, err)
	}
	r.stored(e.Tenant, e.ID, e.EntityType, e.Seq, e.Hash, e)
	return nil
}

// identical counts a stored derived span equal to its re-derived copy.
func (r *replayer) identical(f *fastDerived) {
	r.take(f.tenant, f.id)
	t := r.tenant(f.tenant)
	t.Stored++
	t.Identical++
}

// stored compares a stored derived span with its re-derived copy.
func (r *replayer) stored(tenant, id, typ string, seq uint64, hash span.Hash, e *span.Entry) {
	var (
		p  pendingSpan
		ok bool
	)
	if seq == 0 {
		p, ok = r.take(tenant, id)
	}
	if r.o.tenant != "" && tenant != r.o.tenant {
		return
	}
	if ok {
		if !p.compared {
			if p.unver {
				r.tenant(tenant).NotVerifiable++
			}
			return
		}
		t := r.tenant(tenant)
		t.Stored++
		if p.hash == hash {
			t.Identical++
			return
		}
		t.Different++
		r.example(t, replayDifferent, id, p.typ, e, &p)
		return
	}
	if r.o.from > 0 && !r.causedSinceFrom(e) {
		return
	}
	if r.unverifiedAt(tenant, e.LogIndex) && r.causedIn(e, r.unverCauses) {
		r.tenant(tenant).NotVerifiable++
		return
	}
	t := r.tenant(tenant)
	t.Stored++
	t.Extra++
	r.example(t, replayExtra, id, typ, e, nil)
}

// causedSinceFrom reports whether a stored derived span's cause (the span
// its related_to names) is at or after --from; one without a known cause
// is counted.
func (r *replayer) causedSinceFrom(e *span.Entry) bool {
	if e.LogIndex < r.o.from {
		return false
	}
	return r.causedIn(e, r.causes)
}

// causedIn reports whether a stored derived span's cause (the span its
// related_to names) is one of causes; true for one without a known
// cause.
func (r *replayer) causedIn(e *span.Entry, causes map[string]struct{}) bool {
	raw, ok := e.Field("related_to")
	var ids []string
	if !ok || json.Unmarshal(raw, &ids) != nil || len(ids) == 0 {
		return true
	}
	_, ok = causes[e.Tenant+"\x00"+ids[0]]
	return ok
}

func (r *replayer) tenant(name string) *replayTenant {
	t := r.tenants[name]
	if t == nil {
		name = strings.Clone(name) // it may alias a batch's memory
		t = &replayTenant{Tenant: name}
		r.tenants[name] = t
	}
	return t
}

// example lists a divergent span, up to --examples per kind and tenant.
func (r *replayer) example(t *replayTenant, kind, id, typ string, e *span.Entry, p *pendingSpan) {
	byKind := r.examples[t.Tenant]
	if byKind == nil {
		byKind = map[string]int{}
		r.examples[t.Tenant] = byKind
	}
	if byKind[kind] >= r.o.examples {
		return
	}
	byKind[kind]++
	ex := replayExample{Kind: kind, ID: id, Type: typ}
	if e != nil {
		idx := e.LogIndex
		ex.LogIndex = &idx
		ex.Stored = json.RawMessage(bytes.Clone(e.Line))
	}
	if p != nil {
		cause := p.cause
		ex.CauseIndex = &cause
		if p.canon != nil {
			ex.Replayed = json.RawMessage(bytes.Clone(p.canon))
		}
	}
	t.Examples = append(t.Examples, ex)
}

// finish counts what was never stored and fills in res (once the
// pipeline has stopped).
func (r *replayer) finish(res *replayResult) {
	if r.saved != nil {
		c := r.saved.Cursor
		res.Cursor = &c
	}
	type leftover struct {
		key string
		p   pendingSpan
	}
	left := make([]leftover, 0, len(r.pending))
	for k, p := range r.pending {
		if p.compared {
			left = append(left, leftover{k, p})
		}
	}
	slices.SortFunc(left, func(a, b leftover) int { return cmp.Compare(a.p.n, b.p.n) })
	for _, l := range left {
		tenant, id, _ := strings.Cut(l.key, "\x00")
		t := r.tenant(tenant)
		switch {
		case r.saved == nil || l.p.cause >= r.saved.Cursor:
			t.NotYet++
			continue
		case r.wasShed(tenant, l.p.cause):
			t.Shed++
			r.shedLeft = append(r.shedLeft, l.p.canon)
			continue
		}
		t.Missing++
		r.example(t, replayMissing, id, l.p.typ, nil, &l.p)
	}
	res.State, res.StateDiff = r.state, r.stateDiff
	for _, name := range slices.Sorted(maps.Keys(r.tenants)) {
		t := r.tenants[name]
		c := r.pol.get(name)
		t.Trajectory, t.Diamond, t.Programs = c.feats.Trajectory, c.feats.Diamond, c.source
		t.Records = r.pol.recordsOf(name)
		slices.SortStableFunc(t.Examples, func(a, b replayExample) int {
			return cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind))
		})
		res.Tenants = append(res.Tenants, *t)
		res.Replayed += t.Replayed
		res.Stored += t.Stored
		res.Identical += t.Identical
		res.Missing += t.Missing
		res.Extra += t.Extra
		res.Different += t.Different
		res.NotYet += t.NotYet
		res.Shed += t.Shed
		res.NotVerifiable += t.NotVerifiable
	}
	for _, tr := range r.pol.records {
		res.PolicyRecords += len(tr.recs) // every tenant's, also those that derived nothing
	}
	if res.Tenants == nil {
		res.Tenants = []replayTenant{}
	}
	res.Divergence = res.Missing + res.Extra + res.Different
	res.Parsed = r.parsed
}

// checkState compares the engine's state with the saved one, both taken
// after the entries before the saved cursor (in the engine stage). The
// saved state is read by the engine first, as a restart reads it, so
// that members a newer build adds compare as it would start with them.
func (r *replayer) checkState() {
	got, err := r.eng.MarshalState()
	if err != nil {
		r.state, r.stateDiff = "different", fmt.Sprintf("the re-derived state does not encode: %v", err)
		return
	}
	e := derive.New(r.pol.policy)
	if err := e.UnmarshalState(r.saved.Engine); err != nil {
		r.state, r.stateDiff = "different", fmt.Sprintf("the saved state does not load (a server would not start from it): %v", err)
		return
	}
	saved, err := e.MarshalState()
	if err != nil {
		r.state, r.stateDiff = "different", fmt.Sprintf("the saved state does not encode: %v", err)
		return
	}
	// A tenant unverifiable before the cursor has a state that depends
	// on what a program replay does not know derived: not compared.
	r.state, r.stateDiff = stateDiff(got, saved, func(tenant string) bool {
		return r.saved.Cursor > 0 && r.unverifiedAt(tenant, r.saved.Cursor-1)
	})
}

// stateMembers are the members of a tenant's encoded state that what it
// derives next depends on; the others are counters.
var stateMembers = []string{"name", "watermark", "open", "hist", "horizon", "recent"}

// stateDiff compares two encoded engine states: "identical"; "counters
// differ" when only counters do (which tenants' and which); or
// "different" and where: a tenant's open trajectories, watermark or
// score history, which a restart from the saved state would derive on.
func stateDiff(got, saved []byte, skip func(tenant string) bool) (state, diff string) {
	var g, s struct {
		Version int                          `json:"version"`
		Tenants []map[string]json.RawMessage `json:"tenants"`
		Stats   json.RawMessage              `json:"stats"`
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return "different", fmt.Sprintf("the re-derived state does not decode: %v", err)
	}
	if err := json.Unmarshal(saved, &s); err != nil {
		return "different", fmt.Sprintf("the saved state does not decode: %v", err)
	}
	byName := func(ts []map[string]json.RawMessage) map[string]map[string]json.RawMessage {
		out := map[string]map[string]json.RawMessage{}
		for _, t := range ts {
			var name string
			_ = json.Unmarshal(t["name"], &name)
			out[name] = t
		}
		return out
	}
	gt, st := byName(g.Tenants), byName(s.Tenants)
	var skipped []string
	for _, m := range []map[string]map[string]json.RawMessage{gt, st} {
		for name := range m {
			if skip(name) {
				delete(gt, name)
				delete(st, name)
				skipped = append(skipped, name)
			}
		}
	}
	// The state of the others holds, or not, as far as they go.
	state, diff = compareTenantStates(gt, st, g.Stats, s.Stats)
	if len(skipped) > 0 && state != "different" {
		slices.Sort(skipped)
		note := "not compared, not verifiable: tenant " + strings.Join(slices.Compact(skipped), ", ")
		diff = strings.TrimPrefix(diff+"; "+note, "; ")
	}
	return state, diff
}

// compareTenantStates is stateDiff over the tenants' states by name and
// the run's totals.
func compareTenantStates(gt, st map[string]map[string]json.RawMessage, gStats, sStats json.RawMessage) (state, diff string) {
	for _, name := range slices.Sorted(maps.Keys(gt)) {
		if _, ok := st[name]; !ok {
			return "different", fmt.Sprintf("tenant %s has a state re-derived but none saved", name)
		}
	}
	var counters []string
	for _, name := range slices.Sorted(maps.Keys(st)) {
		gm, ok := gt[name]
		if !ok {
			return "different", fmt.Sprintf("tenant %s has a state saved but none re-derived", name)
		}
		sm := st[name]
		for _, m := range stateMembers {
			if !equalJSON(gm[m], sm[m]) {
				return "different", fmt.Sprintf("tenant %s: its %s differ", name, map[string]string{
					"watermark": "watermarks", "open": "open trajectories", "hist": "score histograms",
					"horizon": "meter horizons", "recent": "recent scores", "name": "names"}[m])
			}
		}
		var differ []string
		for _, m := range slices.Sorted(maps.Keys(sm)) {
			if !slices.Contains(stateMembers, m) && !equalJSON(gm[m], sm[m]) {
				differ = append(differ, m)
			}
		}
		for m := range gm {
			if _, ok := sm[m]; !ok && !slices.Contains(stateMembers, m) {
				differ = append(differ, m)
			}
		}
		if len(differ) > 0 {
			slices.Sort(differ)
			counters = append(counters, fmt.Sprintf("tenant %s: %s", name, strings.Join(slices.Compact(differ), ", ")))
		}
	}
	if !equalJSON(gStats, sStats) {
		counters = append(counters, "the run's totals")
	}
	if len(counters) > 0 {
		return "counters differ", "only counters differ (" + strings.Join(counters, "; ") + "): what is derived next does not depend on them"
	}
	return "identical", ""
}

// equalJSON reports whether two JSON texts hold the same value (member
// order aside; numbers compared as written).
func equalJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b) // both absent
	}
	decode := func(raw []byte) (any, bool) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		return v, d.Decode(&v) == nil
	}
	va, okA := decode(a)
	vb, okB := decode(b)
	return okA && okB && reflect.DeepEqual(va, vb)
}
