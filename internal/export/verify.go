package export

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// VerifyOptions tune Verify. The zero value works.
type VerifyOptions struct {
	// Origin is the log the bundle must come from (the name of its keys);
	// "" accepts the header's origin, which must still name a key of the
	// verifiers.
	Origin string
	// MaxLineBytes bounds one line (default DefaultMaxLineBytes).
	MaxLineBytes int
	// Progress, when set, is called now and then with the bytes read so
	// far, from one goroutine at a time.
	Progress func(read int64)
}

// Report is what Verify established. Everything in Manifest was checked
// against the bundle's content; Proven and Attested say how far that goes.
type Report struct {
	Manifest
	Bytes       int64  // size of the bundle
	Signed      uint64 // entries of the range carrying a valid client signature
	BeforeIndex uint64 // log index of the before witness, when Manifest.Before
	AfterIndex  uint64 // log index of the after witness, when Manifest.After
	// CheckpointKey and ManifestKey are the ids (key hashes, 8 hex digits)
	// of the log keys whose signatures verified.
	CheckpointKey, ManifestKey string
}

// Proven lists, for people, what the bundle proves with the log key alone.
func (r *Report) Proven() []string {
	out := []string{
		fmt.Sprintf("the checkpoint (tree size %d) is signed by the log key %s", r.CheckpointSize, r.CheckpointKey),
		fmt.Sprintf("%d entries of tenant %s are unaltered leaves of that tree: %d inclusion proofs verified, every curr_hash recomputed, %s",
			r.Entries, r.Tenant, r.Entries+b2u(r.Before)+b2u(r.After), signatures(r.Signed)),
		"the entries form one unbroken piece of the tenant's hash chain, in log order, all received in the range",
	}
	if r.Before {
		out = append(out, fmt.Sprintf("start: nothing is missing before the first entry (before witness at log index %d, received before since)", r.BeforeIndex))
	} else {
		out = append(out, "start: the range begins at the tenant's first entry (prev_hash is the genesis hash)")
	}
	if r.After {
		out = append(out, fmt.Sprintf("end: nothing is missing after the last entry (after witness at log index %d, received at or after until)", r.AfterIndex))
	}
	out = append(out, fmt.Sprintf("the manifest is signed by the log key %s and states exactly this bundle (digest %x)", r.ManifestKey, r.Digest))
	return out
}

// Attested lists what rests on the log's word (the manifest's signature)
// rather than on a proof.
func (r *Report) Attested() []string {
	if r.After {
		return nil
	}
	what := "the tenant has no entry after the last one"
	if r.Entries == 0 {
		what = "the tenant has no entry in the range or after it"
	}
	return []string{fmt.Sprintf("%s below log index %d (the checkpoint's size): the log says so in the signed manifest, the bundle cannot prove it", what, r.CheckpointSize)}
}

