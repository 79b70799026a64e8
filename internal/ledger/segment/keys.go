package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Key prefixes of the index (see doc.go).
const (
	pfxState   = 'm'
	pfxChain   = 'c'
	pfxBatch   = 'b'
	pfxID      = 'i'
	pfxTenant  = 't'
	pfxThis    = 'h'
	pfxType    = 'e'
	pfxTrace   = 'r'
	pfxWhen    = 'w'
	keySep     = '/'
	escapeByte = 0x00
)

var stateKey = []byte{pfxState, keySep, 's', 't', 'a', 't', 'e'}

// appendStr appends s escaped so that the encoding is prefix-free and sorts
// like s: 0x00 becomes 0x00 0xFF, and the string ends with 0x00 0x01.
func appendStr(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == escapeByte {
			dst = append(dst, escapeByte, 0xFF)
			continue
		}
		dst = append(dst, c)
	}
	return append(dst, escapeByte, 0x01)
}

func appendU64(dst []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(dst, v) }

// appendTime encodes t as sign-flipped seconds and nanoseconds so that keys
// sort by time for every year RFC 3339 can express.
func appendTime(dst []byte, t time.Time) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(dst, uint32(t.Nanosecond()))
}

func prefix(p byte) []byte { return []byte{p, keySep} }

func idPrefix(id string) []byte { return appendStr(prefix(pfxID), id) }

func idTenantPrefix(id, tenant string) []byte { return appendStr(idPrefix(id), tenant) }

func idKey(id, tenant string, seq uint64) []byte {
	return appendU64(idTenantPrefix(id, tenant), seq)
}

func tenantPrefix(p byte, tenant string) []byte { return appendStr(prefix(p), tenant) }

func tenantValuePrefix(p byte, tenant, v string) []byte {
	return appendStr(tenantPrefix(p, tenant), v)
}

func batchKey(idx uint64) []byte { return appendU64(prefix(pfxBatch), idx) }

func chainKey(tenant string) []byte { return appendStr(prefix(pfxChain), tenant) }

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// location says where an entry line lives.
type location struct {
	seg uint32
	off int64
	n   int // line length without the newline
}

func (l location) append(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(l.seg))
	dst = binary.AppendUvarint(dst, uint64(l.off))
	return binary.AppendUvarint(dst, uint64(l.n))
}

var errBadValue = errors.New("malformed index value")

func decodeLocation(b []byte) (location, []byte, error) {
	var vals [3]uint64
	for i := range vals {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return location{}, nil, errBadValue
		}
		vals[i] = v
		b = b[n:]
	}
	if vals[0] > 1<<32-1 || vals[1] > 1<<62 || vals[2] > 1<<31 {
		return location{}, nil, errBadValue
	}
	return location{seg: uint32(vals[0]), off: int64(vals[1]), n: int(vals[2])}, b, nil
}

// idValue is the value of an i/ key.
type idValue struct {
	index uint64
	loc   location
	hash  [32]byte
}

func (v idValue) encode() []byte {
	b := binary.AppendUvarint(make([]byte, 0, 64), v.index)
	b = v.loc.append(b)
	return append(b, v.hash[:]...)
}

func decodeIDValue(b []byte) (idValue, error) {
	var v idValue
	idx, n := binary.Uvarint(b)
	if n <= 0 {
		return v, errBadValue
	}
	v.index = idx
	loc, rest, err := decodeLocation(b[n:])
	if err != nil {
		return v, err
	}
	if len(rest) != 32 {
		return v, fmt.Errorf("%w: hash of %d bytes", errBadValue, len(rest))
	}
	v.loc = loc
	copy(v.hash[:], rest)
	return v, nil
}

// lastU64 reads the big-endian uint64 that ends a key.
func lastU64(key []byte) (uint64, bool) {
	if len(key) < 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[len(key)-8:]), true
}
