package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/tlog"
)

// Receipts (v8 §16) answer every append:
//
//	"receipt":{"op":"ledger.append","span_id":ID,"tenant":T,"log_index":N,
//	           "leaf_hash":B64,"jti":"r_…","kid":KEYID,"ts":RFC3339,
//	           "checkpoint_size":S,"checkpoint":NOTE[,"inclusion":{…}]}
//
// The signature behind a receipt is the checkpoint's: one Ed25519
// signature per commit batch over the tree head that covers log_index, not
// one per span. An NDJSON answer sends each checkpoint note once, in the
// first receipt under it; later receipts name it by checkpoint_size. A client checks a receipt with the log key alone:
// verify the checkpoint note, then the inclusion proof of leaf_hash at
// log_index against its root (?proof=1 adds it; GET /proof/inclusion gives
// it later). jti is derived from (leaf_hash, checkpoint size), so the same
// receipt is always the same bytes.

const receiptOp = "ledger.append"

// jtiEncoding is lower-case base32 without padding.
var jtiEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// receiptJTI is "r_" + 26 base32 characters of SHA-256(leaf ‖ size).
func receiptJTI(leaf [32]byte, size uint64) string {
	return string(appendReceiptJTI(nil, leaf, size))
}

// appendReceiptJTI appends receiptJTI(leaf, size) to dst without
// allocating (it runs once per appended span).
func appendReceiptJTI(dst []byte, leaf [32]byte, size uint64) []byte {
	const prefix = "logline receipt\x00"
	var in [len(prefix) + 32 + 20]byte
	n := copy(in[:], prefix)
	n += copy(in[n:], leaf[:])
	n = len(strconv.AppendUint(in[:n], size, 10))
	sum := sha256.Sum256(in[:n])
	var enc [56]byte // base32 of 32 bytes is 52 characters
	jtiEncoding.Encode(enc[:], sum[:])
	dst = append(dst, "r_"...)
	return append(dst, enc[:26]...)
}

// activeKeyID is the key hash of the active log key ("name+hash+b64").
func (s *Server) activeKeyID() string {
	if s.logKeys == nil {
		return ""
	}
	keys := s.logKeys()
	if len(keys) == 0 {
		return ""
	}
	// A note name never contains "+"; the key hash is the 8 hex digits
	// after the first one (the base64 key after it may contain "+").
	_, rest, ok := strings.Cut(keys[0], "+")
	if !ok || len(rest) < 9 || rest[8] != '+' {
		return ""
	}
	return rest[:8]
}

// appendReceipt appends `,"receipt":{…}` for res. With proof it also
// carries the inclusion proof of the entry in the checkpoint's tree.
func (s *Server) appendReceipt(ctx context.Context, b []byte, res *ledger.Result, rc *receiptCtx) []byte {
	cp := res.Checkpoint
	if cp.Note == nil {
		return b // no signed checkpoint: no receipt to give
	}
	if s.receiptLog != nil {
		s.receiptLog.Add(*res, rc.kid)
	}
	if s.metrics != nil {
		s.metrics.Ledger().ReceiptIssued()
	}
	b = append(b, `,"receipt":`...)
	// The signed note: always in a single-span answer; in an NDJSON answer
	// only on the first line under each checkpoint (one signature per
	// commit batch, sent once).
	var note []byte
	if !rc.ndjson || rc.noteSent != cp.Size || rc.note == nil {
		note = rc.quotedNote(cp)
		rc.noteSent = cp.Size
	}
	b = appendReceiptFields(b, res, rc.kid, note)
	if rc.proof && s.prover != nil {
		leaf, hashes, err := s.prover.InclusionProof(ctx, res.LogIndex, cp.Size)
		if err == nil {
			p, _ := tlog.InclusionProof{Index: res.LogIndex, Size: cp.Size, LeafHash: leaf, Hashes: hashes}.MarshalJSON()
			b = append(b, `,"inclusion":`...)
			b = append(b, p...)
		} else {
			s.log.ErrorContext(ctx, "gateway: inclusion proof for a receipt", "log_index", res.LogIndex, "err", err)
		}
	}
	return append(b, '}')
}

// appendReceiptFields appends `{"op":…,"checkpoint_size":S` and, when
// quotedNote is not nil, `,"checkpoint":<quotedNote>` — without the closing
// brace.
func appendReceiptFields(b []byte, res *ledger.Result, kid string, quotedNote []byte) []byte {
	cp := res.Checkpoint
	b = append(b, `{"op":"`...)
	b = append(b, receiptOp...)
	b = append(b, `","span_id":`...)
	b = appendJSONString(b, res.ID)
	b = append(b, `,"tenant":`...)
	b = appendJSONString(b, res.Tenant)
	b = append(b, `,"log_index":`...)
	b = strconv.AppendUint(b, res.LogIndex, 10)
	b = append(b, `,"leaf_hash":"`...)
	b = base64.StdEncoding.AppendEncode(b, res.LeafHash[:])
	b = append(b, `","jti":"`...)
	b = appendReceiptJTI(b, res.LeafHash, cp.Size)
	b = append(b, `","kid":`...)
	b = appendJSONString(b, kid)
	b = append(b, `,"ts":"`...)
	b = res.ReceivedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","checkpoint_size":`...)
	b = strconv.AppendUint(b, cp.Size, 10)
	if quotedNote != nil {
		b = append(b, `,"checkpoint":`...)
		b = append(b, quotedNote...)
	}
	return b
}

// ReceiptFormatter returns a function that appends the complete receipt of
// res, with its checkpoint note, as one NDJSON line: the form kept in
// data/receipts/. The function encodes each checkpoint note once (receipts
// come in batches under one checkpoint); it is for one goroutine.
func ReceiptFormatter() func(b []byte, res ledger.Result, kid string) []byte {
	var (
		size   uint64
		quoted []byte
	)
	return func(b []byte, res ledger.Result, kid string) []byte {
		if quoted == nil || size != res.Checkpoint.Size {
			quoted = appendJSONString(quoted[:0], string(res.Checkpoint.Note))
			size = res.Checkpoint.Size
		}
		b = appendReceiptFields(b, &res, kid, quoted)
		return append(b, "}\n"...)
	}
}

// ReceiptLog keeps a copy of every receipt the gateway hands out.
type ReceiptLog interface {
	Add(res ledger.Result, kid string)
}

// quotedNote returns cp's note as a JSON string, encoded once per
// checkpoint: every line of a commit batch carries the same one.
func (rc *receiptCtx) quotedNote(cp ledger.Checkpoint) []byte {
	if rc.noteSize != cp.Size || rc.note == nil {
		rc.note = appendJSONString(rc.note[:0], string(cp.Note))
		rc.noteSize = cp.Size
	}
	return rc.note
}
