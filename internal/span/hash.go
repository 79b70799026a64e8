package span

import (
	"encoding/hex"
	"fmt"

	"github.com/zeebo/blake3"
)

// contentHash is curr_hash: BLAKE3-256 of the JCS object of the hashed
// members.
func contentHash(canonical []byte) Hash {
	return blake3.Sum256(canonical)
}

// String returns the hash as 64 lowercase hex digits, its wire form.
func (h Hash) String() string {
	return hex.EncodeToString(h[:])
}

// AppendHex appends the wire form of h to dst.
func (h Hash) AppendHex(dst []byte) []byte {
	return hex.AppendEncode(dst, h[:])
}

// ParseHash parses the wire form of a hash: exactly 64 lowercase hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if !decodeLowerHex(h[:], []byte(s)) {
		return Hash{}, fmt.Errorf("parse hash %s: want %d lowercase hex digits", quote([]byte(s)), 2*len(h))
	}
	return h, nil
}

// decodeLowerHex decodes exactly 2*len(dst) lowercase hex digits.
func decodeLowerHex(dst, src []byte) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := lowerHexVal(src[2*i])
		lo, ok2 := lowerHexVal(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func lowerHexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
