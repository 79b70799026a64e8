package export

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrInvalid: the bundle does not verify (malformed, truncated,
	// altered, or signed by another key). Verify's errors that wrap it are
	// *Error values naming the line and log index.
	ErrInvalid = errors.New("export does not verify")
	// ErrOptions: Write was given unusable options (bad tenant, empty or
	// inverted time range, no checkpoint note or signer).
	ErrOptions = errors.New("invalid export options")
	// ErrSource: the store contradicts itself while being exported (an
	// entry of another tenant, a broken chain link, received_at going back,
	// a proof that does not match the checkpoint).
	ErrSource = errors.New("the ledger cannot be exported")
)

// Error is a failed check of a bundle. Its message is safe to show to
// users; it wraps ErrInvalid and, when there is one, the cause (a
// *span.Error, tlog.ErrInvalidProof, a note error…).
type Error struct {
	Line     int    // 1-based line of the bundle; 0 when the whole bundle is at fault
	LogIndex int64  // log index of the record concerned; -1 when none or unknown
	Reason   string // what is wrong
	Err      error  // the cause, or nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("export")
	if e.Line > 0 {
		b.WriteString(" line ")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.LogIndex >= 0 {
		b.WriteString(" (log index ")
		b.WriteString(strconv.FormatInt(e.LogIndex, 10))
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns ErrInvalid and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Err}
}
