package bench

import (
	"fmt"
	"strings"
)

// Targets of issue 2 ("Speed") on the reference 2-core machine.
const (
	targetUnsignedPerSec = 100_000
	targetSignedShare    = 0.70
	targetP95At16Ms      = 3.0
	targetStreamPerSec   = 300_000
	targetReopenSecs     = 5.0
	targetReopenSpans    = 1_000_000
	minMemoryCheckBytes  = 100_000_000
	// Issue 3 ("Speed").
	targetProofsPerSec = 50_000
	// Issue 3, item 5: a tenant export of 1M spans.
	targetExportPerSec = 100_000
	// Issue 4 ("Speed"): durable ingest through one PostgreSQL node.
	targetPGOneNodePerSec = 50_000
)

// checks compares rep with the targets. A section that did not run, or
// ran too small to compare (recovery below 1M spans, a large memory body
// below 100 MB), gives no check.
func checks(rep *Report) []Check {
	var out []Check
	add := func(name, target, got string, ok bool) {
		out = append(out, Check{Name: name, Target: target, Got: got, OK: ok})
	}
	ingest := func(name string) *Throughput {
		for i := range rep.Ingest {
			if rep.Ingest[i].Name == name && rep.Ingest[i].Error == "" && rep.Ingest[i].Spans > 0 {
				return &rep.Ingest[i]
			}
		}
		return nil
	}
	if u := ingest("unsigned"); u != nil {
		add("unsigned NDJSON ingest, durable", fmt.Sprintf("≥ %s spans/s", num(targetUnsignedPerSec)),
			num(u.SpansPerSec)+" spans/s", u.SpansPerSec >= targetUnsignedPerSec)
	}
	if s := ingest("signed"); s != nil && rep.Verify.ReferencePerSec > 0 {
		add("signed NDJSON ingest vs raw verify of all cores",
			fmt.Sprintf("≥ %.0f%% of %s/s (%d cores × %s)", targetSignedShare*100, num(rep.Verify.ReferencePerSec), rep.Verify.Cores, num(rep.Verify.SingleCorePerSec)),
			fmt.Sprintf("%s spans/s = %.0f%%", num(s.SpansPerSec), rep.Verify.SignedIngestShare*100),
			rep.Verify.SignedIngestShare >= targetSignedShare)
	}
	for _, l := range rep.Latency {
		if l.Clients == 16 && l.Error == "" && l.Requests > 0 {
			add("single-span POST p95 at 16 clients", fmt.Sprintf("≤ %.0f ms", targetP95At16Ms),
				fmt.Sprintf("%.2f ms", l.P95), l.P95 <= targetP95At16Ms)
		}
	}
	if s := rep.Stream; s.Error == "" && s.Skipped == "" && s.Spans > 0 {
		add("stream read", fmt.Sprintf("≥ %s spans/s", num(targetStreamPerSec)),
			num(s.SpansPerSec)+" spans/s", s.SpansPerSec >= targetStreamPerSec)
	}
	if r := rep.Recovery; r.Error == "" && r.Skipped == "" && r.CrashReopenSeconds > 0 && r.Spans >= targetReopenSpans {
		target := fmt.Sprintf("≤ %.0f s with %s spans", targetReopenSecs, num(targetReopenSpans))
		got := fmt.Sprintf("%.2f s with %s spans", r.CrashReopenSeconds, num(float64(r.Spans)))
		add("reopen after a crash", target, got, r.CrashReopenSeconds <= targetReopenSecs)
	}
	if pr := rep.Proofs; pr.Error == "" && pr.Skipped == "" && pr.InclusionPerSec > 0 {
		add("inclusion proof generation", fmt.Sprintf("≥ %s proofs/s", num(targetProofsPerSec)),
			fmt.Sprintf("%s proofs/s (tree of %s)", num(pr.InclusionPerSec), num(float64(pr.Entries))), pr.InclusionPerSec >= targetProofsPerSec)
	}
	if x := rep.Export; x.Error == "" && x.Skipped == "" && x.Entries >= targetReopenSpans {
		add("tenant export of 1M spans, write", fmt.Sprintf("≥ %s entries/s", num(targetExportPerSec)),
			fmt.Sprintf("%s entries/s (verify %s entries/s)", num(x.WriteEntriesPerSec), num(x.VerifyEntriesPerSec)), x.WriteEntriesPerSec >= targetExportPerSec)
	}
	if m := rep.Memory; m.Error == "" && len(m.Runs) == 2 && m.Runs[0].PeakHeapBytes > 0 && m.Runs[1].BodyBytes >= minMemoryCheckBytes {
		small, large := m.Runs[0], m.Runs[1]
		add("memory bounded regardless of body size",
			fmt.Sprintf("peak heap with a %s body ≤ 2 × peak with a %s body", mbString(large.BodyBytes), mbString(small.BodyBytes)),
			fmt.Sprintf("%s vs %s", mibString(large.PeakHeapBytes), mibString(small.PeakHeapBytes)),
			large.PeakHeapBytes <= 2*small.PeakHeapBytes)
	}
	if ps := rep.PGStore; ps.Skipped == "" && len(ps.Ingest) > 0 && ps.Ingest[0].Error == "" && ps.Ingest[0].Spans > 0 {
		got := num(ps.Ingest[0].SpansPerSec) + " spans/s"
		if r := rawCopy(rep); r != nil {
			got += fmt.Sprintf(" (raw COPY of the same rows: %s rows/s on %d connections)", num(r.SpansPerSec), r.Connections)
		}
		add("LogLine on PostgreSQL, one node: NDJSON ingest, durable", fmt.Sprintf("≥ %s spans/s", num(targetPGOneNodePerSec)),
			got, ps.Ingest[0].SpansPerSec >= targetPGOneNodePerSec)
	}
	out = append(out, authChecks(&rep.Auth)...)
	out = append(out, validatorsChecks(&rep.Validators)...)
	out = append(out, dataPlaneChecks(&rep.DataPlane)...)
	if u, r := ingest("unsigned"), rawCopy(rep); u != nil && r != nil {
		add("LogLine (hash, chain, index) vs raw COPY into Blueprint4",
			fmt.Sprintf("≥ %s spans/s", num(r.SpansPerSec)),
			num(u.SpansPerSec)+" spans/s", u.SpansPerSec >= r.SpansPerSec)
	}
	return out
}

