package span

import (
	"crypto/ed25519"
	"time"
)

// Field names of the wire format (v8 names). Aliases accepted on input only.
const (
	FieldID          = "id"
	FieldSeq         = "seq"
	FieldEntityType  = "entity_type"
	FieldTenant      = "tenant"
	FieldWho         = "who"
	FieldDid         = "did"
	FieldThis        = "this"
	FieldWhen        = "when"
	FieldConfirmedBy = "confirmed_by"
	FieldStatus      = "status"
	FieldTraceID     = "trace_id"
	FieldCurrHash    = "curr_hash"
	FieldSignature   = "signature"
	FieldPublicKey   = "public_key"
	FieldLogIndex    = "log_index"
	FieldPrevHash    = "prev_hash"
	FieldReceivedAt  = "received_at"

	// DefaultEntityType is the entity_type of a span that does not name one.
	DefaultEntityType = "span"
	// DefaultVisibility is the visibility of a span that does not name one.
	DefaultVisibility = "private"
)

// Limits bound what Decode accepts. The zero value means the defaults.
type Limits struct {
	// MaxSpanBytes bounds both the span as sent and its canonical stored
	// form (which adds curr_hash and any server-assigned id); default 64 KiB.
	MaxSpanBytes int
	// MaxDepth bounds JSON nesting (the span object itself is depth 1);
	// default 32, at most 512.
	MaxDepth int
}

// DefaultLimits are the limits ARCHITECTURE.md §2 names. Read-only.
var DefaultLimits = Limits{MaxSpanBytes: DefaultMaxSpanBytes, MaxDepth: DefaultMaxDepth}

// Hash is a 32-byte digest (BLAKE3-256 for curr_hash / prev_hash).
type Hash [32]byte

// ZeroHash is the prev_hash of a tenant's first entry (64 hex zeros).
var ZeroHash Hash

// Span is a decoded, validated span, ready to be appended.
//
// The exported fields are the values the store indexes; Canonical returns
// the bytes that are stored (and, without curr_hash and signature, hashed).
// A Span is immutable once built and safe for concurrent use.
type Span struct {
	ID         string
	Seq        uint64
	Tenant     string
	EntityType string // "span" when absent on the wire (not written)
	Who        string
	Did        string
	This       string
	When       time.Time // parsed from the wire value, in UTC
	TraceID    string
	Status     string

	Hash      Hash   // curr_hash: BLAKE3-256 of the canonical content
	Signed    bool   // a signature was present and verified
	PublicKey []byte // nil when unsigned

	canon string              // JCS of the stored members, including curr_hash and signature
	vals  [numFields]valRange // each member's value within canon; b == 0 when absent
	segs  [4]valRange         // members before log_index, between it and prev_hash, between prev_hash and received_at, after (b == 0 when empty)
}

// valRange is a byte range [a, b) within Span.canon.
type valRange struct{ a, b int32 }

// Entry is a stored entry: a span plus the server-assigned fields, as read
// back from a segment line.
type Entry struct {
	Span
	LogIndex   uint64
	PrevHash   Hash
	ReceivedAt time.Time
	Line       []byte // the exact JCS bytes of the entry, without the newline (aliases ParseEntry's input)
}

// DecodeOptions control Decode.
type DecodeOptions struct {
	Limits Limits
	// NewID returns a fresh server-assigned id ("s_" + ULID, see
	// NewIDGenerator) for a span without one. Required for such spans
	// (CodeMissingField otherwise).
	NewID func() string
}

// KeyPair is an Ed25519 client key pair as written by `logline keys new`.
type KeyPair struct {
	Public  ed25519.PublicKey
	Private ed25519.PrivateKey
}
