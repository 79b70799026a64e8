package export_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/export"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// corpusPath is the shared test corpus (8,577 spans of one tenant),
// relative to this package.
const corpusPath = "../../../shared/corpus/receipt.ndjson"

const testOrigin = "logline.example/ledger"

// testLog is a segment store whose checkpoints are signed by a demo log
// key made from fixed randomness, with a clock that advances one second
// per commit batch (so every batch has its own received_at).
type testLog struct {
	st   *segment.Store
	keys *tlog.Keyring
}

// newTestLog opens a store in dir; seed picks the log key.
func newTestLog(t testing.TB, dir string, seed byte) *testLog {
	t.Helper()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var ticks atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * time.Second) }
	keys, err := tlog.LoadOrCreateKeys(filepath.Join(dir, "keys"), testOrigin, rand.NewChaCha8([32]byte{seed}), func() time.Time { return base })
	if err != nil {
		t.Fatal(err)
	}
	st, err := segment.Open(context.Background(), segment.Config{
		Dir: dir, Logger: slog.New(slog.DiscardHandler), Now: now,
		SignCheckpoint: func(size uint64, root [32]byte) ([]byte, error) {
			return tlog.SignCheckpoint(keys.Signer(), keys.Origin(), size, root)
		},
	})
	if err != nil {
		t.Fatalf("segment.Open: %v", err)
	}
	return &testLog{st: st, keys: keys}
}

// appendJSON appends spans given as JSON, batch spans per commit.
func (l *testLog) appendJSON(t testing.TB, spans [][]byte, batch int) {
	t.Helper()
	for i := 0; i < len(spans); i += batch {
		var ss []*span.Span
		for _, js := range spans[i:min(i+batch, len(spans))] {
			s, err := span.Decode(js, span.DecodeOptions{})
			if err != nil {
				t.Fatalf("decode %s: %v", js, err)
			}
			ss = append(ss, s)
		}
		outs, err := l.st.Append(context.Background(), ss)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
		}
	}
}

// options are Write options for the log's latest checkpoint.
func (l *testLog) options(tenant string, since, until time.Time) export.Options {
	return export.Options{Tenant: tenant, Since: since, Until: until, Checkpoint: l.st.Checkpoint(),
		Origin: l.keys.Origin(), Signer: l.keys.Signer()}
}

// write exports and fails the test on error.
func (l *testLog) write(t testing.TB, o export.Options) ([]byte, export.Manifest) {
	t.Helper()
	var buf bytes.Buffer
	m, err := export.Write(context.Background(), &buf, l.st, o)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes(), m
}

// tenantEntries returns every entry of tenant below log index size.
func (l *testLog) tenantEntries(t testing.TB, tenant string, size uint64) []*span.Entry {
	t.Helper()
	var out []*span.Entry
	err := l.st.Read(context.Background(), 0, size, func(e *span.Entry) error {
		if e.Tenant == tenant {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func verify(data []byte, vs note.Verifiers) (export.Report, error) {
	return export.Verify(context.Background(), bytes.NewReader(data), vs, export.VerifyOptions{Origin: testOrigin})
}

// corpusTenants are the tenants the corpus is spread over: runs of seven
// consecutive spans each, in turn, so every commit batch interleaves them.
var corpusTenants = []string{"t_a", "t_b", "t_c"}

// readCorpus returns the corpus spans with their tenant replaced.
func readCorpus(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open(corpusPath)
	if err != nil {
		t.Skipf("corpus %s not present: %v", corpusPath, err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; sc.Scan(); i++ {
		tenant := corpusTenants[(i/7)%len(corpusTenants)]
		line := bytes.Replace(sc.Bytes(), []byte(`"tenant":"t_receipt"`), []byte(`"tenant":"`+tenant+`"`), 1)
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// corpusFixture is the corpus in one store (built once per test binary):
// 50 spans per commit batch, and the checkpoint signed when half of them
// were in.
type corpusFixture struct {
	*testLog
	older ledger.Checkpoint
	dir   string
}

var (
	fixtureOnce sync.Once
	fixture     *corpusFixture
	fixtureErr  error
)

func corpus(t testing.TB) *corpusFixture {
	t.Helper()
	if _, err := os.Stat(corpusPath); err != nil {
		t.Skipf("corpus %s not present: %v", corpusPath, err)
	}
	fixtureOnce.Do(func() {
		fixtureErr = errors.New("building the corpus fixture failed (see the first test that used it)")
		spans := readCorpus(t)
		dir, err := os.MkdirTemp("", "export-test-")
		if err != nil {
			fixtureErr = err
			return
		}
		l := newTestLog(t, dir, 7)
		half := len(spans) / 2 / 50 * 50
		l.appendJSON(t, spans[:half], 50)
		older := l.st.Checkpoint()
		l.appendJSON(t, spans[half:], 50)
		fixture = &corpusFixture{testLog: l, older: older, dir: dir}
		fixtureErr = nil
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture != nil {
		fixture.st.Close()
		os.RemoveAll(fixture.dir)
	}
	if benchLog != nil {
		benchLog.st.Close()
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// lines splits a bundle into its lines (without newlines).
func lines(b []byte) [][]byte {
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

// join is the inverse of lines.
func join(ls [][]byte) []byte {
	var out []byte
	for _, l := range ls {
		out = append(append(out, l...), '\n')
	}
	return out
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
