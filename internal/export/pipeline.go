package export

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// Verify checks records in parallel: one goroutine reads lines (and
// hashes them for the digest, which is sequential by nature) and cuts
// them into batches; GOMAXPROCS workers check each record on its own
// (proof, leaf hash, entry hash and signature — the expensive part); the
// caller's goroutine takes the batches in bundle order and checks what
// links records (order, chain, range) and finally the manifest. A failure
// is reported when the ordered pass reaches it, so the error is the same
// as a one-by-one check would give: the first bad line of the bundle.
//
// Memory stays bounded: at most inFlight batches of about batchBytes
// each exist at once.
const (
	batchRecords = 256
	batchBytes   = 1 << 20
)

// rawRecord is a record's two lines within its batch's buffer.
type rawRecord struct {
	at           int // line number of the proof line
	proof, entry []byte
}

// checked is a record after the independent checks.
type checked struct {
	role string
	e    *span.Entry
}

// batch is a run of consecutive records. The last batch of a bundle
// carries how the bundle ends.
type batch struct {
	buf     []byte
	raw     []rawRecord
	results []checked
	err     *Error // the first record failing the independent checks
	errAt   int    // its position in raw
	done    chan struct{}

	last     bool   // no batch follows
	end      error  // last: why the records ended, when not at the manifest line
	manifest []byte // last: the manifest line
	at       int    // last: its line number
	digest   [32]byte
	trailing error // last: what follows the manifest line (nil: nothing)
}

// check runs the independent checks of every record of b.
func (b *batch) check(cp tlog.Checkpoint) {
	defer close(b.done)
	b.results = make([]checked, len(b.raw))
	for i, r := range b.raw {
		role, p, err := parseProofLine(r.proof)
		if err != nil {
			b.err, b.errAt = &Error{Line: r.at, LogIndex: -1, Reason: "not a proof line: " + err.Error(), Err: err}, i
			return
		}
		e, ferr := checkRecord(r.at, p, r.entry, cp)
		if ferr != nil {
			b.err, b.errAt = ferr, i
			return
		}
		b.results[i] = checked{role: role, e: e}
	}
}

// pipeline runs the reader and the workers for one Verify.
type pipeline struct {
	v     *verifier
	order chan *batch // every batch, in bundle order
	work  chan *batch // the same batches, to the workers
	stop  chan struct{}
	wg    sync.WaitGroup
}

// verifyRecords verifies the records and the manifest (the header is read).
func (v *verifier) verifyRecords(ctx context.Context) error {
	workers := runtime.GOMAXPROCS(0)
	p := &pipeline{
		v:     v,
		order: make(chan *batch, 2*workers+2),
		work:  make(chan *batch, 2*workers+2),
		stop:  make(chan struct{}),
	}
	for range workers {
		p.wg.Go(func() {
			for b := range p.work {
				b.check(v.cp)
			}
		})
	}
	p.wg.Go(func() {
		defer close(p.work)
		defer close(p.order)
		p.read(ctx)
	})
	err := p.consume(ctx)
	close(p.stop)
	for b := range p.order { // unblock the reader
		<-b.done
	}
	p.wg.Wait()
	return err
}

// send hands b to the workers and to the ordered pass; false when Verify
// is stopping.
func (p *pipeline) send(b *batch) bool {
	select {
	case p.order <- b:
	case <-p.stop:
		close(b.done)
		return false
	}
	select {
	case p.work <- b:
		return true
	case <-p.stop:
		// b is in order already: the consumer's drain waits on done.
		close(b.done)
		return false
	}
}

// read cuts the bundle after the header into batches.
func (p *pipeline) read(ctx context.Context) {
	lr, v := p.v.lr, p.v
	b := &batch{done: make(chan struct{})}
	finish := func() {
		b.last = true
		fixSlices(b)
		p.send(b)
	}
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				b.end = err
				finish()
				return
			}
			if v.o.Progress != nil {
				v.o.Progress(lr.bytes)
			}
		}
		line, err := lr.next()
		if errors.Is(err, errNoLine) {
			b.end = &Error{Line: lr.n + 1, LogIndex: -1, Reason: "the bundle ends without a manifest line: it was cut short"}
			finish()
			return
		}
		if err != nil {
			b.end = err
			finish()
			return
		}
		if bytes.HasPrefix(line, []byte(`{"manifest":`)) {
			b.manifest, b.at = bytes.Clone(line), lr.n
			b.digest = [32]byte(v.digest.Sum(nil))
			switch _, err := lr.next(); {
			case errors.Is(err, errNoLine):
			case err == nil:
				b.trailing = &Error{Line: lr.n, LogIndex: -1, Reason: "data after the manifest line"}
			default:
				var e *Error
				if errors.As(err, &e) {
					err = &Error{Line: e.Line, LogIndex: -1, Reason: "data after the manifest line"}
				}
				b.trailing = err
			}
			if v.o.Progress != nil {
				v.o.Progress(lr.bytes)
			}
			finish()
			return
		}
		lr.hashLast(v.digest)
		at := lr.n
		start := len(b.buf)
		b.buf = append(b.buf, line...)
		mid := len(b.buf)
		entry, err := lr.next()
		if err != nil {
			if errors.Is(err, errNoLine) {
				idx := int64(-1)
				if _, pr, perr := parseProofLine(line); perr == nil {
					idx = int64(pr.Index)
				}
				err = &Error{Line: at + 1, LogIndex: idx, Reason: "the bundle ends after a proof line, without its entry: it was cut short"}
			}
			b.buf = b.buf[:start]
			b.end = err
			finish()
			return
		}
		lr.hashLast(v.digest)
		b.buf = append(b.buf, entry...)
		// The slices are cut when the batch is sent: buf may still move.
		b.raw = append(b.raw, rawRecord{at: at, proof: b.buf[start:mid:mid], entry: b.buf[mid:len(b.buf):len(b.buf)]})
		if len(b.raw) == batchRecords || len(b.buf) >= batchBytes {
			fixSlices(b)
			if !p.send(b) {
				return
			}
			b = &batch{done: make(chan struct{}), buf: make([]byte, 0, batchBytes+batchBytes/4)}
		}
	}
}

// fixSlices re-points b.raw into b.buf's final backing array (appending
// may have moved it after earlier records were cut).
func fixSlices(b *batch) {
	off := 0
	for i := range b.raw {
		r := &b.raw[i]
		np, ne := len(r.proof), len(r.entry)
		r.proof = b.buf[off : off+np : off+np]
		off += np
		r.entry = b.buf[off : off+ne : off+ne]
		off += ne
	}
}

// consume takes the batches in order and checks what links records, then
// the manifest.
func (p *pipeline) consume(ctx context.Context) error {
	v := p.v
	for b := range p.order {
		<-b.done
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, r := range b.results {
			if b.err != nil && i == b.errAt {
				return b.err
			}
			if err := v.place(b.raw[i].at, r.role, r.e); err != nil {
				return err
			}
		}
		if !b.last {
			continue
		}
		if b.end != nil {
			return b.end
		}
		if err := v.checkManifest(b.manifest, b.at, b.digest); err != nil {
			return err
		}
		return b.trailing
	}
	return errors.New("export: the bundle reader stopped early") // cannot happen
}
