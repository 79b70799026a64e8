package segment

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// commitPrefix starts every commit line. Entry lines can never start with it:
// a span has no top-level "commit" field.
var commitPrefix = []byte(`{"commit":{"root":"`)

func isCommitLine(line []byte) bool { return bytes.HasPrefix(line, commitPrefix) }

// appendCommitLine appends the commit line for a tree of size entries with
// the given root, including the trailing newline.
func appendCommitLine(dst []byte, root []byte, size uint64) []byte {
	dst = append(dst, commitPrefix...)
	dst = hex.AppendEncode(dst, root)
	dst = append(dst, `","size":`...)
	dst = strconv.AppendUint(dst, size, 10)
	return append(dst, "}}\n"...)
}

// parseCommitLine parses a commit line without its newline. It accepts only
// the exact bytes appendCommitLine writes.
func parseCommitLine(line []byte) (root [32]byte, size uint64, err error) {
	rest, ok := bytes.CutPrefix(line, commitPrefix)
	if !ok || len(rest) < 64 {
		return root, 0, fmt.Errorf("malformed commit line")
	}
	if _, err := hex.Decode(root[:], rest[:64]); err != nil {
		return root, 0, fmt.Errorf("malformed commit root: %w", err)
	}
	rest, ok = bytes.CutPrefix(rest[64:], []byte(`","size":`))
	if !ok {
		return root, 0, fmt.Errorf("malformed commit line")
	}
	num, ok := bytes.CutSuffix(rest, []byte("}}"))
	if !ok {
		return root, 0, fmt.Errorf("malformed commit line")
	}
	size, err = strconv.ParseUint(string(num), 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != string(num) {
		return root, 0, fmt.Errorf("malformed commit size %q", num)
	}
	if !bytes.Equal(appendCommitLine(nil, root[:], size), append(append([]byte(nil), line...), '\n')) {
		return root, 0, fmt.Errorf("commit line is not canonical")
	}
	return root, size, nil
}

// leafHash is the RFC 6962 leaf hash of an entry line (without newline).
func leafHash(line []byte) []byte {
	h := sha256.New()
	h.Write([]byte{rfc6962.RFC6962LeafHashPrefix})
	h.Write(line)
	return h.Sum(nil)
}

// treeFactory builds compact ranges with RFC 6962 SHA-256 node hashing.
var treeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// rootOf returns the RFC 6962 root of a compact range starting at 0.
func rootOf(r *compact.Range) []byte {
	if r.End() == 0 {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		// A range that starts at 0 always has a root.
		panic(fmt.Sprintf("merkle root of [0,%d): %v", r.End(), err))
	}
	return root
}

func cloneRange(r *compact.Range) *compact.Range {
	hashes := r.Hashes()
	cp := make([][]byte, len(hashes))
	for i, h := range hashes {
		cp[i] = append([]byte(nil), h...)
	}
	c, err := treeFactory.NewRange(r.Begin(), r.End(), cp)
	if err != nil {
		panic(fmt.Sprintf("clone compact range: %v", err))
	}
	return c
}
