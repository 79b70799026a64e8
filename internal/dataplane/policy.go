package dataplane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/span"
)

// MaxEmbeddedProgram bounds the encoded program (EncodeRecorded) a
// derivation_policy record carries: base64 makes 40,000 bytes 53,336
// characters, which leaves the record under span.DefaultMaxSpanBytes.
// A larger program is named by its hash only.
const MaxEmbeddedProgram = 40_000

// TypePolicy is the entity type of the records of the policy each
// tenant's entries are derived with. No client may write it
// (derive.Reserved), and replay trusts only records by PolicyWho.
const TypePolicy = derive.TypePolicy

// PolicyWho is the author of the data plane's own records
// (derivation_policy, derivation_shed).
const PolicyWho = "system:dataplane"

// PolicyKey is what a tenant's entries are derived with, as a
// derivation_policy record names it: the feature flags and the program.
// Two equal keys derive the same spans from the same entries.
type PolicyKey struct {
	Trajectory bool `json:"trajectory"`
	Diamond    bool `json:"diamond"`
	// Program is ProgramSHA256 of the program; "" when the tenant has
	// none.
	Program string `json:"program_sha256"`
}

// ProgramSHA256 is the hex SHA-256 of a program's encoding as recorded
// (EncodeRecorded); "" for nil.
func ProgramSHA256(p *ir.Program) string {
	if p == nil {
		return ""
	}
	sum := sha256.Sum256(EncodeRecorded(p))
	return hex.EncodeToString(sum[:])
}

// EncodeRecorded is ir.Encode of p with its source file names reduced to
// their last element. A tenant's programs are compiled from paths under
// the data directory, and where that directory is, or how --data spells
// it, is no part of what the program derives (file names only name
// positions in messages): the same program has the same hash on a
// restored copy, and for replay as for serve. A tenant's files are all
// in one directory, so the names stay distinct.
func EncodeRecorded(p *ir.Program) []byte {
	c := *p // shallow: only Files is replaced
	c.Files = make([]string, len(p.Files))
	for i, f := range p.Files {
		c.Files[i] = filepath.Base(f)
	}
	return ir.Encode(&c)
}

// notePolicy queues a derivation_policy record when the entry at index,
// of tenant, is the first one the worker applies under r's policy since
// the last record it queued for tenant (or ever: the first entry of a
// tenant with trajectories on, also after a restart from a state that
// names no record).
//
// The record is stored with the step's derived spans, before any state
// saved past index (save flushes w.records), so every saved cursor is
// covered by the records of the policies before it. If its append fails,
// failStep drops it and resets w.recorded to the saved state's: applying
// the entries again notices the change again and queues it again.
func (w *Worker) notePolicy(tenant string, index uint64, r *tenantRun) error {
	k, ok := w.recorded[tenant]
	if ok && k == r.key {
		return nil
	}
	if !ok && !r.key.Trajectory {
		// A tenant never derived for (serve's default) gets no record:
		// nothing of the data plane is in its ledger. Replay derives
		// the entries before a tenant's first record with the
		// configuration in force.
		return nil
	}
	var encoded []byte
	if r.prog != nil {
		encoded = EncodeRecorded(r.prog)
	}
	sp, err := policySpan(tenant, index, r.key, encoded, w.cfg.Store.Size(), w.cfg.Now())
	if err != nil {
		return err
	}
	w.records = append(w.records, pendingRecord{span: sp, policy: true})
	w.recorded[strings.Clone(tenant)] = r.key
	return nil
}

