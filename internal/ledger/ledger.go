// Package ledger holds the contract every LogLine store implements: append
// spans durably, read them back by id, by filter and as an ordered stream.
// Implementations live in subpackages named after what they wrap
// (segment: files plus a Pebble index; pg: PostgreSQL). The conformance
// suite in ledgertest runs the same tests against each of them.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/logline/logline/internal/span"
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrNotFound: no span with that id (in that tenant).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the append contradicts what is stored (a seq that is not
	// latest+1, or a re-append of (tenant,id,seq) with different content).
	ErrConflict = errors.New("conflict")
	// ErrAmbiguous: an id looked up without a tenant exists in several tenants.
	ErrAmbiguous = errors.New("ambiguous id")
	// ErrClosed: the store is closed or its writer has stopped.
	ErrClosed = errors.New("store closed")
	// ErrCorrupt: stored data fails verification. The error names the file
	// and offset (or log index) of the first bad byte.
	ErrCorrupt = errors.New("corrupt ledger")
	// ErrBadCursor: a cursor that this store did not issue.
	ErrBadCursor = errors.New("bad cursor")
)

// Result is the outcome of appending one span.
type Result struct {
	ID         string
	Seq        uint64
	Tenant     string
	LogIndex   uint64
	Hash       span.Hash // curr_hash
	PrevHash   span.Hash
	ReceivedAt time.Time
	// Duplicate is true when this exact span was already stored: the
	// result is the original one and nothing new was written.
	Duplicate bool
	// LeafHash is the entry's Merkle leaf hash, SHA-256(0x00 ‖ line).
	LeafHash [32]byte
	// Checkpoint is the tree head published when the append was answered;
	// it covers LogIndex. Zero for stores that are not a Prover.
	Checkpoint Checkpoint
}

// Outcome pairs a Result with the per-span error (ErrConflict wrapped with
// details). Exactly one of them is meaningful.
type Outcome struct {
	Result Result
	Err    error
}

// Query selects stored spans of one tenant. Zero fields do not filter.
type Query struct {
	Tenant     string // required
	This       string
	Who        string
	Did        string
	EntityType string
	TraceID    string
	Since      time.Time // inclusive, on the span's `when`
	Until      time.Time // exclusive, on the span's `when`
	Cursor     string    // opaque, from a previous Page.Next
	Limit      int       // default 100, max 1000
}

// Page sizes of Query.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// PageLimit returns the page size q asks for: Limit, DefaultLimit when it
// is not positive, never more than MaxLimit.
func (q Query) PageLimit() int {
	if q.Limit <= 0 {
		return DefaultLimit
	}
	return min(q.Limit, MaxLimit)
}

// Matches reports whether entry e satisfies every filter of q (the
// cursor and limit aside): the exact rule stores apply after narrowing a
// query with their indexes. A span without entity_type has type "span";
// Since and Until compare instants.
func (q Query) Matches(e *span.Entry) bool {
	et := e.EntityType
	if et == "" {
		et = span.DefaultEntityType
	}
	switch {
	case e.Tenant != q.Tenant,
		q.This != "" && e.This != q.This,
		q.Who != "" && e.Who != q.Who,
		q.Did != "" && e.Did != q.Did,
		q.EntityType != "" && et != q.EntityType,
		q.TraceID != "" && e.TraceID != q.TraceID,
		!q.Since.IsZero() && e.When.Before(q.Since),
		!q.Until.IsZero() && !e.When.Before(q.Until):
		return false
	}
	return true
}

// Page is one page of query results. Implementations document their order
// (the embedded store: docs/http-api.md, "Order"); a page may hold fewer
// than Limit entries while Next is set.
type Page struct {
	Entries []*span.Entry
	Next    string // cursor for the following page; "" at the end
}

// Store is a LogLine ledger. All methods are safe for concurrent use.
type Store interface {
	// Append stores spans and returns one Outcome per span, in order. A span
	// whose outcome has no error is durable when Append returns: nothing is
	// acknowledged before it is on disk. The returned error (ErrClosed,
	// an I/O failure) means no outcome may be trusted; spans may or may not
	// have been stored, and a retry with the same content is idempotent.
	Append(ctx context.Context, spans []*span.Span) ([]Outcome, error)

	// Get returns the latest version of id (or version seq when seq >= 0).
	// With tenant "", an id found in exactly one tenant is returned;
	// several give ErrAmbiguous. Missing gives ErrNotFound.
	Get(ctx context.Context, tenant, id string, seq int64) (*span.Entry, error)

	// Query returns one page of spans matching q.
	Query(ctx context.Context, q Query) (Page, error)

	// Read calls fn for every entry with from <= log_index < to, in order,
	// stopping at the first error fn returns. to is clamped to Size().
	Read(ctx context.Context, from, to uint64, fn func(*span.Entry) error) error

	// ReadRaw is Read without parsing: fn gets the log index and the
	// exact stored line (valid only during the call).
	ReadRaw(ctx context.Context, from, to uint64, fn func(index uint64, line []byte) error) error

	// Size is the number of durable entries (the next log_index).
	Size() uint64

	// Wait blocks until Size() > n, ctx is done (ctx.Err()) or the store
	// closes (ErrClosed), and returns the new size.
	Wait(ctx context.Context, n uint64) (uint64, error)

	// Close stops accepting appends, drains the ones in flight and releases
	// files. It returns the first error the writer met, if any.
	Close() error
}

