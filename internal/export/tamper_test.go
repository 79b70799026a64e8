package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/export"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// TestTamper edits a bundle with both witnesses in every way we could
// think of; each edit must fail verification with an *export.Error that
// names the line and, where one applies, the log index.
func TestTamper(t *testing.T) {
	f := corpus(t)
	cp := f.st.Checkpoint()
	tb := f.tenantEntries(t, "t_b", cp.Size)
	since, until := tb[len(tb)/3].ReceivedAt, tb[len(tb)/3+40].ReceivedAt
	good, m := f.write(t, f.options("t_b", since, until))
	if !m.Before || !m.After || m.Entries < 30 {
		t.Fatalf("fixture bundle: %+v", m)
	}
	vs := f.keys.Verifiers()
	if _, err := verify(good, vs); err != nil {
		t.Fatalf("the untouched bundle: %v", err)
	}
	base := lines(good)
	// Record r (0 = the before witness) is lines 1+2r (proof) and 2+2r
	// (entry); idx[r] is its log index.
	nrec := (len(base) - 2) / 2
	idx := make([]int64, nrec)
	for r := range nrec {
		e, err := span.ParseEntry(base[2+2*r])
		if err != nil {
			t.Fatal(err)
		}
		idx[r] = int64(e.LogIndex)
	}
	lastRec := nrec - 1 // the after witness
	manifestLine := len(base) - 1

	// A second log with the same origin but another key.
	other := newTestLog(t, t.TempDir(), 9)
	defer other.st.Close()
	other.appendJSON(t, [][]byte{[]byte(`{"id":"x","tenant":"t_b","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`)}, 1)
	foreign, _ := other.write(t, other.options("t_b", since, until))

	edit := func(fn func(ls [][]byte) [][]byte) []byte {
		ls := make([][]byte, len(base))
		for i, l := range base {
			ls[i] = bytes.Clone(l)
		}
		return join(fn(ls))
	}
	remove := func(ls [][]byte, from, n int) [][]byte { return append(ls[:from:from], ls[from+n:]...) }
	replaceIn := func(l []byte, old, new string) []byte {
		if !bytes.Contains(l, []byte(old)) {
			t.Fatalf("test case: %q not in %.80s…", old, l)
		}
		return bytes.Replace(l, []byte(old), []byte(new), 1)
	}
	// manifestNote returns the signed note of a manifest line.
	manifestNote := func(l []byte) string {
		var w struct{ Manifest string }
		if err := json.Unmarshal(l, &w); err != nil {
			t.Fatal(err)
		}
		return w.Manifest
	}
	manifestLineOf := func(signed string) []byte {
		b, _ := json.Marshal(map[string]string{"manifest": signed})
		return b
	}
	// editProof rewrites the proof of a proof line.
	editProof := func(l []byte, fn func(*tlog.InclusionProof)) []byte {
		var w map[string]json.RawMessage
		if err := json.Unmarshal(l, &w); err != nil || len(w) != 1 {
			t.Fatalf("test case: proof line %s: %v", l, err)
		}
		for role, raw := range w {
			var p tlog.InclusionProof
			if err := p.UnmarshalJSON(raw); err != nil {
				t.Fatal(err)
			}
			fn(&p)
			j, _ := p.MarshalJSON()
			return []byte(`{"` + role + `":` + string(j) + `}`)
		}
		return nil
	}
	// proofLine is a valid proof line for e.
	proofLine := func(role string, e *span.Entry) []byte {
		leaf, hashes, err := f.st.InclusionProof(context.Background(), e.LogIndex, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := tlog.InclusionProof{Index: e.LogIndex, Size: cp.Size, LeafHash: leaf, Hashes: hashes}.MarshalJSON()
		return []byte(`{"` + role + `":` + string(j) + `}`)
	}
	// otherTenant is an entry of t_a between records gap and gap+1.
	var otherTenant *span.Entry
	gap := 0
	for _, x := range f.tenantEntries(t, "t_a", cp.Size) {
		for r := 8; r < lastRec-1 && otherTenant == nil; r++ {
			if int64(x.LogIndex) > idx[r] && int64(x.LogIndex) < idx[r+1] {
				otherTenant, gap = x, r
			}
		}
	}
	if otherTenant == nil {
		t.Fatal("test case: no entry of t_a between two records")
	}

	for _, tc := range []struct {
		name   string
		data   []byte
		line   int    // the line named; -1: do not check
		index  int64  // the log index named; -1: none
		reason string // a word of the reason
	}{
		{
			name: "flip a byte in an entry",
			data: edit(func(ls [][]byte) [][]byte {
				ls[2+2*5] = replaceIn(ls[2+2*5], `"who":"R`, `"who":"S`)
				return ls
			}),
			line: 3 + 2*5, index: idx[5], reason: "altered",
		},
		{
			name: "flip a byte in an entry and fix its leaf hash",
			data: edit(func(ls [][]byte) [][]byte {
				ls[2+2*5] = replaceIn(ls[2+2*5], `"who":"R`, `"who":"S`)
				ls[1+2*5] = editProof(ls[1+2*5], func(p *tlog.InclusionProof) { p.LeafHash = tlog.LeafHash(ls[2+2*5]) })
				return ls
			}),
			line: 2 + 2*5, index: idx[5], reason: "root",
		},
		{
			name: "change a proof hash",
			data: edit(func(ls [][]byte) [][]byte {
				ls[1+2*7] = editProof(ls[1+2*7], func(p *tlog.InclusionProof) { p.Hashes[2][0] ^= 1 })
				return ls
			}),
			line: 2 + 2*7, index: idx[7], reason: "root",
		},
		{
			name: "change a proof's index",
			data: edit(func(ls [][]byte) [][]byte {
				ls[1+2*7] = editProof(ls[1+2*7], func(p *tlog.InclusionProof) { p.Index++ })
				return ls
			}),
			line: 2 + 2*7, index: idx[7] + 1, reason: "root",
		},
		{
			name: "drop a proof hash",
			data: edit(func(ls [][]byte) [][]byte {
				ls[1+2*7] = editProof(ls[1+2*7], func(p *tlog.InclusionProof) { p.Hashes = p.Hashes[1:] })
				return ls
			}),
			line: 2 + 2*7, index: idx[7], reason: "root",
		},
		{
			name: "delete a record",
			data: edit(func(ls [][]byte) [][]byte { return remove(ls, 1+2*10, 2) }),
			line: 3 + 2*10, index: idx[11], reason: "missing",
		},
		{
			name: "swap two records",
			data: edit(func(ls [][]byte) [][]byte {
				ls[1+2*10], ls[1+2*11] = ls[1+2*11], ls[1+2*10]
				ls[2+2*10], ls[2+2*11] = ls[2+2*11], ls[2+2*10]
				return ls
			}),
			line: 3 + 2*10, index: idx[11], reason: "missing",
		},
		{
			name: "repeat a record",
			data: edit(func(ls [][]byte) [][]byte {
				return append(ls[:1+2*6:1+2*6], append([][]byte{ls[1+2*5], ls[2+2*5]}, ls[1+2*6:]...)...)
			}),
			line: 3 + 2*6, index: idx[5], reason: "log order",
		},
		{
			name: "drop the before witness",
			data: edit(func(ls [][]byte) [][]byte { return remove(ls, 1, 2) }),
			line: 3, index: idx[1], reason: "genesis",
		},
		{
			name: "drop the after witness",
			data: edit(func(ls [][]byte) [][]byte { return remove(ls, 1+2*lastRec, 2) }),
			line: manifestLine - 1, index: -1, reason: "witnesses.after",
		},
		{
			name: "turn the after witness into an entry",
			data: edit(func(ls [][]byte) [][]byte {
				ls[1+2*lastRec] = replaceIn(ls[1+2*lastRec], `{"after":`, `{"entry":`)
				return ls
			}),
			line: 3 + 2*lastRec, index: idx[lastRec], reason: "outside the range",
		},
		{
			name: "a record of another tenant",
			data: edit(func(ls [][]byte) [][]byte {
				at := 1 + 2*(gap+1)
				return append(ls[:at:at], append([][]byte{proofLine("entry", otherTenant), otherTenant.Line}, ls[at:]...)...)
			}),
			line: 3 + 2*(gap+1), index: int64(otherTenant.LogIndex), reason: "tenant",
		},
		{
			name:  "change the header's tenant",
			data:  edit(func(ls [][]byte) [][]byte { ls[0] = replaceIn(ls[0], `"tenant":"t_b"`, `"tenant":"t_a"`); return ls }),
			line:  3,
			index: idx[0], reason: "tenant",
		},
		{
			name: "change the header's until",
			data: edit(func(ls [][]byte) [][]byte {
				ls[0] = replaceIn(ls[0], `"until":"`+fmtTime(until)+`"`, `"until":"`+fmtTime(until.Add(-1))+`"`)
				return ls
			}),
			line: manifestLine + 1, index: -1, reason: "until",
		},
		{
			name: "replace the checkpoint by an older signed one",
			data: edit(func(ls [][]byte) [][]byte {
				var h map[string]any
				if err := json.Unmarshal(ls[0], &h); err != nil {
					t.Fatal(err)
				}
				old, _ := json.Marshal(string(f.older.Note))
				cur, _ := json.Marshal(h["checkpoint"])
				ls[0] = replaceIn(ls[0], string(cur), string(old))
				return ls
			}),
			line: 2, index: idx[0], reason: "size",
		},
		{
			name: "change a byte of the checkpoint",
			data: edit(func(ls [][]byte) [][]byte {
				ls[0] = replaceIn(ls[0], `\n`+strconv.FormatUint(cp.Size, 10)+`\n`, `\n`+strconv.FormatUint(cp.Size+1, 10)+`\n`)
				return ls
			}),
			line:  1,
			index: -1, reason: "checkpoint",
		},
		{
			name: "edit the manifest",
			data: edit(func(ls [][]byte) [][]byte {
				n := strconv.FormatUint(m.Entries, 10)
				ls[manifestLine] = replaceIn(ls[manifestLine], `\"entries\":`+n, `\"entries\":`+n+"0")
				return ls
			}),
			line: manifestLine + 1, index: -1, reason: "signature",
		},
		{
			name: "sign the manifest with another key",
			data: edit(func(ls [][]byte) [][]byte {
				n, err := note.Open([]byte(manifestNote(ls[manifestLine])), vs)
				if err != nil {
					t.Fatal(err)
				}
				signed, err := note.Sign(&note.Note{Text: n.Text}, other.keys.Signer())
				if err != nil {
					t.Fatal(err)
				}
				ls[manifestLine] = manifestLineOf(string(signed))
				return ls
			}),
			line: manifestLine + 1, index: -1, reason: "not signed by the log key",
		},
		{
			name: "a bundle of another log key",
			data: foreign, line: 1, index: -1, reason: "checkpoint",
		},
		{
			name: "sign a checkpoint as a manifest",
			data: edit(func(ls [][]byte) [][]byte {
				ls[manifestLine] = manifestLineOf(string(cp.Note))
				return ls
			}),
			line: manifestLine + 1, index: -1, reason: "logline-export/v1",
		},
		{
			name: "truncate in the middle of a line",
			data: good[:bytes.Index(good, base[2+2*12])+10],
			line: 3 + 2*12, index: -1, reason: "cut short",
		},
		{
			name: "truncate after a proof line",
			data: edit(func(ls [][]byte) [][]byte { return ls[:2+2*12] }),
			line: 3 + 2*12, index: idx[12], reason: "cut short",
		},
		{
			name: "truncate before the manifest",
			data: edit(func(ls [][]byte) [][]byte { return ls[:manifestLine] }),
			line: manifestLine + 1, index: -1, reason: "without a manifest",
		},
		{
			name: "truncate the last newline",
			data: good[:len(good)-1],
			line: manifestLine + 1, index: -1, reason: "cut short",
		},
		{
			name: "append junk",
			data: append(bytes.Clone(good), "junk\n"...),
			line: manifestLine + 2, index: -1, reason: "after the manifest",
		},
		{
			name: "append a blank line",
			data: append(bytes.Clone(good), '\n'),
			line: manifestLine + 2, index: -1, reason: "after the manifest",
		},
		{
			name: "append a second copy",
			data: append(bytes.Clone(good), good...),
			line: manifestLine + 2, index: -1, reason: "after the manifest",
		},
		{
			name: "a record after the manifest line moved up",
			data: edit(func(ls [][]byte) [][]byte {
				ls[manifestLine], ls[manifestLine-1], ls[manifestLine-2] = ls[manifestLine-2], ls[manifestLine], ls[manifestLine-1]
				return ls
			}),
			line: manifestLine - 1, index: -1, reason: "",
		},
		{
			name: "whitespace in a proof line",
			data: edit(func(ls [][]byte) [][]byte { ls[1+2*3] = replaceIn(ls[1+2*3], `,"size"`, `, "size"`); return ls }),
			line: 2 + 2*3, index: -1, reason: "proof line",
		},
		{
			name: "whitespace in the header",
			data: edit(func(ls [][]byte) [][]byte { ls[0] = replaceIn(ls[0], `,"tenant"`, `, "tenant"`); return ls }),
			line: 1, index: -1, reason: "canonical",
		},
		{
			name:  "empty input",
			data:  nil,
			line:  0,
			index: -1, reason: "empty",
		},
		{
			name: "not a bundle",
			data: []byte("{\"id\":\"x\"}\n"),
			line: 1, index: -1, reason: "header",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if bytes.Equal(tc.data, good) {
				t.Fatal("test case: the edit changed nothing")
			}
			_, err := verify(tc.data, vs)
			if err == nil {
				t.Fatal("a tampered bundle verified")
			}
			if !errors.Is(err, export.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			var e *export.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v, want *export.Error", err, err)
			}
			if tc.line >= 0 && e.Line != tc.line {
				t.Errorf("names line %d, want %d (%v)", e.Line, tc.line, err)
			}
			if tc.index >= 0 && e.LogIndex != tc.index {
				t.Errorf("names log index %d, want %d (%v)", e.LogIndex, tc.index, err)
			}
			if tc.index < 0 && tc.line >= 0 && e.LogIndex != -1 {
				t.Errorf("names log index %d, want none (%v)", e.LogIndex, err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("reason %q does not say %q", err, tc.reason)
			}
			t.Log(err)
		})
	}
}

// TestVerifyWrongOrigin: a bundle checked against another log's name.
func TestVerifyWrongOrigin(t *testing.T) {
	f := corpus(t)
	data, _ := f.write(t, f.options("nobody", time.Time{}, time.Time{}))
	_, err := export.Verify(context.Background(), bytes.NewReader(data), f.keys.Verifiers(), export.VerifyOptions{Origin: "other.example/log"})
	if !errors.Is(err, export.ErrInvalid) || !errors.Is(err, tlog.ErrWrongOrigin) {
		t.Fatalf("got %v, want ErrInvalid and tlog.ErrWrongOrigin", err)
	}
}
