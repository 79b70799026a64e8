package export

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// Source is what Write reads: a store's tenant queries (in log order) and
// raw reads (ledger.Store) and the inclusion proofs of its log
// (ledger.Prover). The segment store is one. Its methods must be safe for
// concurrent use.
type Source interface {
	Query(ctx context.Context, q ledger.Query) (ledger.Page, error)
	ReadRaw(ctx context.Context, from, to uint64, fn func(index uint64, line []byte) error) error
	InclusionProof(ctx context.Context, index, size uint64) (leaf [32]byte, proof [][32]byte, err error)
}

// Options say what Write exports.
type Options struct {
	// Tenant is the tenant exported ([a-z0-9_-]{1,64}).
	Tenant string
	// Since and Until bound the range on received_at: since inclusive,
	// until exclusive; zero means unbounded. Until must be after Since.
	Since, Until time.Time
	// Checkpoint is the signed tree head every proof refers to (Note is
	// required); entries at or past its Size are not exported.
	Checkpoint ledger.Checkpoint
	// Origin is the log's name; Signer, the log key, signs the manifest and
	// must carry that name.
	Origin string
	Signer note.Signer
	// Progress, when set, is called now and then with the log index reached
	// (done) and the checkpoint's size (total), from Write's goroutine.
	Progress func(done, total uint64)
}

// pageLimit is the page size of the tenant query (the store's maximum).
const pageLimit = 1000

// bufferSize is the write buffer (and the digest's chunk size).
const bufferSize = 256 << 10

