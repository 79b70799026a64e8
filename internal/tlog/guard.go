package tlog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/durable"
)

// GuardFile is the name of the Guard's state file in the key directory.
const GuardFile = "last-signed.json"

// Guard remembers the largest tree (size, root) the log has signed and
// refuses to sign anything that would contradict it: the same size with a
// different root (ErrConflict) or a smaller size (ErrRollback). Its state is
// one small file in the key directory, replaced atomically before any
// signature exists, so the refusal survives crashes and restarts.
//
// The caller's contract, in this order:
//
//  1. make the leaves of the new tree durable (fsync the segment), so that
//     a recorded (size, root) never refers to entries a crash can lose;
//  2. call Sign (or Advance, then SignCheckpoint): the state is persisted
//     before the signature is made;
//  3. only then publish the checkpoint.
//
// A crash between 2 and 3 leaves a recorded but unpublished checkpoint; on
// restart the same (size, root) is accepted again, a different root of that
// size is refused — which is the point. The state file must be kept with
// the keys (backups, restores): deleting it removes the protection.
//
// A Guard is safe for concurrent use; its methods serialise.
type Guard struct {
	path   string
	origin string

	mu   sync.Mutex
	has  bool     // guarded by mu; false until the first Advance
	size uint64   // guarded by mu
	root [32]byte // guarded by mu
}

// guardState is the JSON form of the state file.
type guardState struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   string `json:"root"`
}

// OpenGuard loads the Guard of the log named origin from dir (normally the
// key directory, which must exist). A missing state file means nothing was
// signed yet. A state file of another origin fails with ErrWrongOrigin, an
// unreadable one with ErrCorruptKeys.
func OpenGuard(dir, origin string) (*Guard, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, fmt.Errorf("open guard: %w", err)
	}
	g := &Guard{path: filepath.Join(dir, GuardFile), origin: origin}
	data, err := os.ReadFile(g.path)
	if errors.Is(err, fs.ErrNotExist) {
		return g, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open guard: %w", err)
	}
	var st guardState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("open guard: %w: %s: %v", ErrCorruptKeys, g.path, err)
	}
	if st.Origin != origin {
		return nil, fmt.Errorf("open guard: %w: %s belongs to %q, not %q", ErrWrongOrigin, g.path, st.Origin, origin)
	}
	root, err := decodeHash(st.Root)
	if err != nil {
		return nil, fmt.Errorf("open guard: %w: %s: %v", ErrCorruptKeys, g.path, err)
	}
	g.has, g.size, g.root = true, st.Size, root
	return g, nil
}

// Last returns the last recorded tree; ok is false if none was recorded.
func (g *Guard) Last() (size uint64, root [32]byte, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.size, g.root, g.has
}

// Check reports whether (size, root) may be signed, without recording it:
// nil, or an error wrapping ErrConflict or ErrRollback.
func (g *Guard) Check(size uint64, root [32]byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, err := g.checkLocked(size, root)
	return err
}

// Advance records (size, root) as signed, durably, unless Check refuses it.
// Recording the last recorded tree again is a no-op. A larger tree is
// accepted on the caller's word that it extends the last one; use
// AdvanceConsistent to have that proven.
func (g *Guard) Advance(size uint64, root [32]byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.advanceLocked(size, root, nil)
}

// AdvanceConsistent is Advance with proof: proof must be a consistency proof
// from the last recorded tree to (size, root), else the error wraps
// ErrConflict (and ErrInvalidProof). Without a recorded tree the proof is
// not needed and must be empty.
func (g *Guard) AdvanceConsistent(size uint64, root [32]byte, proof [][32]byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if proof == nil {
		proof = [][32]byte{}
	}
	return g.advanceLocked(size, root, proof)
}

// Sign records (size, root) with Advance and, only if that succeeded,
// returns the checkpoint signed by signer for the Guard's origin.
func (g *Guard) Sign(signer note.Signer, size uint64, root [32]byte) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if signer == nil || signer.Name() != g.origin {
		return nil, fmt.Errorf("guarded sign: %w: signer is not a key of %q", ErrWrongOrigin, g.origin)
	}
	if size == 0 && root != EmptyRoot() {
		return nil, fmt.Errorf("guarded sign: %w: size 0 needs the empty-tree root", ErrMalformed)
	}
	if err := g.advanceLocked(size, root, nil); err != nil {
		return nil, err
	}
	return SignCheckpoint(signer, g.origin, size, root)
}

// checkLocked returns whether (size, root) is new (needs recording), or the
// refusal. g.mu must be held.
func (g *Guard) checkLocked(size uint64, root [32]byte) (bool, error) {
	if !g.has {
		return true, nil
	}
	switch {
	case size < g.size:
		return false, fmt.Errorf("guard: %w: size %d after size %d", ErrRollback, size, g.size)
	case size == g.size && root != g.root:
		return false, fmt.Errorf("guard: %w: size %d already signed with root %s, refusing root %s",
			ErrConflict, size, base64.StdEncoding.EncodeToString(g.root[:]), base64.StdEncoding.EncodeToString(root[:]))
	case size == g.size:
		return false, nil
	}
	return true, nil
}

// advanceLocked checks (size, root), verifies proof against the recorded
// tree when proof is non-nil, and persists the new state. g.mu must be held.
func (g *Guard) advanceLocked(size uint64, root [32]byte, proof [][32]byte) error {
	fresh, err := g.checkLocked(size, root)
	if err != nil || !fresh {
		return err
	}
	if proof != nil {
		oldSize, oldRoot := uint64(0), EmptyRoot()
		if g.has {
			oldSize, oldRoot = g.size, g.root
		}
		if err := VerifyConsistency(oldSize, size, proof, oldRoot, root); err != nil {
			return fmt.Errorf("guard: %w: tree %d does not extend the signed tree %d: %w", ErrConflict, size, oldSize, err)
		}
	}
	data, err := json.Marshal(guardState{Origin: g.origin, Size: size, Root: base64.StdEncoding.EncodeToString(root[:])})
	if err != nil {
		return err
	}
	if err := durable.WriteFile(g.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("guard: %w", err)
	}
	g.has, g.size, g.root = true, size, root
	return nil
}
