package export

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/logline/logline/internal/span"
)

// Version is the bundle format version, the header's logline_export.
const Version = 1

// manifestTitle is the first line of a manifest note's text: domain
// separation from checkpoints, which are signed with the same key. (Even a
// log whose origin were this string could not confuse the two: a
// checkpoint's second line is a decimal, a manifest's a JSON object.)
const manifestTitle = "logline-export/v1"

// Manifest is what the signed manifest of a bundle states.
type Manifest struct {
	Origin string
	Tenant string
	Since  time.Time // zero: the range starts at the tenant's first entry
	Until  time.Time // zero: the range ends at the checkpoint

	CheckpointSize uint64
	CheckpointRoot [32]byte

	Entries    uint64 // records with role entry
	FirstIndex uint64 // log index of the first entry; meaningful when Entries > 0
	LastIndex  uint64 // log index of the last entry; meaningful when Entries > 0

	// PrevHash is the tenant's chain head before the range: the first
	// entry's prev_hash (zero: the range starts at the tenant's genesis).
	PrevHash span.Hash
	// Head is the chain head at the end of the range: the last entry's
	// curr_hash (PrevHash when the range is empty).
	Head span.Hash

	Before bool // a before witness is in the bundle
	After  bool // an after witness is in the bundle
	// CompleteToCheckpoint says the tenant has no entry after the range
	// below log index CheckpointSize (there is no after witness). It is
	// attested by the signature, not proven.
	CompleteToCheckpoint bool

	// Digest is the SHA-256 of every byte of the bundle before the
	// manifest line.
	Digest [32]byte
}

// header is the bundle's first line. Field order is the wire order.
type header struct {
	Version    int     `json:"logline_export"`
	Origin     string  `json:"origin"`
	Tenant     string  `json:"tenant"`
	Since      *string `json:"since"`
	Until      *string `json:"until"`
	Checkpoint string  `json:"checkpoint"`
}

// manifestJSON is the JSON line of a manifest note. Field order is the
// wire order.
type manifestJSON struct {
	Origin     string  `json:"origin"`
	Tenant     string  `json:"tenant"`
	Since      *string `json:"since"`
	Until      *string `json:"until"`
	Checkpoint struct {
		Size uint64 `json:"size"`
		Root string `json:"root"`
	} `json:"checkpoint"`
	Entries    uint64  `json:"entries"`
	FirstIndex *uint64 `json:"first_index"`
	LastIndex  *uint64 `json:"last_index"`
	PrevHash   string  `json:"prev_hash"`
	Head       string  `json:"head"`
	Witnesses  struct {
		Before bool `json:"before"`
		After  bool `json:"after"`
	} `json:"witnesses"`
	CompleteToCheckpoint bool   `json:"complete_to_checkpoint"`
	Digest               string `json:"digest"`
}

// formatTime is the one spelling of a range bound: UTC, RFC 3339 with
// nanoseconds, trailing zeros trimmed. nil for the zero time.
func formatTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// parseTime parses a range bound written by formatTime (nil: zero) and
// refuses any other spelling, so that each instant has one encoding.
func parseTime(s *string) (time.Time, error) {
	if s == nil {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", *s)
	}
	if t.IsZero() {
		return time.Time{}, fmt.Errorf("%q is the zero time (write null)", *s)
	}
	if *formatTime(t) != *s {
		return time.Time{}, fmt.Errorf("%q is not in canonical form (UTC, trailing zeros trimmed: %s)", *s, *formatTime(t))
	}
	return t, nil
}

// marshalLine encodes v as one JSON line (with its newline).
func marshalLine(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen: strings, integers and booleans only
		panic("export: " + err.Error())
	}
	return append(b, '\n')
}

// unmarshalCanonical decodes line (without its newline) into v and checks
// that it is exactly the encoding marshalLine gives v: one spelling per
// value, no unknown or repeated member, no whitespace.
func unmarshalCanonical(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if again := marshalLine(v); !bytes.Equal(again[:len(again)-1], line) {
		return errors.New("not in canonical form (members in the documented order, no whitespace, no repeated member)")
	}
	return nil
}