func (o *Options) check() error {
	if !span.ValidTenant(o.Tenant) {
		return fmt.Errorf("%w: tenant %q: want [a-z0-9_-]{1,64}", ErrOptions, o.Tenant)
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && !o.Until.After(o.Since) {
		return fmt.Errorf("%w: until (%s) must be after since (%s)", ErrOptions, *formatTime(o.Until), *formatTime(o.Since))
	}
	if o.Signer == nil {
		return fmt.Errorf("%w: no signer for the manifest", ErrOptions)
	}
	if o.Signer.Name() != o.Origin {
		return fmt.Errorf("%w: the signer's key is named %q, the log is %q", ErrOptions, o.Signer.Name(), o.Origin)
	}
	cp := o.Checkpoint
	if cp.Note == nil {
		return fmt.Errorf("%w: the checkpoint has no signed note (the log has no signing key)", ErrOptions)
	}
	want := o.Origin + "\n" + strconv.FormatUint(cp.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(cp.Root[:]) + "\n"
	if len(cp.Note) < len(want) || string(cp.Note[:len(want)]) != want {
		return fmt.Errorf("%w: the checkpoint note is not the tree head of size %d of %s", ErrOptions, cp.Size, o.Origin)
	}
	return nil
}

// Write writes the bundle of o.Tenant's entries in [o.Since, o.Until)
// against o.Checkpoint to w (buffered) and returns its manifest. See the
// package documentation for the format.
//
// It reads the tenant's entries in log order from its first one (entries
// before Since are read to find the before witness and to check the chain
// from its genesis), so its cost grows with the tenant's entries up to
// Until, not with the log. An error leaves w with a partial bundle that
// Verify rejects (no manifest); errors wrap ErrOptions, ErrSource, the
// store's errors or ctx.Err().
func Write(ctx context.Context, w io.Writer, src Source, o Options) (Manifest, error) {
	if err := o.check(); err != nil {
		return Manifest{}, err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The tenant's entries arrive from a reader goroutine, a page at a
	// time: the store's query (which parses and re-hashes every entry)
	// runs while this goroutine proves and writes the previous page.
	pages := make(chan []*span.Entry, 4)
	readErr := make(chan error, 1)
	go func() {
		defer close(pages)
		readErr <- readTenant(ctx, src, o.Tenant, o.Checkpoint.Size, pages)
	}()

	wr := newBundleWriter(w, src, &o)
	err := wr.run(ctx, pages)
	cancel()
	for range pages { // let the reader finish
	}
	if rerr := <-readErr; err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
		err = rerr
	}
	if err == nil {
		err = parent.Err()
	}
	if err == nil {
		err = wr.finish()
	}
	if err != nil {
		return Manifest{}, err
	}
	return wr.m, nil
}

// readTenant sends the tenant's entries below log index size, in log
// order, a page at a time.
func readTenant(ctx context.Context, src Source, tenant string, size uint64, out chan<- []*span.Entry) error {
	q := ledger.Query{Tenant: tenant, Limit: pageLimit}
	for {
		page, err := src.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("query tenant %s: %w", tenant, err)
		}
		n := len(page.Entries)
		for n > 0 && page.Entries[n-1].LogIndex >= size {
			n--
		}
		if n > 0 {
			select {
			case out <- page.Entries[:n]:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if page.Next == "" || n < len(page.Entries) {
			return nil
		}
		q.Cursor = page.Next
	}
}

// bundleWriter is the state of one Write.
type bundleWriter struct {
	o      *Options
	out    *bufio.Writer
	digest hash.Hash
	prover prover
	m      Manifest

	// The tenant's chain as read so far.
	head    span.Hash   // curr_hash of the last entry read
	last    uint64      // its log index
	read    bool        // an entry was read
	pending *span.Entry // the latest entry before since: the before witness
	inRange bool        // an entry at or after since was read
	done    bool        // the after witness was found: stop

	block []record // records of the current block, not yet written
	line  []byte
}

func newBundleWriter(w io.Writer, src Source, o *Options) *bundleWriter {
	d := sha256.New()
	bw := &bundleWriter{
		o:      o,
		digest: d,
		out:    bufio.NewWriterSize(io.MultiWriter(w, d), bufferSize),
		prover: prover{src: src, size: o.Checkpoint.Size},
	}
	bw.m = Manifest{
		Origin: o.Origin, Tenant: o.Tenant, Since: o.Since, Until: o.Until,
		CheckpointSize: o.Checkpoint.Size, CheckpointRoot: o.Checkpoint.Root,
	}
	return bw
}

func (bw *bundleWriter) run(ctx context.Context, pages <-chan []*span.Entry) error {
	h := header{Version: Version, Origin: bw.o.Origin, Tenant: bw.o.Tenant,
		Since: formatTime(bw.o.Since), Until: formatTime(bw.o.Until), Checkpoint: string(bw.o.Checkpoint.Note)}
	if _, err := bw.out.Write(marshalLine(&h)); err != nil {
		return err
	}
	for page := range pages {
		for _, e := range page {
			if err := bw.take(ctx, e); err != nil {
				return err
			}
			if bw.done {
				return bw.flushBlock(ctx)
			}
		}
		if bw.o.Progress != nil {
			bw.o.Progress(page[len(page)-1].LogIndex+1, bw.o.Checkpoint.Size)
		}
	}
	if !bw.inRange && bw.pending != nil {
		// Every entry is before the range: the last one witnesses that
		// the (empty) range starts after it.
		if err := bw.emit(ctx, roleBefore, bw.pending); err != nil {
			return err
		}
	}
	return bw.flushBlock(ctx)
}

// take places the next entry of the tenant's chain.
func (bw *bundleWriter) take(ctx context.Context, e *span.Entry) error {
	switch {
	case e.Tenant != bw.o.Tenant:
		return fmt.Errorf("%w: log index %d belongs to tenant %q, not %q", ErrSource, e.LogIndex, e.Tenant, bw.o.Tenant)
	case bw.read && e.LogIndex <= bw.last:
		return fmt.Errorf("%w: log index %d comes after %d", ErrSource, e.LogIndex, bw.last)
	case e.PrevHash != bw.head:
		return fmt.Errorf("%w: log index %d: prev_hash %s does not link to the tenant's previous entry (curr_hash %s)", ErrSource, e.LogIndex, e.PrevHash, bw.head)
	}
	bw.head, bw.last, bw.read = e.Hash, e.LogIndex, true
	since, until := bw.o.Since, bw.o.Until
	if !bw.inRange {
		if !since.IsZero() && e.ReceivedAt.Before(since) {
			bw.pending = e
			return nil
		}
		bw.inRange = true
		if bw.pending != nil {
			if err := bw.emit(ctx, roleBefore, bw.pending); err != nil {
				return err
			}
		}
	}
	switch {
	case !until.IsZero() && !e.ReceivedAt.Before(until):
		bw.done = true
		return bw.emit(ctx, roleAfter, e)
	case !since.IsZero() && e.ReceivedAt.Before(since):
		return fmt.Errorf("%w: log index %d: received_at %s is earlier than that of an entry before it (received_at must not decrease in log order)",
			ErrSource, e.LogIndex, e.ReceivedAt.UTC().Format(time.RFC3339Nano))
	}
	return bw.emit(ctx, roleEntry, e)
}

// emit queues a record; records are proved and written a block at a time.
func (bw *bundleWriter) emit(ctx context.Context, role string, e *span.Entry) error {
	if len(bw.block) > 0 && bw.block[0].e.LogIndex>>blockBits != e.LogIndex>>blockBits {
		if err := bw.flushBlock(ctx); err != nil {
			return err
		}
	}
	bw.block = append(bw.block, record{role: role, e: e})
	m := &bw.m
	switch role {
	case roleBefore: // the chain head before the range
		m.Before, m.PrevHash, m.Head = true, e.Hash, e.Hash
	case roleAfter:
		m.After = true
	default:
		if m.Entries == 0 {
			m.FirstIndex = e.LogIndex
		}
		m.Entries++
		m.LastIndex, m.Head = e.LogIndex, e.Hash
	}
	return nil
}

// flushBlock proves and writes the queued records.
func (bw *bundleWriter) flushBlock(ctx context.Context) error {
	if len(bw.block) == 0 {
		return nil
	}
	proofs, err := bw.prover.proofs(ctx, bw.block)
	if err != nil {
		return err
	}
	for i, r := range bw.block {
		bw.line = appendProofLine(bw.line[:0], r.role, proofs[i])
		bw.line = append(append(bw.line, r.e.Line...), '\n')
		if _, err := bw.out.Write(bw.line); err != nil {
			return err
		}
	}
	clear(bw.block) // drop the entries for the collector
	bw.block = bw.block[:0]
	return nil
}

// finish completes the manifest, signs it and writes the last line.
func (bw *bundleWriter) finish() error {
	m := &bw.m
	m.CompleteToCheckpoint = !m.After
	if err := bw.out.Flush(); err != nil {
		return err
	}
	m.Digest = [32]byte(bw.digest.Sum(nil))
	signed, err := note.Sign(&note.Note{Text: m.noteText()}, bw.o.Signer)
	if err != nil {
		return fmt.Errorf("sign the manifest: %w", err)
	}
	if _, err := bw.out.Write(marshalLine(&struct {
		Manifest string `json:"manifest"`
	}{string(signed)})); err != nil {
		return err
	}
	return bw.out.Flush()
}
