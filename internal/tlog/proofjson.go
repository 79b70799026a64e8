package tlog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// InclusionProof is the body of GET /proof/inclusion:
//
//	{"index":I,"size":N,"leaf_hash":B64,"hashes":[B64,…]}
//
// Hashes are 32 bytes in standard base64 with padding; Hashes is the audit
// path in RFC 6962 order (from the leaf's sibling up) and is [] when empty.
type InclusionProof struct {
	Index    uint64
	Size     uint64
	LeafHash [32]byte
	Hashes   [][32]byte
}

// Verify checks the proof against the root hash of the tree of size p.Size
// (taken from a verified checkpoint). See VerifyInclusion.
func (p InclusionProof) Verify(root [32]byte) error {
	return VerifyInclusion(p.LeafHash, p.Index, p.Size, p.Hashes, root)
}

// MarshalJSON writes the wire form, fields in the documented order.
func (p InclusionProof) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 80+48*len(p.Hashes))
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, p.Index, 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendUint(b, p.Size, 10)
	b = append(b, `,"leaf_hash":`...)
	b = appendHash(b, p.LeafHash)
	b = append(b, `,"hashes":`...)
	b = appendHashes(b, p.Hashes)
	return append(b, '}'), nil
}

// UnmarshalJSON decodes the wire form strictly: every field present exactly
// once with its exact (case-sensitive) name, no other field, no null,
// integers only, canonical base64 of exactly 32 bytes. Errors wrap
// ErrMalformed.
func (p *InclusionProof) UnmarshalJSON(data []byte) error {
	var (
		out    InclusionProof
		leaf   string
		hashes []string
	)
	err := decodeObject(data, []field{
		{"index", &out.Index},
		{"size", &out.Size},
		{"leaf_hash", &leaf},
		{"hashes", &hashes},
	})
	if err != nil {
		return fmt.Errorf("inclusion proof: %w", err)
	}
	if out.LeafHash, err = decodeHash(leaf); err != nil {
		return fmt.Errorf("inclusion proof: %w: leaf_hash: %v", ErrMalformed, err)
	}
	if out.Hashes, err = decodeHashes(hashes); err != nil {
		return fmt.Errorf("inclusion proof: %w", err)
	}
	*p = out
	return nil
}

// ConsistencyProof is the body of GET /proof/consistency:
//
//	{"from":M,"to":N,"hashes":[B64,…]}
//
// Hashes are in RFC 6962 order and [] when empty.
type ConsistencyProof struct {
	From   uint64
	To     uint64
	Hashes [][32]byte
}

// Verify checks the proof against the root hashes of the trees of sizes
// p.From and p.To (taken from verified checkpoints). See VerifyConsistency.
func (p ConsistencyProof) Verify(fromRoot, toRoot [32]byte) error {
	return VerifyConsistency(p.From, p.To, p.Hashes, fromRoot, toRoot)
}

// MarshalJSON writes the wire form, fields in the documented order.
func (p ConsistencyProof) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 40+48*len(p.Hashes))
	b = append(b, `{"from":`...)
	b = strconv.AppendUint(b, p.From, 10)
	b = append(b, `,"to":`...)
	b = strconv.AppendUint(b, p.To, 10)
	b = append(b, `,"hashes":`...)
	b = appendHashes(b, p.Hashes)
	return append(b, '}'), nil
}

// UnmarshalJSON decodes the wire form as strictly as
// InclusionProof.UnmarshalJSON. Errors wrap ErrMalformed.
func (p *ConsistencyProof) UnmarshalJSON(data []byte) error {
	var (
		out    ConsistencyProof
		hashes []string
	)
	err := decodeObject(data, []field{
		{"from", &out.From},
		{"to", &out.To},
		{"hashes", &hashes},
	})
	if err != nil {
		return fmt.Errorf("consistency proof: %w", err)
	}
	if out.Hashes, err = decodeHashes(hashes); err != nil {
		return fmt.Errorf("consistency proof: %w", err)
	}
	*p = out
	return nil
}

func appendHash(b []byte, h [32]byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, h[:])
	return append(b, '"')
}

func appendHashes(b []byte, hs [][32]byte) []byte {
	b = append(b, '[')
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHash(b, h)
	}
	return append(b, ']')
}

func decodeHashes(ss []string) ([][32]byte, error) {
	out := make([][32]byte, len(ss))
	for i, s := range ss {
		h, err := decodeHash(s)
		if err != nil {
			return nil, fmt.Errorf("%w: hashes[%d]: %v", ErrMalformed, i, err)
		}
		out[i] = h
	}
	return out, nil
}

// field is one required member of a strictly decoded JSON object.
type field struct {
	name string
	dst  any // pointer passed to json.Unmarshal
}

// decodeObject decodes data, which must be exactly one JSON object whose
// members are exactly fields (each once, names compared case-sensitively,
// none null). encoding/json alone would accept unknown-case names,
// duplicates and nulls.
func decodeObject(data []byte, fields []field) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: want a JSON object", ErrMalformed)
	}
	seen := make([]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		name, _ := tok.(string) // object keys are always strings
		i := -1
		for j, f := range fields {
			if f.name == name {
				i = j
				break
			}
		}
		if i < 0 {
			return fmt.Errorf("%w: unknown field %q", ErrMalformed, truncate(name))
		}
		if seen[i] {
			return fmt.Errorf("%w: duplicate field %q", ErrMalformed, name)
		}
		seen[i] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%w: field %q: %v", ErrMalformed, name, err)
		}
		if bytes.Equal(raw, []byte("null")) {
			return fmt.Errorf("%w: field %q is null", ErrMalformed, name)
		}
		if err := json.Unmarshal(raw, fields[i].dst); err != nil {
			return fmt.Errorf("%w: field %q: %v", ErrMalformed, name, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for i, f := range fields {
		if !seen[i] {
			return fmt.Errorf("%w: missing field %q", ErrMalformed, f.name)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	return nil
}