func (m *Manifest) toJSON() manifestJSON {
	var j manifestJSON
	j.Origin, j.Tenant = m.Origin, m.Tenant
	j.Since, j.Until = formatTime(m.Since), formatTime(m.Until)
	j.Checkpoint.Size = m.CheckpointSize
	j.Checkpoint.Root = base64.StdEncoding.EncodeToString(m.CheckpointRoot[:])
	j.Entries = m.Entries
	if m.Entries > 0 {
		first, last := m.FirstIndex, m.LastIndex
		j.FirstIndex, j.LastIndex = &first, &last
	}
	j.PrevHash, j.Head = m.PrevHash.String(), m.Head.String()
	j.Witnesses.Before, j.Witnesses.After = m.Before, m.After
	j.CompleteToCheckpoint = m.CompleteToCheckpoint
	j.Digest = hex.EncodeToString(m.Digest[:])
	return j
}

// noteText is the text the manifest note signs.
func (m *Manifest) noteText() string {
	j := m.toJSON()
	return manifestTitle + "\n" + string(marshalLine(&j))
}

// parseManifestText parses the text of a manifest note.
func parseManifestText(text string) (Manifest, error) {
	body, ok := strings.CutPrefix(text, manifestTitle+"\n")
	if !ok {
		return Manifest{}, fmt.Errorf("the note's first line is not %q", manifestTitle)
	}
	line, ok := strings.CutSuffix(body, "\n")
	if !ok || strings.Contains(line, "\n") {
		return Manifest{}, errors.New("the note's text is not the title and one JSON line")
	}
	var j manifestJSON
	if err := unmarshalCanonical([]byte(line), &j); err != nil {
		return Manifest{}, fmt.Errorf("manifest JSON: %v", err)
	}
	m := Manifest{Origin: j.Origin, Tenant: j.Tenant, CheckpointSize: j.Checkpoint.Size, Entries: j.Entries,
		Before: j.Witnesses.Before, After: j.Witnesses.After, CompleteToCheckpoint: j.CompleteToCheckpoint}
	var err error
	if m.Since, err = parseTime(j.Since); err != nil {
		return Manifest{}, fmt.Errorf("manifest since: %v", err)
	}
	if m.Until, err = parseTime(j.Until); err != nil {
		return Manifest{}, fmt.Errorf("manifest until: %v", err)
	}
	root, err := base64.StdEncoding.Strict().DecodeString(j.Checkpoint.Root)
	if err != nil || len(root) != 32 {
		return Manifest{}, errors.New("manifest checkpoint root: not the base64 of 32 bytes")
	}
	m.CheckpointRoot = [32]byte(root)
	if (j.FirstIndex == nil) != (m.Entries == 0) || (j.LastIndex == nil) != (m.Entries == 0) {
		return Manifest{}, errors.New("manifest: first_index and last_index must be null exactly when entries is 0")
	}
	if m.Entries > 0 {
		m.FirstIndex, m.LastIndex = *j.FirstIndex, *j.LastIndex
	}
	if m.PrevHash, err = span.ParseHash(j.PrevHash); err != nil {
		return Manifest{}, fmt.Errorf("manifest prev_hash: %v", err)
	}
	if m.Head, err = span.ParseHash(j.Head); err != nil {
		return Manifest{}, fmt.Errorf("manifest head: %v", err)
	}
	d, err := span.ParseHash(j.Digest)
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest digest: %v", err)
	}
	m.Digest = d
	return m, nil
}

// diff names the first field in which m and want differ, "" when none.
func (m *Manifest) diff(want *Manifest) string {
	got, exp := m.toJSON(), want.toJSON()
	str := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	idx := func(p *uint64) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprint(*p)
	}
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"origin", got.Origin, exp.Origin},
		{"tenant", got.Tenant, exp.Tenant},
		{"since", str(got.Since), str(exp.Since)},
		{"until", str(got.Until), str(exp.Until)},
		{"checkpoint.size", got.Checkpoint.Size, exp.Checkpoint.Size},
		{"checkpoint.root", got.Checkpoint.Root, exp.Checkpoint.Root},
		{"entries", got.Entries, exp.Entries},
		{"first_index", idx(got.FirstIndex), idx(exp.FirstIndex)},
		{"last_index", idx(got.LastIndex), idx(exp.LastIndex)},
		{"prev_hash", got.PrevHash, exp.PrevHash},
		{"head", got.Head, exp.Head},
		{"witnesses.before", got.Witnesses.Before, exp.Witnesses.Before},
		{"witnesses.after", got.Witnesses.After, exp.Witnesses.After},
		{"complete_to_checkpoint", got.CompleteToCheckpoint, exp.CompleteToCheckpoint},
		{"digest", got.Digest, exp.Digest},
	} {
		if f.got != f.want {
			return fmt.Sprintf("%s is %v, the bundle gives %v", f.name, f.got, f.want)
		}
	}
	return ""
}
