package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/logline/logline/internal/ledger/pgstore"
	"github.com/logline/logline/internal/tlog"
)

// storeVerifyResult is the JSON report of verify --store.
type storeVerifyResult struct {
	OK         bool   `json:"ok"`
	Store      string `json:"store"` // the URL, password hidden
	Origin     string `json:"origin,omitempty"`
	Entries    uint64 `json:"entries"`
	Signed     uint64 `json:"signed"`
	Tenants    int    `json:"tenants"`
	MerkleRoot string `json:"merkle_root,omitempty"`
	TreeHashes int64  `json:"tree_hashes"`
	// Checkpoints: the rows of ledger.checkpoints, each root checked, each
	// note verified with the keys registered in ledger.log_keys.
	Checkpoints *storeCheckpoints `json:"checkpoints,omitempty"`
	// Node: with --data, that node's checkpoint archive and last-signed
	// record checked against the database's roots.
	Node    *checkpointCheck `json:"node_checkpoints,omitempty"`
	Seconds float64          `json:"seconds"`
	Problem *verifyProblem   `json:"problem,omitempty"`
}

type storeCheckpoints struct {
	Rows    int    `json:"rows"`
	MinSize uint64 `json:"min_size"`
	MaxSize uint64 `json:"max_size"`
	Notes   int    `json:"notes"` // rows with a signed note, all verified
	Keys    int    `json:"keys"`  // verifier keys registered
}

// verifyStore is verify --store: pgstore.Verify, reported as verify
// --data reports. With node (--data given explicitly), the checkpoints
// that node archived are checked against the database too.
func (a *app) verifyStore(ctx context.Context, o verifyOptions, node bool) error {
	if err := checkStoreURL(o.store); err != nil {
		return err
	}
	var (
		heads     []signedHead
		cc        checkpointCheck
		cpProblem *verifyProblem
		err       error
	)
	if node {
		// Read before the snapshot is taken, so the database holds every
		// size the node signed so far.
		if heads, cc, cpProblem, err = loadSignedHeads(o.data); err != nil {
			return ioErrorf("verify %s: %w", o.data, err)
		}
	}
	progress, progressDone := a.countProgress("verify")
	start := time.Now()
	rep, err := pgstore.Verify(ctx, o.store, pgstore.VerifyOptions{Progress: progress, TreeSizes: treeSizes(heads), Notes: storeNotes})
	progressDone()
	res := storeVerifyResult{
		OK: err == nil, Store: redactURL(o.store), Origin: rep.Origin, Entries: rep.Entries, Signed: rep.Signed,
		Tenants: rep.Tenants, TreeHashes: rep.TreeHashes, Seconds: time.Since(start).Seconds(),
	}
	var ve *pgstore.VerifyError
	switch {
	case err == nil:
		res.MerkleRoot = hex.EncodeToString(rep.Root[:])
		res.Checkpoints = &storeCheckpoints{Rows: rep.Checkpoints, MinSize: rep.MinCheckpoint, MaxSize: rep.MaxCheckpoint, Notes: rep.Notes, Keys: rep.Keys}
	case errors.As(err, &ve):
		res.Problem = storeProblem(ve)
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		return pgError("verify", o.store, err)
	}
	if res.Problem == nil && node {
		res.Node = &cc
		if p := headsProblem(cpProblem, heads, rep.Entries, rep.Roots); p != nil {
			res.OK, res.Problem = false, p
		}
	}
	return a.finishVerify(o.json, res, res.OK, func() { a.printStoreVerify(res) })
}

// storeProblem is the verifyProblem of a pgstore.VerifyError.
func storeProblem(ve *pgstore.VerifyError) *verifyProblem {
	p := &verifyProblem{Kind: "corrupt", Table: ve.Table, Column: ve.Column, Reason: ve.Reason}
	if ve.Index >= 0 {
		p.LogIndex = &ve.Index
	}
	if ve.Checkpoint {
		p.Kind = "checkpoint"
		if ve.Table == "ledger.checkpoints" {
			size := ve.Size
			p.CheckpointSize = &size
		}
	}
	return p
}

// storeNotes is pgstore.VerifyOptions.Notes: a checkpoint note must be
// signed, for the log's origin, by a key registered in ledger.log_keys.
func storeNotes(origin string, keys []string) (pgstore.NoteCheck, error) {
	if len(keys) == 0 {
		return func([]byte) (uint64, [32]byte, error) {
			return 0, [32]byte{}, errors.New("no log key is registered in ledger.log_keys")
		}, nil
	}
	lk, err := tlog.ParseLogKeys([]byte(strings.Join(keys, "\n")))
	if err != nil {
		return nil, err
	}
	if origin != "" && lk.Origin != origin {
		return nil, fmt.Errorf("the registered keys are named %q, the log is %q", lk.Origin, origin)
	}
	return func(msg []byte) (uint64, [32]byte, error) {
		c, err := tlog.ParseCheckpoint(msg, lk.Verifiers, origin)
		return c.Size, c.Root, err
	}, nil
}

func (a *app) printStoreVerify(r storeVerifyResult) {
	w := a.io.Out
	if r.Origin != "" {
		fmt.Fprintf(w, "store       %s (log %s)\n", r.Store, r.Origin)
	} else {
		fmt.Fprintf(w, "store       %s\n", r.Store)
	}
	if p := r.Problem; p != nil {
		what := "a row disagrees with the entries (acknowledged data is corrupt)"
		switch {
		case p.Kind == "checkpoint" && p.Table == "":
			what = "the database contradicts a checkpoint this node signed (--data)"
		case p.Kind == "checkpoint":
			what = "a checkpoint row disagrees with the entries or its signed note"
		}
		printVerifyProblem(w, p, what)
		return
	}
	fmt.Fprintf(w, "entries     %d (%d signed) in %d tenant(s)\n", r.Entries, r.Signed, r.Tenants)
	fmt.Fprintf(w, "merkle root %s (size %d)\n", r.MerkleRoot, r.Entries)
	fmt.Fprintf(w, "tree        %d stored Merkle hashes agree with the entries\n", r.TreeHashes)
	if c := r.Checkpoints; c != nil {
		fmt.Fprintf(w, "checkpoints %d rows (sizes %d..%d): roots match; %d signed notes verify with %d registered key(s)\n", c.Rows, c.MinSize, c.MaxSize, c.Notes, c.Keys)
	}
	if c := r.Node; c != nil {
		c.print(w, "node")
	}
	fmt.Fprintf(w, "OK          every line, column, hash, signature, chain link and checkpoint holds (%.2fs)\n", r.Seconds)
}