func signatures(n uint64) string {
	if n == 0 {
		return "no client signatures"
	}
	return fmt.Sprintf("%d client signatures verified", n)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Verify reads a bundle from r and checks everything it claims with the
// log's verifier keys (GET /log/key): the header; the checkpoint's
// signature; every record's proof (size, leaf hash of the entry line,
// inclusion in the checkpoint's tree, log index); every entry (canonical
// form, curr_hash, client signature, tenant, received_at within the
// range); log order; the tenant's chain links, witnesses included; the
// manifest's signature, its every field and the digest of the bytes before
// it; and that nothing follows it. It reads r once with bounded memory.
//
// A bundle that fails a check gives an *Error wrapping ErrInvalid that
// names the line and, where one applies, the log index. Read errors and
// ctx.Err() are returned as they are. With an error the Report holds only
// what was established before it (Bytes: how much was read).
func Verify(ctx context.Context, r io.Reader, verifiers note.Verifiers, o VerifyOptions) (Report, error) {
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	v := &verifier{
		o:         o,
		verifiers: verifiers,
		lr:        newLineReader(r, o.MaxLineBytes),
		digest:    sha256.New(),
	}
	err := v.run(ctx)
	v.rep.Bytes = v.lr.bytes
	if err != nil {
		return v.rep, err
	}
	return v.rep, nil
}

// verifier is the state of one Verify.
type verifier struct {
	o         VerifyOptions
	verifiers note.Verifiers
	lr        *lineReader
	digest    hash.Hash

	h    header
	cp   tlog.Checkpoint
	rep  Report
	want Manifest // computed from the content

	records int    // records seen
	last    uint64 // log index of the last record
	after   bool   // the after witness was seen: only the manifest may follow
}

func (v *verifier) fail(line int, index int64, cause error, format string, args ...any) *Error {
	return &Error{Line: line, LogIndex: index, Reason: fmt.Sprintf(format, args...), Err: cause}
}

func (v *verifier) run(ctx context.Context) error {
	if err := v.readHeader(); err != nil {
		return err
	}
	return v.verifyRecords(ctx)
}

// readHeader reads and checks line 1 and the checkpoint it carries.
func (v *verifier) readHeader() error {
	line, err := v.lr.next()
	if errors.Is(err, errNoLine) {
		return v.fail(0, -1, nil, "empty input: not an export bundle")
	}
	if err != nil {
		return err
	}
	v.lr.hashLast(v.digest)
	h := &v.h
	if err := unmarshalCanonical(line, h); err != nil {
		return v.fail(1, -1, err, "not a LogLine export header: %v", err)
	}
	if h.Version != Version {
		return v.fail(1, -1, nil, "logline_export %d: this verifier reads version %d", h.Version, Version)
	}
	if v.o.Origin != "" && h.Origin != v.o.Origin {
		return v.fail(1, -1, tlog.ErrWrongOrigin, "the bundle is from log %q, the key is for %q", h.Origin, v.o.Origin)
	}
	if !span.ValidTenant(h.Tenant) {
		return v.fail(1, -1, nil, "tenant %q: want [a-z0-9_-]{1,64}", h.Tenant)
	}
	m := &v.want
	m.Origin, m.Tenant = h.Origin, h.Tenant
	if m.Since, err = parseTime(h.Since); err != nil {
		return v.fail(1, -1, nil, "since: %v", err)
	}
	if m.Until, err = parseTime(h.Until); err != nil {
		return v.fail(1, -1, nil, "until: %v", err)
	}
	if !m.Since.IsZero() && !m.Until.IsZero() && !m.Until.After(m.Since) {
		return v.fail(1, -1, nil, "until (%s) is not after since (%s)", *h.Until, *h.Since)
	}
	cp, err := tlog.ParseCheckpoint([]byte(h.Checkpoint), v.verifiers, h.Origin)
	if err != nil {
		return v.fail(1, -1, err, "checkpoint: %v", err)
	}
	v.cp = cp
	m.CheckpointSize, m.CheckpointRoot = cp.Size, cp.Root
	v.rep.CheckpointKey = keyOf(cp.Note.Sigs, h.Origin)
	return nil
}

// keyOf is the key id of the first signature by a key named name.
func keyOf(sigs []note.Signature, name string) string {
	for _, s := range sigs {
		if s.Name == name {
			return fmt.Sprintf("%08x", s.Hash)
		}
	}
	return ""
}

// checkRecord checks what one record proves on its own: the proof (for
// the checkpoint's tree, of this entry line, leading to its root) and the
// entry (canonical, curr_hash, signature, log index).
func checkRecord(at int, p tlog.InclusionProof, entryLine []byte, cp tlog.Checkpoint) (*span.Entry, *Error) {
	idx := int64(p.Index)
	if p.Size != cp.Size {
		return nil, &Error{Line: at, LogIndex: idx, Reason: fmt.Sprintf("the proof is for a tree of size %d, the checkpoint's has %d", p.Size, cp.Size)}
	}
	if p.Index >= p.Size {
		return nil, &Error{Line: at, LogIndex: idx, Reason: fmt.Sprintf("log index %d is not in the checkpoint's tree of size %d", p.Index, cp.Size)}
	}
	if tlog.LeafHash(entryLine) != p.LeafHash {
		return nil, &Error{Line: at + 1, LogIndex: idx, Reason: "the entry line does not hash to its proof's leaf_hash: the entry was altered"}
	}
	if err := p.Verify(cp.Root); err != nil {
		return nil, &Error{Line: at, LogIndex: idx, Reason: "the inclusion proof does not lead to the checkpoint's root", Err: err}
	}
	e, err := span.ParseEntry(entryLine)
	if err != nil {
		return nil, &Error{Line: at + 1, LogIndex: idx, Reason: "entry: " + err.Error(), Err: err}
	}
	if e.LogIndex != p.Index {
		return nil, &Error{Line: at + 1, LogIndex: idx, Reason: fmt.Sprintf("the entry says log_index %d, its proof %d", e.LogIndex, p.Index)}
	}
	return e, nil
}

// place checks a verified record's place in the bundle: role order, log
// order, tenant, chain link and received_at range.
func (v *verifier) place(at int, role string, e *span.Entry) error {
	idx := int64(e.LogIndex)
	m := &v.want
	line := at + 1
	switch {
	case v.after:
		return v.fail(at, idx, nil, "a record after the after witness")
	case role == roleBefore && v.records > 0:
		return v.fail(at, idx, nil, "a before witness that is not the first record")
	case role == roleBefore && m.Since.IsZero():
		return v.fail(at, idx, nil, "a before witness in a bundle without since")
	case role == roleAfter && m.Until.IsZero():
		return v.fail(at, idx, nil, "an after witness in a bundle without until")
	case v.records > 0 && e.LogIndex <= v.last:
		return v.fail(line, idx, nil, "log index %d comes after %d: records are not in log order", e.LogIndex, v.last)
	case e.Tenant != m.Tenant:
		return v.fail(line, idx, nil, "the entry belongs to tenant %q, the bundle to %q", e.Tenant, m.Tenant)
	}
	if role != roleBefore && e.PrevHash != m.Head { // a before witness links to what precedes the range
		if v.records == 0 {
			return v.fail(line, idx, nil, "prev_hash %s is not the genesis hash and no before witness precedes it: the start of the range is not proven complete", e.PrevHash)
		}
		return v.fail(line, idx, nil, "prev_hash %s does not link to log index %d (curr_hash %s): an entry of the tenant's chain is missing or out of place", e.PrevHash, v.last, m.Head)
	}
	ra := e.ReceivedAt
	inSince := m.Since.IsZero() || !ra.Before(m.Since)
	inUntil := m.Until.IsZero() || ra.Before(m.Until)
	switch role {
	case roleBefore:
		if inSince {
			return v.fail(line, idx, nil, "the before witness was received at %s, not before since", fmtTime(ra))
		}
		m.Before, m.PrevHash = true, e.Hash
		v.rep.BeforeIndex = e.LogIndex
	case roleAfter:
		if inUntil {
			return v.fail(line, idx, nil, "the after witness was received at %s, before until", fmtTime(ra))
		}
		m.After, v.after = true, true
		v.rep.AfterIndex = e.LogIndex
	default:
		if !inSince || !inUntil {
			return v.fail(line, idx, nil, "received at %s, outside the range", fmtTime(ra))
		}
		if m.Entries == 0 {
			m.FirstIndex = e.LogIndex
		}
		m.Entries++
		m.LastIndex = e.LogIndex
		if e.Signed {
			v.rep.Signed++
		}
	}
	if role != roleAfter {
		m.Head = e.Hash
	}
	v.records++
	v.last = e.LogIndex
	return nil
}

func fmtTime(t time.Time) string { return *formatTime(t) }

// checkManifest checks the manifest line (line number at) against the
// verified content; digest is that of the bytes before it.
func (v *verifier) checkManifest(line []byte, at int, digest [32]byte) error {
	var w struct {
		Manifest string `json:"manifest"`
	}
	if err := unmarshalCanonical(line, &w); err != nil {
		return v.fail(at, -1, err, "manifest line: %v", err)
	}
	n, err := note.Open([]byte(w.Manifest), v.verifiers)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return v.fail(at, -1, fmt.Errorf("%w: %w", tlog.ErrUnknownKey, err), "the manifest is not signed by the log key")
		case errors.As(err, &invalid):
			return v.fail(at, -1, fmt.Errorf("%w: %w", tlog.ErrBadSignature, err), "the manifest's signature does not verify: it was altered")
		default:
			return v.fail(at, -1, err, "the manifest is not a signed note: %v", err)
		}
	}
	key := keyOf(n.Sigs, v.h.Origin)
	if key == "" {
		return v.fail(at, -1, tlog.ErrUnknownKey, "the manifest is not signed by a key of log %q", v.h.Origin)
	}
	got, err := parseManifestText(n.Text)
	if err != nil {
		return v.fail(at, -1, err, "manifest: %v", err)
	}
	m := &v.want
	m.CompleteToCheckpoint = !m.After
	m.Digest = digest
	if d := got.diff(m); d != "" {
		return v.fail(at, -1, nil, "the signed manifest does not describe this bundle: %s", d)
	}
	v.rep.Manifest = got
	v.rep.ManifestKey = key
	return nil
}
