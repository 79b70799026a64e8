package cli

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/logline/logline/internal/checkpointlog"
	"github.com/logline/logline/internal/tlog"
)

// checkpointCheck is what verify --data found about the signed tree heads
// kept beside the ledger: the checkpoint archive (data/checkpoints) and
// the guard's record of the last tree signed (data/keys/last-signed.json).
type checkpointCheck struct {
	Checked  bool   `json:"checked"`
	Note     string `json:"note,omitempty"` // why not checked, or a warning
	Archived int    `json:"archived"`       // archived checkpoints, all signature-checked
	MinSize  uint64 `json:"min_size,omitempty"`
	MaxSize  uint64 `json:"max_size,omitempty"`
	Guard    bool   `json:"guard"` // last-signed.json was present and checked
	Torn     string `json:"torn,omitempty"`
}

// print writes what c found, its first line labelled label.
func (c *checkpointCheck) print(w io.Writer, label string) {
	switch {
	case !c.Checked:
		fmt.Fprintf(w, "%-11s not checked: %s\n", label, c.Note)
	case c.Archived > 0:
		fmt.Fprintf(w, "%-11s %d archived (sizes %d..%d): signatures and roots match\n", label, c.Archived, c.MinSize, c.MaxSize)
	default:
		fmt.Fprintf(w, "%-11s %s\n", label, c.Note)
	}
	if c.Guard {
		fmt.Fprintf(w, "            the last-signed record matches\n")
	}
	if c.Torn != "" {
		fmt.Fprintf(w, "warning     checkpoint archive: %s\n", c.Torn)
	}
}

// signedHead is one tree head the log is known to have signed.
type signedHead struct {
	size uint64
	root [32]byte
	from string // where it was found, for messages
}

// loadSignedHeads reads and signature-checks the archived checkpoints and
// the guard record of data dir. A problem with them (a bad signature, a
// malformed archive) is a verifyProblem, not an I/O error.
func loadSignedHeads(dir string) ([]signedHead, checkpointCheck, *verifyProblem, error) {
	var cc checkpointCheck
	keysDir := filepath.Join(dir, keysDirName)
	origin, _, verifiers, err := tlog.ReadVerifiers(keysDir)
	if errors.Is(err, fs.ErrNotExist) {
		cc.Note = "no log keys in " + keysDir + ": checkpoints not checked"
		return nil, cc, nil, nil
	}
	if err != nil {
		return nil, cc, &verifyProblem{Kind: "checkpoint", File: filepath.Join(keysDir, tlog.KeysFile), Reason: err.Error()}, nil
	}
	var heads []signedHead
	var bad *verifyProblem
	rep, err := checkpointlog.Read(filepath.Join(dir, checkpointsDirName), func(r checkpointlog.Record) error {
		at := fmt.Sprintf("%s:%d", r.File, r.Line)
		c, err := tlog.ParseCheckpoint(r.Note, verifiers, origin)
		if err != nil {
			bad = &verifyProblem{Kind: "checkpoint", File: at, Reason: fmt.Sprintf("archived checkpoint does not verify with the log's keys: %v", err)}
			return errStop
		}
		if c.Size != r.Size {
			bad = &verifyProblem{Kind: "checkpoint", File: at, Reason: fmt.Sprintf("archive line says size %d, its checkpoint says %d", r.Size, c.Size)}
			return errStop
		}
		heads = append(heads, signedHead{c.Size, c.Root, "checkpoint " + at})
		return nil
	})
	switch {
	case bad != nil:
		return nil, cc, bad, nil
	case errors.Is(err, checkpointlog.ErrMalformed):
		return nil, cc, &verifyProblem{Kind: "checkpoint", Reason: err.Error()}, nil
	case err != nil:
		return nil, cc, nil, err
	}
	cc.Checked, cc.Archived, cc.Torn = true, len(heads), rep.Torn
	if len(heads) > 0 {
		cc.MinSize = slices.MinFunc(heads, func(a, b signedHead) int { return cmp.Compare(a.size, b.size) }).size
		cc.MaxSize = slices.MaxFunc(heads, func(a, b signedHead) int { return cmp.Compare(a.size, b.size) }).size
	} else {
		cc.Note = "no archived checkpoints (a ledger written before the archive existed, or never served)"
	}
	guard, err := tlog.OpenGuard(keysDir, origin)
	if err != nil {
		return nil, cc, &verifyProblem{Kind: "checkpoint", File: filepath.Join(keysDir, tlog.GuardFile), Reason: err.Error()}, nil
	}
	if size, root, ok := guard.Last(); ok {
		cc.Guard = true
		heads = append(heads, signedHead{size, root, "the last-signed record " + filepath.Join(keysDir, tlog.GuardFile)})
	}
	return heads, cc, nil, nil
}

// errStop ends a callback walk early; the caller has the reason.
var errStop = errors.New("stop")

// treeSizes lists the sizes of heads, for segment.VerifyOptions.
func treeSizes(heads []signedHead) []uint64 {
	out := make([]uint64, len(heads))
	for i, h := range heads {
		out[i] = h.size
	}
	return out
}

// headsProblem is the problem with the signed heads: the one loading them
// found, else the first that contradicts the roots the ledger gives.
func headsProblem(loaded *verifyProblem, heads []signedHead, entries uint64, roots map[uint64][32]byte) *verifyProblem {
	if loaded != nil {
		return loaded
	}
	return checkSignedHeads(heads, entries, roots)
}

// checkSignedHeads compares every signed head with the roots the segments
// give. A head larger than the log means acknowledged entries are gone; a
// root that differs means the history was rewritten. The problem names
// where the damage lies: the first missing log index, or the range of log
// indexes between the largest matching head below and the bad one.
func checkSignedHeads(heads []signedHead, entries uint64, roots map[uint64][32]byte) *verifyProblem {
	sorted := slices.SortedFunc(slices.Values(heads), func(a, b signedHead) int { return cmp.Compare(a.size, b.size) })
	var good uint64 // largest size known to match
	for _, h := range sorted {
		if h.size > entries {
			idx := int64(entries)
			return &verifyProblem{Kind: "checkpoint", LogIndex: &idx, Reason: fmt.Sprintf(
				"%s signed a tree of %d entries, the segments hold %d: acknowledged entries from log index %d on are missing",
				h.from, h.size, entries, entries)}
		}
		root, ok := roots[h.size]
		if !ok {
			return &verifyProblem{Kind: "checkpoint", Reason: fmt.Sprintf("no root computed for size %d", h.size)}
		}
		if root != h.root {
			idx := int64(good)
			return &verifyProblem{Kind: "checkpoint", LogIndex: &idx, Reason: fmt.Sprintf(
				"%s signed root %x for %d entries, the segments give %x: the history was rewritten at a log index in [%d, %d)",
				h.from, h.root[:], h.size, root[:], good, h.size)}
		}
		good = h.size
	}
	return nil
}
