package crashtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// zeroHash is the prev_hash of a tenant's first entry.
var zeroHash = strings.Repeat("0", 64)

var hexHashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ack is what the server acknowledged for one key.
type ack struct {
	logIndex uint64
	currHash string
	round    int
}

// model is what the clients were told: every acknowledged span, and the
// requests whose answers were cut off by a kill (retried after restart).
// Its methods are safe for concurrent use.
type model struct {
	t     *testing.T
	mu    sync.Mutex
	acked map[key]ack // guarded by mu
	order []key       // guarded by mu; in ack order
	retry []*batch    // guarded by mu
}

func newModel(t *testing.T) *model {
	return &model{t: t, acked: make(map[key]ack)}
}

// recordMode says which answers are legitimate.
type recordMode int

const (
	// strict: every line of a valid batch is accepted.
	strict recordMode = iota
	// draining: lines may be refused because the server is shutting down.
	draining
)

// record takes the answers of o for b. Every line answered ok is an
// acknowledgement; it fails the test on an answer a valid span must never
// get, or on a second acknowledgement that disagrees with the first.
func (m *model) record(b *batch, o *outcome, round int, mode recordMode) {
	t := m.t
	if o.prob != nil {
		if mode == draining && o.prob.Code == "unavailable" {
			return
		}
		t.Errorf("%s: status got %d (%s: %s), want 201", b.name, o.status, o.prob.Code, o.prob.Detail)
		return
	}
	if !b.ndjson && o.status != 0 && o.status != http.StatusCreated && o.status != http.StatusOK {
		t.Errorf("%s: status got %d, want 201 or 200", b.name, o.status)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var rejected []int // lines refused for a reason a valid span must never get
	defer func() {
		if len(rejected) > 0 {
			slices.Sort(rejected)
			first := o.results[rejected[0]]
			t.Errorf("%s: %d of %d lines got ok=false, want ok=true; the first, line %d (%s): %s",
				b.name, len(rejected), len(b.keys), rejected[0], b.keys[rejected[0]-1], first.Error)
		}
	}()
	for line, r := range o.results {
		k := b.keys[line-1]
		if b.ndjson && (r.OK == nil || !*r.OK) {
			var p problem
			_ = json.Unmarshal(r.Error, &p)
			if mode == draining && p.Code == "unavailable" {
				continue
			}
			rejected = append(rejected, line)
			continue
		}
		if got := (key{tenant: r.Tenant, id: r.ID, seq: r.Seq}); got != k {
			t.Errorf("%s line %d: result names %s, want %s", b.name, line, got, k)
			continue
		}
		if r.LogIndex == nil || !hexHashRE.MatchString(r.CurrHash) {
			t.Errorf("%s line %d (%s): result without log_index or curr_hash: %+v", b.name, line, k, r)
			continue
		}
		a := ack{logIndex: *r.LogIndex, currHash: r.CurrHash, round: round}
		if prev, ok := m.acked[k]; ok {
			if prev.logIndex != a.logIndex || prev.currHash != a.currHash {
				t.Errorf("%s line %d: %s acknowledged twice: round %d at log index %d (%s), round %d at log index %d (%s)",
					b.name, line, k, prev.round, prev.logIndex, prev.currHash, round, a.logIndex, a.currHash)
			}
			continue
		}
		m.acked[k] = a
		m.order = append(m.order, k)
	}
	if b.ndjson && o.summary != nil {
		s := o.summary
		if mode == strict && (s.Lines != len(b.keys) || s.Rejected != 0 || s.Error != nil) {
			t.Errorf("%s: summary got %+v, want %d lines, none rejected", b.name, *s, len(b.keys))
		}
	}
}

func (m *model) addRetry(b *batch) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retry = append(m.retry, b)
}

func (m *model) takeRetries() []*batch {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.retry
	m.retry = nil
	return r
}

func (m *model) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.acked)
}

// entryMeta is what the checks keep of one streamed entry.
type entryMeta struct {
	fp       [32]byte // SHA-256 of the line: the entry must never change
	k        key
	prevHash string
	currHash string
}

// view is the log as the stream showed it. Every streamed entry was
// durable when it was served, so once seen it must never change or
// disappear.
type view struct {
	entries []entryMeta
	index   map[key]uint64    // key → log index
	heads   map[string]string // tenant → curr_hash of its last entry
}

func newView() *view {
	return &view{index: make(map[key]uint64), heads: make(map[string]string)}
}

// streamedEntry is the part of a stored entry the checks parse.
type streamedEntry struct {
	ID       string  `json:"id"`
	Tenant   string  `json:"tenant"`
	Seq      uint64  `json:"seq"`
	LogIndex *uint64 `json:"log_index"`
	PrevHash string  `json:"prev_hash"`
	CurrHash string  `json:"curr_hash"`
}

