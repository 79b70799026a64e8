package pgstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/span"
)

// BenchmarkAppend measures durable ingest through one node: 8 clients
// appending batches of 512 spans (as NDJSON ingest does), every span
// through hashes, chain, Merkle stored hashes, checkpoint and RLS.
//
//	go test -run '^$' -bench Append -benchtime 100000x ./internal/ledger/pgstore/
func BenchmarkAppend(b *testing.B) {
	for _, nodes := range []int{1, 2} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) { benchAppend(b, nodes) })
	}
}

func benchAppend(b *testing.B, nodes int) {
	u := newLedgerDB(b)
	var stores []*Store
	for range nodes {
		s := openStore(b, Config{URL: u})
		b.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	const clients, batch = 8, 512
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	spans := make([]*span.Span, b.N)
	for i := range spans {
		js := fmt.Sprintf(`{"id":"b%d","tenant":"t%d","who":"user:%d","did":"sold","this":"order:%d","when":%q,"data":{"amount":%d,"items":["bread","milk"]}}`,
			i, i%16, i%100, i%1000, t0.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i)
		spans[i] = ledgertest.MustSpan(b, js)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan []*span.Span)
	for c := range clients {
		s := stores[c%nodes]
		wg.Go(func() {
			for chunk := range next {
				if _, err := s.Append(context.Background(), chunk); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := 0; i < len(spans); i += batch {
		next <- spans[i:min(i+batch, len(spans))]
	}
	close(next)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "spans/s")
}
