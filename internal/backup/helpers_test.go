package backup

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logline/logline/internal/client"
	"github.com/logline/logline/internal/gateway"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// corpusPath is the shared test corpus (8,577 spans of one tenant).
const corpusPath = "../../../shared/corpus/receipt.ndjson"

const testOrigin = "logline.test/backup"

// testServer is what `logline serve` runs — a segment store signing
// checkpoints with the log key in dir/keys under the no-fork guard, and the
// gateway — behind an httptest server.
type testServer struct {
	t      testing.TB
	dir    string
	keys   *tlog.Keyring
	signer *tlog.GuardedSigner
	store  *segment.Store
	gw     *gateway.Server
	ts     *httptest.Server
	client *client.Client
}

// startServer serves the data directory dir (created if needed; a new log
// key of testOrigin unless dir/keys holds one). The server stops at the end
// of the test unless stopped before. An existing dir/keys keeps its origin.
func startServer(t testing.TB, dir string) *testServer {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	keysDir := filepath.Join(dir, KeysDir)
	origin := testOrigin
	if o, err := tlog.KeysOrigin(keysDir); err == nil {
		origin = o
	}
	keys, err := tlog.LoadOrCreateKeys(keysDir, origin, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	guard, err := tlog.OpenGuard(keysDir, origin)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, dir: dir, keys: keys, signer: tlog.NewGuardedSigner(keys, guard, time.Second, time.Now)}
	s.store, err = segment.Open(context.Background(), segment.Config{Dir: dir, Logger: log, SignCheckpoint: s.signer.Sign})
	if err != nil {
		t.Fatal(err)
	}
	s.gw, err = gateway.New(gateway.Config{Store: s.store, Dev: true, Logger: log, Ready: s.store.Ready, Log: s.store, LogKeys: keys.VerifierKeys})
	if err != nil {
		t.Fatal(err)
	}
	s.ts = httptest.NewServer(s.gw.Handler())
	if s.client, err = client.New(s.ts.URL, nil, "backup-test"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// stop shuts the server down and closes the store (idempotent).
func (s *testServer) stop() {
	if s.ts == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.gw.Shutdown(ctx); err != nil {
		s.t.Errorf("gateway shutdown: %v", err)
	}
	s.ts.Close()
	s.ts = nil
	if err := s.store.Close(); err != nil {
		s.t.Errorf("close store: %v", err)
	}
	if c := s.store.Checkpoint(); c.Note != nil {
		if err := s.signer.Record(c.Size, c.Root); err != nil {
			s.t.Errorf("record checkpoint: %v", err)
		}
	}
}

// appendSpans appends n spans (ids prefix0…, three tenants, every fifth
// one signed) and returns the new size.
func (s *testServer) appendSpans(prefix string, n int) uint64 {
	s.t.Helper()
	kp, err := span.GenerateKey(deterministic(7))
	if err != nil {
		s.t.Fatal(err)
	}
	var spans []*span.Span
	for i := range n {
		data := []byte(fmt.Sprintf(`{"id":"%s%d","tenant":"t%d","who":"w%d","did":"did","this":"thing:%d","when":"2026-01-02T03:04:05Z","data":{"n":%d}}`,
			prefix, i, i%3, i%7, i%11, i))
		if i%5 == 0 {
			if data, err = span.Sign(data, kp, span.DecodeOptions{}); err != nil {
				s.t.Fatal(err)
			}
		}
		spans = append(spans, s.decode(data))
	}
	return s.append(spans, 100)
}

// appendCorpus appends the shared corpus and returns the new size.
func (s *testServer) appendCorpus() uint64 {
	s.t.Helper()
	f, err := os.Open(corpusPath)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var spans []*span.Span
	for sc.Scan() {
		spans = append(spans, s.decode(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		s.t.Fatal(err)
	}
	return s.append(spans, 1000)
}

func (s *testServer) decode(data []byte) *span.Span {
	s.t.Helper()
	sp, err := span.Decode(data, span.DecodeOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	return sp
}

// append appends spans in batches of the given size and returns the new
// size of the log.
func (s *testServer) append(spans []*span.Span, batch int) uint64 {
	s.t.Helper()
	for len(spans) > 0 {
		n := min(batch, len(spans))
		outs, err := s.store.Append(context.Background(), spans[:n])
		if err != nil {
			s.t.Fatal(err)
		}
		for _, o := range outs {
			if o.Err != nil {
				s.t.Fatal(o.Err)
			}
		}
		spans = spans[n:]
	}
	return s.store.Size()
}

// deterministic is a fixed stream of pseudo-random bytes.
type deterministic byte

func (d deterministic) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(d) + byte(i)
	}
	return len(p), nil
}

// backupOf runs a backup of src into dir.
func backupOf(t testing.TB, dir string, src Source) Result {
	t.Helper()
	res, err := Run(context.Background(), Config{Dir: dir, Source: src})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return res
}

// mustVerify verifies the backup in dir.
func mustVerify(t testing.TB, dir string) Report {
	t.Helper()
	rep, err := Verify(context.Background(), dir, VerifyOptions{})
	if err != nil {
		t.Fatalf("verify backup: %v", err)
	}
	return rep
}
