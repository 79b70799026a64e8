package tlog

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// MaxCheckpointSize bounds the signed note ParseCheckpoint accepts. A LogLine
// checkpoint is under 200 bytes; the bound leaves room for extension lines
// and cosignatures.
const MaxCheckpointSize = 64 << 10

// Checkpoint is a verified C2SP tlog-checkpoint.
type Checkpoint struct {
	Origin string   // first body line: the log's name, also its key name
	Size   uint64   // number of leaves in the tree
	Root   [32]byte // RFC 6962 root hash of the first Size leaves
	// Extensions holds the optional extension lines after the root hash,
	// without their newlines; nil when there are none. LogLine writes none.
	Extensions []string
	// Note is the opened signed note; Note.Sigs holds the verified
	// signatures, Note.UnverifiedSigs those by keys the caller did not know.
	Note *note.Note
}

// EmptyRoot returns the root hash of the empty tree, SHA-256 of the empty
// string (RFC 6962 §2.1). A checkpoint of size 0 must carry it.
func EmptyRoot() [32]byte { return sha256.Sum256(nil) }

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 ‖ data) of one log
// entry (for LogLine: one stored line, without its newline).
func LeafHash(data []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// checkpointBody returns the note text of a checkpoint without extensions.
func checkpointBody(origin string, size uint64, root [32]byte) string {
	return origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
}

// SignCheckpoint returns the signed note of the checkpoint (origin, size,
// root), signed by signer. The signer's key name must equal origin.
//
// SignCheckpoint does not consult a Guard: a server signs through
// Guard.Sign so that it never signs two different trees of one size.
func SignCheckpoint(signer note.Signer, origin string, size uint64, root [32]byte) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("sign checkpoint: nil signer")
	}
	if err := checkOrigin(origin); err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	if signer.Name() != origin {
		return nil, fmt.Errorf("sign checkpoint: %w: key is named %q, origin is %q", ErrWrongOrigin, signer.Name(), origin)
	}
	if size == 0 && root != EmptyRoot() {
		return nil, fmt.Errorf("sign checkpoint: %w: size 0 needs the empty-tree root", ErrMalformed)
	}
	msg, err := note.Sign(&note.Note{Text: checkpointBody(origin, size, root)}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return msg, nil
}

// ParseCheckpoint opens the signed note msg, checks that it carries a valid
// signature by one of verifiers whose key name is origin, parses the
// checkpoint body, and checks that its origin line is origin.
//
// Errors wrap ErrMalformed (not a signed note, or body not a checkpoint),
// ErrUnknownKey (no signature by a known key named origin), ErrBadSignature
// (a known key's signature does not verify: the note was altered) or
// ErrWrongOrigin (validly signed checkpoint of another log). Signatures by
// keys unknown to verifiers are ignored (kept in Note.UnverifiedSigs), so a
// witness cosignature does not break verification.
func ParseCheckpoint(msg []byte, verifiers note.Verifiers, origin string) (Checkpoint, error) {
	if len(msg) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("parse checkpoint: %w: %d bytes, limit %d", ErrMalformed, len(msg), MaxCheckpointSize)
	}
	if origin == "" {
		return Checkpoint{}, fmt.Errorf("parse checkpoint: %w: no expected origin given", ErrWrongOrigin)
	}
	n, err := note.Open(msg, verifiers)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return Checkpoint{}, fmt.Errorf("parse checkpoint: %w: %w", ErrUnknownKey, err)
		case errors.As(err, &invalid):
			return Checkpoint{}, fmt.Errorf("parse checkpoint: %w: %w", ErrBadSignature, err)
		default:
			return Checkpoint{}, fmt.Errorf("parse checkpoint: %w: %w", ErrMalformed, err)
		}
	}
	cp, err := parseBody(n.Text)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("parse checkpoint: %w", err)
	}
	cp.Note = n
	if cp.Origin != origin {
		return Checkpoint{}, fmt.Errorf("parse checkpoint: %w: got %q, want %q", ErrWrongOrigin, cp.Origin, origin)
	}
	signed := false
	for _, s := range n.Sigs {
		if s.Name == origin {
			signed = true
			break
		}
	}
	if !signed {
		return Checkpoint{}, fmt.Errorf("parse checkpoint: %w: no verified signature by a key named %q", ErrUnknownKey, origin)
	}
	return cp, nil
}

// parseBody parses the text of a checkpoint note:
//
//	<origin>\n<size, decimal>\n<root hash, standard base64>\n[<extension>\n]*
func parseBody(text string) (Checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, fmt.Errorf("%w: body does not end in a newline", ErrMalformed)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("%w: body has %d lines, want at least 3", ErrMalformed, len(lines))
	}
	var cp Checkpoint
	cp.Origin = lines[0]
	if err := checkOrigin(cp.Origin); err != nil {
		return Checkpoint{}, err
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: size line %q: %v", ErrMalformed, lines[1], err)
	}
	cp.Size = size
	root, err := decodeHash(lines[2])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: root hash line: %v", ErrMalformed, err)
	}
	cp.Root = root
	if cp.Size == 0 && cp.Root != EmptyRoot() {
		return Checkpoint{}, fmt.Errorf("%w: size 0 with a root other than the empty-tree hash", ErrMalformed)
	}
	for i, ext := range lines[3:] {
		if ext == "" {
			return Checkpoint{}, fmt.Errorf("%w: empty extension line %d", ErrMalformed, i+4)
		}
		cp.Extensions = append(cp.Extensions, ext)
	}
	return cp, nil
}

// parseDecimal parses a canonical unsigned decimal: ASCII digits only, no
// sign, no leading zero (except "0" itself), at most 2^64-1.
func parseDecimal(s string) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	return strconv.ParseUint(s, 10, 64)
}

// decodeHash decodes the canonical standard base64 (with padding) of a
// 32-byte hash. Non-canonical encodings (missing padding, stray newlines,
// non-zero trailing bits) are rejected so that each hash has one spelling.
func decodeHash(s string) ([32]byte, error) {
	var h [32]byte
	if len(s) != base64.StdEncoding.EncodedLen(len(h)) {
		return h, fmt.Errorf("hash %q: want %d base64 characters for 32 bytes", truncate(s), base64.StdEncoding.EncodedLen(len(h)))
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("hash %q: %v", truncate(s), err)
	}
	if len(b) != len(h) {
		return h, fmt.Errorf("hash %q: %d bytes, want 32", truncate(s), len(b))
	}
	copy(h[:], b)
	if base64.StdEncoding.EncodeToString(h[:]) != s {
		return h, fmt.Errorf("hash %q: not canonical base64", truncate(s))
	}
	return h, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// checkOrigin checks that origin can be both a checkpoint's first line and a
// signed-note key name: non-empty UTF-8 without spaces, '+' or control
// characters.
func checkOrigin(origin string) error {
	if origin == "" {
		return fmt.Errorf("%w: empty origin", ErrMalformed)
	}
	if !utf8.ValidString(origin) {
		return fmt.Errorf("%w: origin is not UTF-8", ErrMalformed)
	}
	for _, r := range origin {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '+' {
			return fmt.Errorf("%w: origin %q contains a space, control character or '+'", ErrMalformed, origin)
		}
	}
	return nil
}
