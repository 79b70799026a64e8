package derive

import (
	"bufio"
	"bytes"
	"os"
	"testing"

	"github.com/logline/logline/internal/span"
)

const corpus = "../../../shared/corpus/receipt.ndjson"

func corpusLines(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(corpus)
	if err != nil {
		tb.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return lines
}

// BenchmarkSimulate is `logline quality simulate` without the file I/O:
// parse each corpus line, derive, encode the derived spans. One op is
// one input span (target: ≥ 500,000 spans/s on one core, ≤ 2 µs/op).
func BenchmarkSimulate(b *testing.B) {
	lines := corpusLines(b)
	p := defaultPolicy()
	var buf []byte
	emit := func(d *Derived) { buf = d.AppendJSON(buf[:0]) }
	b.ReportAllocs()
	b.ResetTimer()
	var e *Engine
	var lp LineParser
	for i := range b.N {
		if i%len(lines) == 0 {
			if e != nil {
				e.Finish(emit)
			}
			e = New(func(string) *Policy { return p })
		}
		in, err := lp.Parse(lines[i%len(lines)])
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Apply(in, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkApply is derivation alone, inputs already parsed.
func BenchmarkApply(b *testing.B) {
	lines := corpusLines(b)
	inputs := make([]*Input, len(lines))
	for i, l := range lines {
		in, err := ParseLine(l)
		if err != nil {
			b.Fatal(err)
		}
		inputs[i] = in
	}
	p := defaultPolicy()
	emit := func(*Derived) {}
	b.ReportAllocs()
	b.ResetTimer()
	var e *Engine
	for i := range b.N {
		if i%len(inputs) == 0 {
			e = New(func(string) *Policy { return p })
		}
		if err := e.Apply(inputs[i%len(inputs)], emit); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseLine: no input panics; what parses derives without error.
func FuzzParseLine(f *testing.F) {
	for _, l := range corpusLines(f)[:20] {
		f.Add(l)
	}
	f.Add([]byte(`{"id":"a","tenant":"t","when":"2026-01-01T00:00:00+01:00","confirmed_by":[],"seq":3}`))
	f.Add([]byte(`{"id":"a","tenant":"t","when":"2026-01-01T00:00:00Z","signature":"00"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		in, err := ParseLine(line)
		if err != nil {
			return
		}
		if in.Tenant == "" || in.WhenText == "" {
			t.Fatalf("parsed without tenant or when: %+v", in)
		}
		e := New(func(string) *Policy { return defaultPolicy() })
		if err := e.Apply(in, func(*Derived) {}); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkDerivedSpan is what the server does with each derived span
// before appending it: Derived.Span (span.Builder) against span.Decode of
// its JSON, over the spans the corpus derives.
func BenchmarkDerivedSpan(b *testing.B) {
	lines := corpusLines(b)
	p := defaultPolicy()
	e := New(func(string) *Policy { return p })
	var ds []Derived
	emit := func(d *Derived) { ds = append(ds, *d) }
	var lp LineParser
	for _, l := range lines {
		in, err := lp.Parse(l)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Apply(in, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("builder", func(b *testing.B) {
		var sb span.Builder
		b.ReportAllocs()
		for i := range b.N {
			if _, err := ds[i%len(ds)].Span(&sb); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for i := range b.N {
			buf = ds[i%len(ds)].AppendJSON(buf[:0])
			if _, err := span.Decode(buf, span.DecodeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
