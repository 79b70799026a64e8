package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Names in a backup directory (docs/backup.md).
const (
	StateFile      = "backup.json"
	KeyFile        = "log.key"
	EntriesDir     = "entries"
	CheckpointsDir = "checkpoints"
	lockFile       = ".lock"
)

// stateVersion is the backup.json format this package writes and reads.
const stateVersion = 1

// maxStateBytes bounds backup.json (a few hundred bytes per run).
const maxStateBytes = 64 << 20

// State is the content of backup.json: what the backup holds, as of its
// last completed run.
type State struct {
	Origin string   // the log's name
	Size   uint64   // entries held: log indexes [0, Size)
	Root   [32]byte // RFC 6962 Merkle root of those entries
	// Frontier is the compact range [0, Size): the roots of the perfect
	// subtrees that cover it, left to right (at most 64). An incremental
	// run extends it without reading older chunks.
	Frontier    [][32]byte
	Checkpoints []CheckpointRef // one per run that copied entries, by size
	Chunks      []Chunk         // in log order, contiguous from 0 to Size
}

// CheckpointRef names the signed checkpoint a run backed up to.
type CheckpointRef struct {
	Size  uint64
	File  string    // CheckpointsDir/<size, 20 digits>.note
	Taken time.Time // when the run finished (UTC)
}

// Chunk is one file of entry lines.
type Chunk struct {
	File   string // EntriesDir/<first>-<end>.ndjson, both 20 digits
	First  uint64 // log index of its first line
	End    uint64 // log index after its last line
	Bytes  int64
	SHA256 [32]byte
}

// chunkName is the file of the entries [first, end).
func chunkName(first, end uint64) string {
	return fmt.Sprintf("%s/%020d-%020d.ndjson", EntriesDir, first, end)
}

// checkpointName is the file of the checkpoint of the given size.
func checkpointName(size uint64) string {
	return fmt.Sprintf("%s/%020d.note", CheckpointsDir, size)
}

// wireState is the JSON form of State.
type wireState struct {
	Version     *int             `json:"version"`
	Origin      *string          `json:"origin"`
	Size        *uint64          `json:"size"`
	Root        *string          `json:"root"`
	Frontier    []string         `json:"frontier"`
	Checkpoints []wireCheckpoint `json:"checkpoints"`
	Chunks      []wireChunk      `json:"chunks"`
}

type wireCheckpoint struct {
	Size  *uint64    `json:"size"`
	File  *string    `json:"file"`
	Taken *time.Time `json:"taken"`
}

type wireChunk struct {
	File   *string `json:"file"`
	First  *uint64 `json:"first"`
	End    *uint64 `json:"end"`
	Bytes  *int64  `json:"bytes"`
	SHA256 *string `json:"sha256"`
}

// Marshal returns backup.json for s: indented JSON ending in a newline.
func (s *State) Marshal() []byte {
	v := stateVersion
	w := wireState{
		Version: &v, Origin: &s.Origin, Size: &s.Size, Root: ptr(b64(s.Root)),
		Frontier: make([]string, len(s.Frontier)), Checkpoints: make([]wireCheckpoint, len(s.Checkpoints)),
		Chunks: make([]wireChunk, len(s.Chunks)),
	}
	for i, h := range s.Frontier {
		w.Frontier[i] = b64(h)
	}
	for i := range s.Checkpoints {
		c := &s.Checkpoints[i]
		w.Checkpoints[i] = wireCheckpoint{Size: &c.Size, File: &c.File, Taken: &c.Taken}
	}
	for i := range s.Chunks {
		c := &s.Chunks[i]
		w.Chunks[i] = wireChunk{File: &c.File, First: &c.First, End: &c.End, Bytes: &c.Bytes, SHA256: ptr(hex.EncodeToString(c.SHA256[:]))}
	}
	b, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		// Only strings, integers and times: marshalling cannot fail.
		panic(fmt.Sprintf("marshal backup state: %v", err))
	}
	return append(b, '\n')
}

func ptr[T any](v T) *T { return &v }

func b64(h [32]byte) string { return base64.StdEncoding.EncodeToString(h[:]) }

// ParseState decodes and checks backup.json: every field present, no
// unknown field, hashes in canonical form, chunks contiguous from 0 to
// size under their canonical names, checkpoints ascending with the last at
// size, and a frontier that is the compact range of size entries whose
// root is root. It does not read the files the state names.
func ParseState(data []byte) (*State, error) {
	if len(data) > maxStateBytes {
		return nil, fmt.Errorf("%d bytes, limit %d", len(data), maxStateBytes)
	}
	var w wireState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("not a backup state: %v", err)
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 {
		return nil, errors.New("not a backup state: data after the JSON object")
	}
	switch {
	case w.Version == nil || w.Origin == nil || w.Size == nil || w.Root == nil || w.Frontier == nil || w.Checkpoints == nil || w.Chunks == nil:
		return nil, errors.New(`"version", "origin", "size", "root", "frontier", "checkpoints" and "chunks" are required`)
	case *w.Version != stateVersion:
		return nil, fmt.Errorf("version %d, this logline reads version %d", *w.Version, stateVersion)
	}
	s := &State{Origin: *w.Origin, Size: *w.Size}
	if err := checkOrigin(s.Origin); err != nil {
		return nil, err
	}
	var err error
	if s.Root, err = parseHash(*w.Root); err != nil {
		return nil, fmt.Errorf("root: %v", err)
	}
	for i, f := range w.Frontier {
		h, err := parseHash(f)
		if err != nil {
			return nil, fmt.Errorf("frontier[%d]: %v", i, err)
		}
		s.Frontier = append(s.Frontier, h)
	}
	if err := s.checkFrontier(); err != nil {
		return nil, err
	}
	if err := s.parseChunks(w.Chunks); err != nil {
		return nil, err
	}
	if err := s.parseCheckpoints(w.Checkpoints); err != nil {
		return nil, err
	}
	return s, nil
}