// refresh reads the whole stream from cursor 0 and checks it: entries seen
// before are byte for byte the same, log_index is dense from 0, no
// (tenant, id, seq) appears twice, and each entry's prev_hash is the
// curr_hash of its tenant's previous entry (64 zeros for the first).
func (v *view) refresh(t *testing.T, s *server) {
	t.Helper()
	var i uint64
	known := uint64(len(v.entries))
	err := readStream(context.Background(), s.http, s.base, 0, func(line []byte) error {
		fp := sha256.Sum256(line)
		if i < known {
			if fp != v.entries[i].fp {
				return fmt.Errorf("log index %d changed after it was streamed (durable): now %.200s", i, line)
			}
			i++
			return nil
		}
		e, err := parseEntry(line)
		if err != nil {
			return fmt.Errorf("stream line %d: %v: %.200s", i, err, line)
		}
		if i%101 == 0 {
			// Keep the fast parser honest.
			var want streamedEntry
			if err := json.Unmarshal(line, &want); err != nil {
				return fmt.Errorf("stream line %d: %v: %.200s", i, err, line)
			}
			if want.LogIndex == nil || e.LogIndex == nil || *want.LogIndex != *e.LogIndex || want.ID != e.ID || want.Tenant != e.Tenant ||
				want.Seq != e.Seq || want.PrevHash != e.PrevHash || want.CurrHash != e.CurrHash {
				return fmt.Errorf("stream line %d: parseEntry got %+v, encoding/json %+v", i, e, want)
			}
		}
		if e.LogIndex == nil || *e.LogIndex != i {
			return fmt.Errorf("stream line %d has log_index %v, want %d (dense from 0)", i, e.LogIndex, i)
		}
		k := key{tenant: e.Tenant, id: e.ID, seq: e.Seq}
		if j, dup := v.index[k]; dup {
			return fmt.Errorf("%s stored twice: log index %d and %d", k, j, i)
		}
		head, ok := v.heads[e.Tenant]
		if !ok {
			head = zeroHash
		}
		if e.PrevHash != head {
			return fmt.Errorf("log index %d (%s): prev_hash got %s, want %s (chain of tenant %q broken)", i, k, e.PrevHash, head, e.Tenant)
		}
		if !hexHashRE.MatchString(e.CurrHash) {
			return fmt.Errorf("log index %d (%s): curr_hash %q", i, k, e.CurrHash)
		}
		v.entries = append(v.entries, entryMeta{fp: fp, k: k, prevHash: e.PrevHash, currHash: e.CurrHash})
		v.index[k] = i
		v.heads[e.Tenant] = e.CurrHash
		i++
		return nil
	})
	if err != nil {
		t.Fatalf("stream check: %v", err)
	}
	if i < known {
		t.Fatalf("stream check: the log has %d entries, %d were streamed before: durable entries lost", i, known)
	}
}

// checkAcks checks that every acknowledged span is in the log at the
// log index and with the curr_hash it was acknowledged with. It returns
// how many it checked.
func (v *view) checkAcks(t *testing.T, m *model) int {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	bad := 0
	for _, k := range m.order {
		a := m.acked[k]
		i, ok := v.index[k]
		switch {
		case !ok:
			t.Errorf("acknowledged %s (round %d, log index %d) is missing from the log", k, a.round, a.logIndex)
		case i != a.logIndex:
			t.Errorf("acknowledged %s: log index got %d, want %d (as acknowledged in round %d)", k, i, a.logIndex, a.round)
		case v.entries[i].currHash != a.currHash:
			t.Errorf("acknowledged %s: curr_hash got %s, want %s (as acknowledged in round %d)", k, v.entries[i].currHash, a.currHash, a.round)
		default:
			continue
		}
		if bad++; bad >= 20 {
			t.Fatalf("too many lost acknowledgements; stopping")
		}
	}
	return len(m.order)
}

// checkGets reads a sample of acknowledged spans with GET /spans/{id}: the
// newest acknowledgements (those closest to the kill) and random older
// ones. Each must be the streamed entry byte for byte.
func (v *view) checkGets(t *testing.T, s *server, m *model, r *rand.Rand, newest, random int) {
	t.Helper()
	m.mu.Lock()
	n := len(m.order)
	var keys []key
	keys = append(keys, m.order[max(0, n-newest):]...)
	for range min(random, n) {
		keys = append(keys, m.order[r.IntN(n)])
	}
	acks := make([]ack, len(keys))
	for i, k := range keys {
		acks[i] = m.acked[k]
	}
	m.mu.Unlock()
	for i, k := range keys {
		status, body, err := getSpan(context.Background(), s.http, s.base, k)
		if err != nil {
			t.Fatalf("GET %s: %v", k, err)
		}
		if status != http.StatusOK {
			t.Errorf("GET %s: status got %d, want 200: %s", k, status, body)
			continue
		}
		e, err := parseEntry(body)
		if err != nil {
			t.Errorf("GET %s: %v: %.200s", k, err, body)
			continue
		}
		a := acks[i]
		if e.LogIndex == nil || *e.LogIndex != a.logIndex || e.CurrHash != a.currHash {
			t.Errorf("GET %s: got log index %v curr_hash %s, want %d %s", k, e.LogIndex, e.CurrHash, a.logIndex, a.currHash)
			continue
		}
		if a.logIndex < uint64(len(v.entries)) && sha256.Sum256(body) != v.entries[a.logIndex].fp {
			t.Errorf("GET %s: body differs from the streamed entry at log index %d", k, a.logIndex)
		}
	}
}