// ConflictKind says what an append conflicts with.
type ConflictKind int

const (
	// SeqConflict: seq is not the next version (a gap, or an older seq
	// that is not stored).
	SeqConflict ConflictKind = iota + 1
	// ContentConflict: (tenant, id, seq) is stored with other content.
	ContentConflict
)

// ConflictError is the per-span error of a conflicting append. It wraps
// ErrConflict; its message is safe to show to users.
type ConflictError struct {
	Kind   ConflictKind
	ID     string
	Seq    uint64
	Latest int64     // latest stored seq, -1 when none (SeqConflict)
	Stored span.Hash // curr_hash already stored (ContentConflict)
}

func (e *ConflictError) Error() string {
	switch {
	case e.Kind == ContentConflict:
		return fmt.Sprintf("conflict: %q seq %d is already stored with different content (curr_hash %s)", e.ID, e.Seq, e.Stored)
	case e.Latest < 0:
		return fmt.Sprintf("conflict: seq %d of %q: no version is stored, the first must be 0", e.Seq, e.ID)
	case uint64(e.Latest) >= e.Seq:
		return fmt.Sprintf("conflict: seq %d of %q is not stored and older than the latest version %d", e.Seq, e.ID, e.Latest)
	default:
		return fmt.Sprintf("conflict: seq %d of %q: latest version is %d, the next must be %d", e.Seq, e.ID, e.Latest, e.Latest+1)
	}
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// ErrOverloaded is wrapped by an Append refused, whole, because the
// server is over a limit it enforces (the data plane's backpressure,
// docs/quality.md); nothing of the batch was stored. An *OverloadError
// says when to retry.
var ErrOverloaded = errors.New("overloaded")

// OverloadError is an append refused under load: Retry-After.
type OverloadError struct {
	Reason     string
	RetryAfter time.Duration
}

func (e *OverloadError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = "overloaded"
	}
	return fmt.Sprintf("%s; retry in %s", reason, e.RetryAfter.Round(time.Second))
}

// Unwrap makes an *OverloadError match ErrOverloaded.
func (e *OverloadError) Unwrap() error { return ErrOverloaded }

// ErrRange: a log index or tree size outside the log (or a proof request
// whose sizes are not ordered).
var ErrRange = errors.New("out of range")

// CheckInclusion returns an error wrapping ErrRange unless
// index < size <= logSize (an inclusion proof request).
func CheckInclusion(index, size, logSize uint64) error {
	if index >= size || size > logSize {
		return fmt.Errorf("%w: entry %d in a tree of size %d (the log has %d entries)", ErrRange, index, size, logSize)
	}
	return nil
}

// CheckConsistency returns an error wrapping ErrRange unless
// from <= to <= logSize (a consistency proof request).
func CheckConsistency(from, to, logSize uint64) error {
	if from > to || to > logSize {
		return fmt.Errorf("%w: consistency from %d to %d (the log has %d entries)", ErrRange, from, to, logSize)
	}
	return nil
}

// CheckTreeSize returns an error wrapping ErrRange unless size <= logSize.
func CheckTreeSize(size, logSize uint64) error {
	if size > logSize {
		return fmt.Errorf("%w: tree size %d, the log has %d entries", ErrRange, size, logSize)
	}
	return nil
}

// Checkpoint is a tree head of the log: its size, its RFC 6962 root, and the
// signed note (C2SP tlog-checkpoint) the server signed for it.
type Checkpoint struct {
	Size uint64
	Root [32]byte
	Note []byte // nil when the store has no signer
}

// Prover is implemented by stores whose log is one RFC 6962 Merkle tree
// over the stored entry lines (leaf hash = SHA-256(0x00 ‖ line)). All
// methods are safe for concurrent use.
type Prover interface {
	// Checkpoint returns the latest checkpoint; its Size equals Size() at
	// some moment (the checkpoint is published with the entries it covers).
	Checkpoint() Checkpoint
	// InclusionProof proves entry index is in the tree of the given size
	// (index < size <= Size()): the leaf hash and the proof hashes in RFC
	// 6962 order. ErrRange otherwise.
	InclusionProof(ctx context.Context, index, size uint64) (leaf [32]byte, proof [][32]byte, err error)
	// ConsistencyProof proves the tree of size from is a prefix of the tree
	// of size to (from <= to <= Size()). ErrRange otherwise.
	ConsistencyProof(ctx context.Context, from, to uint64) ([][32]byte, error)
	// TreeHash returns the root of the tree of the given size (<= Size()).
	TreeHash(ctx context.Context, size uint64) ([32]byte, error)
}