// checkFrontier checks that the frontier is a compact range of Size
// entries with root Root.
func (s *State) checkFrontier() error {
	r, err := s.tree()
	if err != nil {
		return fmt.Errorf("frontier: %v", err)
	}
	if got := rangeRoot(r); got != s.Root {
		return fmt.Errorf("frontier gives root %s, root says %s", b64(got), b64(s.Root))
	}
	return nil
}

func (s *State) parseChunks(chunks []wireChunk) error {
	next := uint64(0)
	for i, w := range chunks {
		if w.File == nil || w.First == nil || w.End == nil || w.Bytes == nil || w.SHA256 == nil {
			return fmt.Errorf(`chunks[%d]: "file", "first", "end", "bytes" and "sha256" are required`, i)
		}
		c := Chunk{File: *w.File, First: *w.First, End: *w.End, Bytes: *w.Bytes}
		switch {
		case c.First != next:
			return fmt.Errorf("chunks[%d] starts at log index %d, want %d (chunks must be contiguous from 0)", i, c.First, next)
		case c.End <= c.First:
			return fmt.Errorf("chunks[%d]: end %d is not after first %d", i, c.End, c.First)
		case c.File != chunkName(c.First, c.End):
			return fmt.Errorf("chunks[%d]: file %q, want %q", i, c.File, chunkName(c.First, c.End))
		case c.Bytes < 2*int64(c.End-c.First):
			return fmt.Errorf("chunks[%d]: %d bytes cannot hold %d lines", i, c.Bytes, c.End-c.First)
		}
		sum, err := hex.DecodeString(*w.SHA256)
		if err != nil || len(sum) != sha256.Size || hex.EncodeToString(sum) != *w.SHA256 {
			return fmt.Errorf("chunks[%d]: sha256 %q is not 64 lower-case hex digits", i, *w.SHA256)
		}
		c.SHA256 = [32]byte(sum)
		s.Chunks = append(s.Chunks, c)
		next = c.End
	}
	if next != s.Size {
		return fmt.Errorf("the chunks hold log indexes [0, %d), size says %d", next, s.Size)
	}
	return nil
}

func (s *State) parseCheckpoints(cps []wireCheckpoint) error {
	if len(cps) == 0 {
		return errors.New("no checkpoint")
	}
	for i, w := range cps {
		if w.Size == nil || w.File == nil || w.Taken == nil {
			return fmt.Errorf(`checkpoints[%d]: "size", "file" and "taken" are required`, i)
		}
		c := CheckpointRef{Size: *w.Size, File: *w.File, Taken: *w.Taken}
		switch {
		case i > 0 && c.Size <= s.Checkpoints[i-1].Size:
			return fmt.Errorf("checkpoints[%d]: size %d after size %d (sizes must ascend)", i, c.Size, s.Checkpoints[i-1].Size)
		case c.File != checkpointName(c.Size):
			return fmt.Errorf("checkpoints[%d]: file %q, want %q", i, c.File, checkpointName(c.Size))
		}
		s.Checkpoints = append(s.Checkpoints, c)
	}
	if last := s.Checkpoints[len(s.Checkpoints)-1].Size; last != s.Size {
		return fmt.Errorf("the last checkpoint has size %d, the backup %d", last, s.Size)
	}
	return nil
}

// tree returns the compact range [0, Size) of the frontier.
func (s *State) tree() (*compact.Range, error) {
	hashes := make([][]byte, len(s.Frontier))
	for i := range s.Frontier {
		hashes[i] = s.Frontier[i][:]
	}
	return treeFactory.NewRange(0, s.Size, hashes)
}

// treeFactory builds compact ranges with RFC 6962 SHA-256 node hashing.
var treeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// rangeRoot returns the RFC 6962 root of a compact range that starts at 0.
func rangeRoot(r *compact.Range) [32]byte {
	if r.End() == 0 {
		return [32]byte(rfc6962.DefaultHasher.EmptyRoot())
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		// A range that starts at 0 always has a root.
		panic(fmt.Sprintf("merkle root of [0,%d): %v", r.End(), err))
	}
	return [32]byte(root)
}

// frontierOf returns the hashes of a compact range.
func frontierOf(r *compact.Range) [][32]byte {
	hs := r.Hashes()
	out := make([][32]byte, len(hs))
	for i, h := range hs {
		out[i] = [32]byte(h)
	}
	return out
}

// parseHash decodes the canonical standard base64 of a 32-byte hash.
func parseHash(s string) ([32]byte, error) {
	var h [32]byte
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("%q is not the base64 of 32 bytes", truncate(s))
	}
	copy(h[:], b)
	if b64(h) != s {
		return h, fmt.Errorf("%q is not canonical base64", truncate(s))
	}
	return h, nil
}

// checkOrigin checks that origin can name a log (a signed-note key name).
func checkOrigin(origin string) error {
	if origin == "" || strings.ContainsFunc(origin, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '+' || r == unicode.ReplacementChar
	}) {
		return fmt.Errorf("origin %q is not a log name", truncate(origin))
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
