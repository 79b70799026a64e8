package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/tlog"
)

// checkReceipt verifies a receipt the way a client holding only the log
// key would: the checkpoint note, then (with a proof) the inclusion of
// leaf_hash at log_index in the checkpoint's tree, and that leaf_hash is
// the hash of the stored line.
func checkReceipt(t *testing.T, e *env, keys *tlog.Keyring, rc tlog.Receipt, wantProof bool) {
	t.Helper()
	v, err := note.NewVerifier(keys.VerifierKeys()[0])
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.ParseCheckpoint([]byte(rc.Checkpoint), note.VerifierList(v), keys.Origin())
	if err != nil {
		t.Fatalf("receipt checkpoint does not verify: %v", err)
	}
	if cp.Size != rc.CheckpointSize {
		t.Fatalf("checkpoint_size %d, the note says %d", rc.CheckpointSize, cp.Size)
	}
	if cp.Size <= rc.LogIndex {
		t.Fatalf("checkpoint of size %d does not cover log index %d", cp.Size, rc.LogIndex)
	}
	if rc.Op != "ledger.append" || !strings.HasPrefix(rc.JTI, "r_") || len(rc.JTI) != 28 || rc.KID != keys.Keys()[len(keys.Keys())-1].ID() || rc.TS == "" {
		t.Fatalf("receipt fields: %+v", rc)
	}
	_, line := e.getOK(fmt.Sprintf("/spans/%s?tenant=%s", rc.SpanID, rc.Tenant), "application/json")
	leaf := sha256.Sum256(append([]byte{0}, line...))
	if got := base64.StdEncoding.EncodeToString(leaf[:]); got != rc.LeafHash {
		t.Fatalf("leaf_hash %s, want %s (of the stored line)", rc.LeafHash, got)
	}
	if !wantProof {
		if rc.Inclusion != nil {
			t.Fatal("inclusion proof without ?proof=1")
		}
		return
	}
	var p tlog.InclusionProof
	if err := p.UnmarshalJSON(rc.Inclusion); err != nil {
		t.Fatalf("inclusion: %v", err)
	}
	if p.Index != rc.LogIndex || p.Size != cp.Size || p.LeafHash != leaf {
		t.Fatalf("inclusion proof is for %d/%d, want %d/%d", p.Index, p.Size, rc.LogIndex, cp.Size)
	}
	if err := p.Verify(cp.Root); err != nil {
		t.Fatalf("inclusion proof does not verify against the checkpoint: %v", err)
	}
}

func TestReceipts(t *testing.T) {
	for _, proof := range []bool{false, true} {
		t.Run(fmt.Sprint("proof=", proof), func(t *testing.T) {
			e, keys := newProofEnv(t, true)
			q := ""
			if proof {
				q = "?proof=1"
			}
			// Single span: 201, then 200 for the duplicate; both with receipts.
			for _, want := range []int{http.StatusCreated, http.StatusOK} {
				resp, body := e.postJSON("/ingest"+q, spanJSON(map[string]any{"id": "r1"}), nil)
				if resp.StatusCode != want {
					t.Fatalf("got %d, want %d: %s", resp.StatusCode, want, body)
				}
				var res struct{ Receipt tlog.Receipt }
				if err := json.Unmarshal(body, &res); err != nil {
					t.Fatal(err)
				}
				checkReceipt(t, e, keys, res.Receipt, proof)
			}
			// NDJSON: every accepted line has its own receipt.
			var nd bytes.Buffer
			for i := range 5 {
				nd.WriteString(spanJSON(map[string]any{"id": fmt.Sprintf("n%d", i)}) + "\n")
			}
			resp, body := e.do(http.MethodPost, "/ingest"+q, "application/x-ndjson", &nd, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("NDJSON: %d %s", resp.StatusCode, body)
			}
			lines := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
			notes := map[uint64]string{} // each note is sent once, then named by size
			for i, l := range lines[:len(lines)-1] {
				var res struct{ Receipt tlog.Receipt }
				if err := json.Unmarshal(l, &res); err != nil {
					t.Fatal(err)
				}
				rc := res.Receipt
				if rc.Checkpoint != "" {
					if _, again := notes[rc.CheckpointSize]; again {
						t.Fatalf("line %d repeats the note of checkpoint %d", i+1, rc.CheckpointSize)
					}
					notes[rc.CheckpointSize] = rc.Checkpoint
				} else if rc.Checkpoint = notes[rc.CheckpointSize]; rc.Checkpoint == "" {
					t.Fatalf("line %d names checkpoint %d, which no earlier line carried", i+1, rc.CheckpointSize)
				}
				checkReceipt(t, e, keys, rc, proof)
			}
		})
	}
}

func TestReceiptsNeedASigner(t *testing.T) {
	e, _ := newProofEnv(t, false)
	resp, body := e.postJSON("/ingest", spanJSON(map[string]any{"id": "u1"}), nil)
	if resp.StatusCode != http.StatusCreated || bytes.Contains(body, []byte(`"receipt"`)) {
		t.Fatalf("got %d %s, want 201 without a receipt", resp.StatusCode, body)
	}
	if resp, body := e.postJSON("/ingest?proof=maybe", spanJSON(map[string]any{"id": "u2"}), nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad proof parameter: got %d %s, want 400", resp.StatusCode, body)
	}
}

func TestReceiptJTI(t *testing.T) {
	a := receiptJTI([32]byte{1}, 5)
	if a != receiptJTI([32]byte{1}, 5) || a == receiptJTI([32]byte{1}, 6) || a == receiptJTI([32]byte{2}, 5) {
		t.Fatalf("jti must be a function of (leaf, size): %s", a)
	}
}

// TestReceiptJTIGolden pins the jti derivation: receipts already handed
// out name their jti, so it must never change. The value is
// "r_" + lower(base32(SHA-256("logline receipt\x00" ‖ leaf ‖ "5")))[:26].
func TestReceiptJTIGolden(t *testing.T) {
	h := sha256.Sum256(append(append([]byte("logline receipt\x00"), make([]byte, 32)...), '5'))
	want := "r_" + strings.ToLower(base32.StdEncoding.EncodeToString(h[:]))[:26]
	if got := receiptJTI([32]byte{}, 5); got != want {
		t.Errorf("receiptJTI = %s, want %s", got, want)
	}
}
