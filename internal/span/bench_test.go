package span

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"os"
	"testing"
	"time"
)

// corpusPath is the shared sample corpus, relative to the package directory.
const corpusPath = "../../../shared/corpus/receipt.ndjson"

// loadCorpus returns the corpus lines. It skips the test when the file is
// absent outside CI and fails in CI.
func loadCorpus(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(corpusPath)
	if err != nil {
		if os.IsNotExist(err) && os.Getenv("CI") == "" {
			tb.Skipf("corpus %s not found (set CI to make this fatal)", corpusPath)
		}
		tb.Fatalf("read corpus: %v", err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, bytes.Clone(sc.Bytes()))
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("scan corpus: %v", err)
	}
	if len(lines) == 0 {
		tb.Fatalf("corpus %s is empty", corpusPath)
	}
	return lines
}

func benchSpans(b *testing.B, lines [][]byte) {
	var total int
	for _, l := range lines {
		total += len(l)
	}
	b.SetBytes(int64(total / len(lines)))
	b.ReportAllocs()
	opts := DecodeOptions{NewID: func() string { return "s_bench" }}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := Decode(lines[i%len(lines)], opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	benchSpans(b, loadCorpus(b))
}

func BenchmarkDecodeSigned(b *testing.B) {
	lines := loadCorpus(b)[:256]
	kp := keyPairFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	signed := make([][]byte, len(lines))
	for i, l := range lines {
		out, err := Sign(l, kp, DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		signed[i] = out
	}
	benchSpans(b, signed)
}

func BenchmarkAppendEntry(b *testing.B) {
	lines := loadCorpus(b)
	s, err := Decode(lines[0], DecodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)
	buf := s.AppendEntry(nil, 1, Hash{}, at)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := uint64(0); b.Loop(); i++ {
		buf = s.AppendEntry(buf[:0], i, s.Hash, at)
	}
}

func BenchmarkParseEntry(b *testing.B) {
	lines := loadCorpus(b)[:1024]
	at := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)
	entries := make([][]byte, len(lines))
	var total int
	for i, l := range lines {
		s, err := Decode(l, DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		entries[i] = s.AppendEntry(nil, uint64(i), Hash{}, at)
		total += len(entries[i])
	}
	b.SetBytes(int64(total / len(entries)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := ParseEntry(entries[i%len(entries)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanonicalize(b *testing.B) {
	lines := loadCorpus(b)
	var total int
	for _, l := range lines {
		total += len(l)
	}
	b.SetBytes(int64(total / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := Canonicalize(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}