// rawCopy is the baseline's COPY into the Blueprint4 table with its
// triggers, or nil.
func rawCopy(rep *Report) *PGRun {
	for i, r := range rep.Postgres.Runs {
		if strings.HasPrefix(r.Method, "COPY") && strings.Contains(r.Table, "notify triggers") && r.Error == "" && r.Spans > 0 {
			return &rep.Postgres.Runs[i]
		}
	}
	return nil
}

// notes explains the method next to the numbers.
func notes(rep *Report, cfg Config) []string {
	n := []string{
		"durable: a span is counted only once the server answered it, and the server answers only after fdatasync",
		fmt.Sprintf("NDJSON ingest: %d spans per run, %d concurrent clients, %d spans per request; signed spans were signed with span.Sign before the clock started", cfg.Spans, cfg.Clients, cfg.Batch),
		"client and server share the machine's cores (like a client on the same host as `logline serve`)",
	}
	if rep.Machine.OtherCPUShare > 0.1 {
		n = append(n, fmt.Sprintf("other processes used %.0f%% of the CPU during the run: the figures are lower than on a quiet machine", rep.Machine.OtherCPUShare*100))
	}
	if rep.Target == "in-process" {
		n = append(n, "server: segment store + gateway in this process on 127.0.0.1, HTTP/1.1 over loopback, the same HTTP limits as `logline serve`")
	}
	if a := authNote(&rep.Auth); a != "" {
		n = append(n, a)
	}
	if v := validatorsNote(&rep.Validators); v != "" {
		n = append(n, v)
	}
	if v := dataPlaneNote(&rep.DataPlane); v != "" {
		n = append(n, v)
	}
	if len(rep.Memory.Runs) > 0 {
		n = append(n, "memory: one NDJSON body generated while it is sent, into a fresh in-process server whose body limit is raised above the body (the default limit is 32 MiB); heap of the whole process from runtime/metrics every 5 ms")
	}
	if rep.Recovery.Spans > 0 {
		n = append(n, fmt.Sprintf("recovery: data built with segment.Store.Append in batches of %d; crash = torn half line at the end of the last segment + an index that lags by %d entries (a stale copy of the index replaces it); rebuild = index directory deleted", recoveryBatch, rep.Recovery.IndexLag))
	}
	if len(rep.PGStore.Ingest) > 0 {
		n = append(n, fmt.Sprintf("LogLine on PostgreSQL: in-process servers as `logline serve --store URL --data DIR` runs them, in database %s (created, migrated, dropped afterwards); %d spans per ingest run, %d clients × %d spans per request, through one node and then through two nodes on the database (the clients and bodies split between them); latency and stream through node 1; every commit pays hashes, chains, Merkle stored hashes, a signed checkpoint and RLS; CPU per span from /proc (this process; PostgreSQL's processes for that database)", rep.PGStore.Database, cfg.Spans, cfg.Clients, cfg.Batch))
	}
	if len(rep.Postgres.Runs) > 0 {
		n = append(n,
			"PostgreSQL: Blueprint4 §1 table in a scratch schema, dropped afterwards; id, parent_id and related_to are text, not uuid (span ids are not UUIDs); span fields without a column (data, confirmed_by) go into metadata jsonb; rows are prepared (and hashed) before the clock starts",
			fmt.Sprintf("PostgreSQL: synchronous_commit=%s, fsync=%s (server defaults, durable like LogLine); the benchmark role owns the table, so RLS policies are created but not evaluated (owners bypass RLS without FORCE)", rep.Postgres.SynchronousCommit, rep.Postgres.Fsync),
			fmt.Sprintf("PostgreSQL: one INSERT per span uses %d spans and the loader-as-written run (a connection per span, as Blueprint4's insertSpan/withPg) %d spans, because they are slow; batched INSERT and COPY use %d", cfg.PGSingleSpans, cfg.PGConnectSpans, cfg.PGSpans),
		)
	}
	return n
}

// num formats n with thousands separators, no decimals.
func num(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func mbString(b int64) string {
	if b < 10_000_000 {
		return fmt.Sprintf("%.2f MB", mb(b))
	}
	return fmt.Sprintf("%.0f MB", mb(b))
}

func mibString(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