// policySpan is the derivation_policy record of tenant: from the entry
// at log index from on, its entries are derived with key (the program
// encoded as encoded, embedded when at most MaxEmbeddedProgram bytes).
// `logline replay --verify` derives each tenant's entries with the
// policy its records name; a record supersedes the ones stored before
// it that start at or after its from_log_index (they were written by a
// pass over those entries that a failure or a crash made the worker
// derive again).
//
// ledger_size is the ledger's size when the record was queued: a record
// queued again after the worker went back to its saved state is then
// never the same as one stored before (a duplicate would stay where the
// first copy is, before the records it must supersede). The id names
// the content, so the same record appended twice is a duplicate.
func policySpan(tenant string, from uint64, key PolicyKey, encoded []byte, size uint64, now time.Time) (*span.Span, error) {
	when := now.UTC().Format(time.RFC3339)
	sum := sha256.Sum256([]byte(tenant + "\x00" + when + "\x00" + strconv.FormatUint(from, 10) + "\x00" +
		strconv.FormatBool(key.Trajectory) + "\x00" + strconv.FormatBool(key.Diamond) + "\x00" + key.Program + "\x00" +
		strconv.FormatUint(size, 10)))
	var b strings.Builder
	b.WriteString(`{"id":"policy_` + hex.EncodeToString(sum[:16]) + `","tenant":` + strconv.Quote(tenant) +
		`,"entity_type":"` + TypePolicy + `","who":"` + PolicyWho + `","did":"policy","this":"derivation","when":"` + when +
		`","data":{"from_log_index":` + strconv.FormatUint(from, 10) +
		`,"trajectory":` + strconv.FormatBool(key.Trajectory) + `,"diamond":` + strconv.FormatBool(key.Diamond) +
		`,"program_sha256":"` + key.Program + `","ledger_size":` + strconv.FormatUint(size, 10))
	if encoded != nil && len(encoded) <= MaxEmbeddedProgram {
		b.WriteString(`,"program":"` + base64.StdEncoding.EncodeToString(encoded) + `"`)
	}
	b.WriteString(`}}`)
	sp, err := span.Decode([]byte(b.String()), span.DecodeOptions{})
	if err != nil {
		return nil, fmt.Errorf("dataplane: policy record of %s: %w", tenant, err)
	}
	return sp, nil
}

// policySuffix ends the stored line of every record of the data plane
// (who is the last member of a line in canonical order, and its records
// have no member after it): a cheap first test before parsing a line.
var policySuffix = []byte(`,"who":"` + PolicyWho + `"}`)

// IsPolicyLine reports whether a stored line may be a derivation_policy
// record of the data plane (parse it to be sure). Clients cannot write
// who system:…, so no line of theirs passes.
func IsPolicyLine(line []byte) bool {
	return bytes.HasSuffix(line, policySuffix) && bytes.Contains(line, []byte(`"entity_type":"`+TypePolicy+`"`))
}

// forgetStale forgets, after the state was loaded at the cursor, the
// policy recorded for every tenant that has a policy record stored at or
// after the cursor: a pass over those entries that no saved state
// covers wrote it (the worker then failed or crashed), and applying them
// again may be under another policy. The tenant's next entry records
// its policy again, superseding those records.
func (w *Worker) forgetStale(ctx context.Context) error {
	if len(w.recorded) == 0 {
		return nil
	}
	return w.cfg.Store.ReadRaw(ctx, w.cursor, w.cfg.Store.Size(), func(index uint64, line []byte) error {
		if !IsPolicyLine(line) {
			return nil
		}
		e, err := span.ParseEntry(bytes.Clone(line))
		if err != nil {
			return fmt.Errorf("entry %d: %w", index, err)
		}
		if e.EntityType == TypePolicy && e.Who == PolicyWho {
			delete(w.recorded, e.Tenant)
		}
		return nil
	})
}

// PolicyRecord is a stored derivation_policy record, as `logline
// replay` reads it.
type PolicyRecord struct {
	LogIndex uint64 // where it is stored
	Tenant   string
	From     uint64 // the first entry derived under it
	PolicyKey
	// Encoded is the encoded program (EncodeRecorded) the record embeds; nil
	// when it names the program by its hash only.
	Encoded []byte
}

// ReadPolicyRecord reads a stored entry as a policy record: false when
// it is no record of the data plane's (another entity type or author),
// an error when it is one whose data this build cannot read.
func ReadPolicyRecord(e *span.Entry) (PolicyRecord, bool, error) {
	if e.EntityType != TypePolicy || e.Who != PolicyWho {
		return PolicyRecord{}, false, nil
	}
	raw, _ := e.Field("data")
	var d struct {
		From *uint64 `json:"from_log_index"`
		PolicyKey
		Program *string `json:"program"`
	}
	if err := json.Unmarshal(raw, &d); err != nil || d.From == nil {
		return PolicyRecord{}, true, fmt.Errorf("policy record %s at log index %d: data without from_log_index or not an object: %v", e.ID, e.LogIndex, err)
	}
	r := PolicyRecord{LogIndex: e.LogIndex, Tenant: e.Tenant, From: *d.From, PolicyKey: d.PolicyKey}
	if d.Program != nil {
		b, err := base64.StdEncoding.DecodeString(*d.Program)
		if err != nil {
			return PolicyRecord{}, true, fmt.Errorf("policy record %s at log index %d: program: %w", e.ID, e.LogIndex, err)
		}
		r.Encoded = b
	}
	return r, true, nil
}
