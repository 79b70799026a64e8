package tlog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// Receipt is an append receipt as the ingest API answers it (docs/http-api.md,
// "Receipts"). Its signature is the checkpoint's.
type Receipt struct {
	Op             string          `json:"op"`
	SpanID         string          `json:"span_id"`
	Tenant         string          `json:"tenant"`
	LogIndex       uint64          `json:"log_index"`
	LeafHash       string          `json:"leaf_hash"`
	JTI            string          `json:"jti"`
	KID            string          `json:"kid"`
	TS             string          `json:"ts"`
	CheckpointSize uint64          `json:"checkpoint_size"`
	Checkpoint     string          `json:"checkpoint"`
	Inclusion      json.RawMessage `json:"inclusion,omitempty"`
}

// ParseReceipt reads a receipt: the receipt object itself, or an ingest
// result (a single-span answer or one NDJSON result line) that holds it
// under "receipt".
func ParseReceipt(data []byte) (Receipt, error) {
	var wrapped struct {
		Receipt *Receipt `json:"receipt"`
	}
	data = bytes.TrimSpace(data)
	if err := json.Unmarshal(data, &wrapped); err != nil {
		return Receipt{}, fmt.Errorf("%w: receipt: %v", ErrMalformed, err)
	}
	if wrapped.Receipt != nil {
		return *wrapped.Receipt, nil
	}
	var r Receipt
	if err := json.Unmarshal(data, &r); err != nil {
		return Receipt{}, fmt.Errorf("%w: receipt: %v", ErrMalformed, err)
	}
	if r.Op == "" {
		return Receipt{}, fmt.Errorf("%w: not a receipt (no op)", ErrMalformed)
	}
	return r, nil
}

// ReceiptCheck says what Verify established.
type ReceiptCheck struct {
	Checkpoint Checkpoint // verified with the log key
	Included   bool       // the inclusion proof verified against it
}

// Verify checks r with the log's verifiers: the checkpoint note (r's own,
// or checkpoint when r names it only by size) must be signed by a key of
// origin and have r's checkpoint size; the size must cover log_index; and,
// when r carries an inclusion proof, the proof must be for leaf_hash at
// log_index and verify against the checkpoint's root. A receipt without a
// proof verifies with Included false: the caller should then fetch one
// (GET /proof/inclusion) or say that inclusion was not checked.
func (r Receipt) Verify(verifiers note.Verifiers, origin string, checkpoint []byte) (ReceiptCheck, error) {
	var rc ReceiptCheck
	if r.Op != "ledger.append" {
		return rc, fmt.Errorf("%w: receipt op %q, want ledger.append", ErrMalformed, r.Op)
	}
	msg := []byte(r.Checkpoint)
	if r.Checkpoint == "" {
		if checkpoint == nil {
			return rc, fmt.Errorf("%w: the receipt names checkpoint %d but carries no note (NDJSON answers send each note once)", ErrMalformed, r.CheckpointSize)
		}
		msg = checkpoint
	}
	cp, err := ParseCheckpoint(msg, verifiers, origin)
	if err != nil {
		return rc, fmt.Errorf("receipt checkpoint: %w", err)
	}
	rc.Checkpoint = cp
	if cp.Size != r.CheckpointSize {
		return rc, fmt.Errorf("%w: the receipt says checkpoint %d, the note is of size %d", ErrMalformed, r.CheckpointSize, cp.Size)
	}
	if r.LogIndex >= cp.Size {
		return rc, fmt.Errorf("%w: log index %d is not in a tree of size %d", ErrProofRange, r.LogIndex, cp.Size)
	}
	leaf, err := base64.StdEncoding.DecodeString(r.LeafHash)
	if err != nil || len(leaf) != 32 {
		return rc, fmt.Errorf("%w: leaf_hash is not base64 of 32 bytes", ErrMalformed)
	}
	if len(r.Inclusion) == 0 {
		return rc, nil
	}
	var p InclusionProof
	if err := p.UnmarshalJSON(r.Inclusion); err != nil {
		return rc, fmt.Errorf("receipt inclusion proof: %w", err)
	}
	if p.Index != r.LogIndex || p.Size != cp.Size || !bytes.Equal(p.LeafHash[:], leaf) {
		return rc, fmt.Errorf("%w: the inclusion proof is for entry %d in %d, the receipt for %d in %d", ErrInvalidProof, p.Index, p.Size, r.LogIndex, cp.Size)
	}
	if err := p.Verify(cp.Root); err != nil {
		return rc, err
	}
	rc.Included = true
	return rc, nil
}