// retry resends batches whose answers a kill cut off, with the same
// bytes. A span already stored must come back as a duplicate at the same
// log index with the same hash, never as a second copy; one not stored is
// appended now. It returns the lines answered as duplicates and as new.
func (v *view) retry(t *testing.T, s *server, m *model, round int, bs []*batch) (dups, added int) {
	t.Helper()
	for _, b := range bs {
		o := send(context.Background(), s.http, s.base, b)
		if o.err != nil || !o.complete(b) {
			t.Errorf("retry %s: got an incomplete answer (status %d, %d/%d results): %v", b.name, o.status, len(o.results), len(b.keys), o.err)
			continue
		}
		for line, r := range o.results {
			k := b.keys[line-1]
			i, stored := v.index[k]
			switch {
			case r.Duplicate != stored:
				t.Errorf("retry %s line %d (%s): duplicate got %v, want %v (stored before the retry: %v)", b.name, line, k, r.Duplicate, stored, stored)
			case stored && (r.LogIndex == nil || *r.LogIndex != i || r.CurrHash != v.entries[i].currHash):
				t.Errorf("retry %s line %d (%s): got log index %v curr_hash %s, want the stored %d %s", b.name, line, k, r.LogIndex, r.CurrHash, i, v.entries[i].currHash)
			case stored:
				dups++
			default:
				added++
			}
		}
		m.record(b, o, round, strict)
	}
	return dups, added
}

// tail is what a kill left at the end of the last segment.
type tail struct {
	file  string // last segment
	cut   int64  // end of its last complete commit line
	size  int64  // its size
	lines int    // complete lines after the last commit line
}

func (tl tail) torn() bool { return tl.size > tl.cut }

// segmentFiles lists the segment files of dir in order.
func segmentFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "ledger", "segments", "*.ndjson"))
	slices.Sort(files)
	return files, err
}

// inspectTail reads the last segment of dir (while no server runs) and
// finds the bytes after its last complete commit line: the torn tail the
// next start must cut, if any.
func inspectTail(dir string) (tail, error) {
	files, err := segmentFiles(dir)
	if err != nil || len(files) == 0 {
		return tail{}, fmt.Errorf("no segments in %s: %v", dir, err)
	}
	last := files[len(files)-1]
	data, err := os.ReadFile(last)
	if err != nil {
		return tail{}, err
	}
	tl := tail{file: last, size: int64(len(data))}
	off := 0
	for off < len(data) {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			break
		}
		if bytes.HasPrefix(data[off:], []byte(`{"commit":`)) {
			tl.cut, tl.lines = int64(off+nl+1), 0
		} else {
			tl.lines++
		}
		off += nl + 1
	}
	return tl, nil
}

// checkTornTailCut checks serve's log against what the kill left: a torn
// tail must be cut exactly at the end of the last commit line and logged;
// without one, nothing may be cut.
func checkTornTailCut(t *testing.T, s *server, want tail) {
	t.Helper()
	recs := s.logRecords("cut torn tail")
	if !want.torn() {
		if len(recs) > 0 {
			t.Errorf("serve cut a torn tail, but the last segment ended with a commit line (size %d): %v", want.size, recs)
		}
		return
	}
	if len(recs) != 1 {
		t.Errorf("the last segment %s had %d bytes (%d complete lines) after its last commit line at %d: got %d \"cut torn tail\" warnings, want 1\noutput:\n%s",
			want.file, want.size-want.cut, want.lines, want.cut, len(recs), s.out)
		return
	}
	rec := recs[0]
	if off, ok := rec["offset"].(float64); !ok || int64(off) != want.cut {
		t.Errorf("cut torn tail: offset got %v, want %d (end of the last commit line)", rec["offset"], want.cut)
	}
	if f, _ := rec["file"].(string); filepath.Base(f) != filepath.Base(want.file) {
		t.Errorf("cut torn tail: file got %q, want %s", f, want.file)
	}
	if fi, err := os.Stat(want.file); err != nil || fi.Size() < want.cut {
		t.Errorf("after the cut: %s is shorter than its acknowledged %d bytes: %v", want.file, want.cut, err)
	}
}

// copyDir copies the regular files of src into dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
