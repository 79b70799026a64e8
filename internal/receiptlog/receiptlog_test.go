package receiptlog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger"
)

func format(b []byte, res ledger.Result, kid string) []byte {
	return fmt.Appendf(b, "{\"id\":%q,\"kid\":%q,\"log_index\":%d}\n", res.ID, kid, res.LogIndex)
}

func TestLogWritesByDay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "receipts")
	l, err := Open(Config{Dir: dir, Format: format})
	if err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2026, 11, 24, 23, 59, 0, 0, time.UTC)
	day2 := time.Date(2026, 11, 25, 0, 1, 0, 0, time.FixedZone("x", 3600)) // 2026-11-24T23:01Z
	day3 := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := []time.Time{day1, day2, day3}[i%3]
			l.Add(ledger.Result{ID: fmt.Sprint("s", i), LogIndex: uint64(i), ReceivedAt: at}, "k1")
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, name := range []string{"2026-11-24.ndjson", "2026-11-25.ndjson"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			if !bytes.HasPrefix(line, []byte(`{"id":"s`)) || !bytes.HasSuffix(line, []byte("}")) {
				t.Fatalf("%s: torn or foreign line %q", name, line)
			}
			got[name]++
		}
	}
	if got["2026-11-24.ndjson"] != 200 || got["2026-11-25.ndjson"] != 100 {
		t.Fatalf("got %v, want 200 receipts on the 24th (UTC) and 100 on the 25th", got)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("got %d files, want 2", len(ents))
	}
}

func TestLogAppendsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for round := range 3 {
		l, err := Open(Config{Dir: dir, Format: format, SyncEvery: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		l.Add(ledger.Result{ID: fmt.Sprint("r", round), ReceivedAt: at}, "k")
		time.Sleep(5 * time.Millisecond) // let the ticker sync once
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "2026-01-02.ndjson"))
	if n := strings.Count(string(data), "\n"); n != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", n, data)
	}
}

func TestOpenNeedsFormat(t *testing.T) {
	if _, err := Open(Config{Dir: t.TempDir()}); err == nil {
		t.Fatal("got nil, want an error")
	}
}

func TestAddAfterCloseIsDropped(t *testing.T) {
	l, err := Open(Config{Dir: t.TempDir(), Format: format})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Add(ledger.Result{ID: "late"}, "k") // must not panic
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
