package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes rep as indented JSON.
func WriteJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// runFlag marks a run in the tables: FAILED with its error, or stopped
// at the time limit; "" for a whole run.
func runFlag(partial bool, errMsg string) string {
	switch {
	case errMsg != "":
		return "FAILED: " + errMsg
	case partial:
		return "(stopped at the time limit)"
	}
	return ""
}

// WriteTable writes rep for people: one block per section.
func WriteTable(w io.Writer, rep Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	f1 := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	f3 := func(v float64) string { return fmt.Sprintf("%.3f", v) }

	p("LogLine bench\t%s\ttook %s", rep.Started.Format(time.RFC3339), time.Duration(rep.Seconds*float64(time.Second)).Round(time.Second))
	p("target\t%s", rep.Target)
	src := rep.Corpus.Source
	if rep.Corpus.Skipped > 0 {
		src += fmt.Sprintf(" (%d lines skipped)", rep.Corpus.Skipped)
	}
	p("spans\t%s: %d templates cycled with fresh ids; %.0f B unsigned, %.0f B signed on average", src, rep.Corpus.Templates, rep.Corpus.AvgBytes, rep.Corpus.Signed)
	p("")

	m := rep.Machine
	p("MACHINE")
	p("  cpu\t%s", m.CPU)
	p("  cores / GOMAXPROCS\t%d / %d", m.Cores, m.GOMAXPROCS)
	p("  memory\t%.1f GiB", float64(m.MemoryBytes)/(1<<30))
	p("  go\t%s", m.GoVersion)
	p("  os / kernel\t%s / %s", m.OS, m.Kernel)
	p("  data dir\t%s", m.DataDir)
	p("  filesystem\t%s", m.Filesystem)
	p("  fdatasync (64 B write + fdatasync)\tp50 %s ms, p99 %s ms (%d samples)", f3(m.FdatasyncP50), f3(m.FdatasyncP99), m.FsyncSamples)
	p("  load average at start / end\t%s / %s", m.LoadStart, m.LoadEnd)
	if m.OtherCPUShare >= 0 {
		p("  CPU used by other processes\t%.0f%% of all cores while the LogLine sections ran", m.OtherCPUShare*100)
	}
	p("")

	p("NDJSON INGEST, DURABLE\tspans\tspans/s\tMB/s\tseconds\tclients × batch\t")
	for _, t := range rep.Ingest {
		p("  %s\t%d\t%s\t%s\t%s\t%d × %d\t%s", t.Name, t.Spans, num(t.SpansPerSec), f1(t.MBPerSec), f2(t.Seconds), t.Clients, t.Batch, runFlag(t.Partial, t.Error))
	}
	v := rep.Verify
	p("  raw Ed25519 verify, 1 core\t\t%s\t\t\t", num(v.SingleCorePerSec))
	p("  raw Ed25519 verify × %d cores (reference)\t\t%s\t\t\t", v.Cores, num(v.ReferencePerSec))
	p("  raw Ed25519 verify, %d goroutines at once\t\t%s\t\t\t", m.GOMAXPROCS, num(v.ParallelPerSec))
	p("  signed ingest ÷ reference\t\t%.0f%%\t\t\t", v.SignedIngestShare*100)
	p("  client-side span.Sign (not timed above)\t\t%s\t\t\t", num(v.SignPerSec))
	p("")

	if len(rep.Latency) > 0 {
		p("SINGLE-SPAN POST /ingest\trequests\tper s\tp50 ms\tp95 ms\tp99 ms\tmax ms\t")
		for _, l := range rep.Latency {
			p("  %d clients\t%d\t%s\t%s\t%s\t%s\t%s\t%s", l.Clients, l.Requests, num(l.PerSec), f2(l.P50), f2(l.P95), f2(l.P99), f2(l.Max), runFlag(l.Partial, l.Error))
		}
		p("")
	}

	r := rep.Reads
	p("READS")
	if r.Skipped != "" {
		p("  skipped\t%s", r.Skipped)
	} else {
		g := r.Get
		p("  GET /spans/{id}, random ids\t%d requests, %d clients\t%s req/s\tp50 %s ms, p95 %s ms, p99 %s ms\t%s", g.Requests, g.Clients, num(g.PerSec), f2(g.P50), f2(g.P95), f2(g.P99), runFlag(g.Partial, g.Error))
		p("  GET /spans pages of %d\t%d pages, %d spans\t%s pages/s\t%s spans/s\t%s", r.PageSize, r.Pages, r.PageSpans, f1(r.PagesPerSec), num(r.PageSpansPerSec), runFlag(r.PagePartial, r.Error))
	}
	s := rep.Stream
	if s.Skipped != "" {
		p("  GET /ledger/stream\tskipped")
	} else {
		p("  GET /ledger/stream from 0\t%d entries, %.1f MB\t%s spans/s\t%s MB/s\t%s", s.Spans, mb(s.Bytes), num(s.SpansPerSec), f1(s.MBPerSec), runFlag(s.Partial, s.Error))
	}
	p("")

	writeAuthTable(p, &rep)
	writeValidatorsTable(p, &rep)
	writeDataPlaneTable(p, &rep)

	rc := rep.Recovery
	p("RECOVERY")
	if rc.Skipped != "" {
		p("  skipped\t%s", rc.Skipped)
	} else {
		p("  data\t%d spans, %d segments, %.0f MB segments, %.0f MB index", rc.Spans, rc.Segments, mb(rc.SegmentBytes), mb(rc.IndexBytes))
		p("  build (Store.Append, batches of %d)\t%s s, %s spans/s", recoveryBatch, f2(rc.BuildSeconds), num(rc.BuildSpansPerSec))
		p("  reopen after a clean close\t%s s", f3(rc.CleanReopenSeconds))
		p("  reopen after a crash\t%s s (torn tail of %d B cut, %d un-indexed entries replayed)", f3(rc.CrashReopenSeconds), rc.TornBytes, rc.IndexLag)
		p("  reopen with the index lost\t%s s (full rebuild)", f3(rc.RebuildSeconds))
		if rc.Error != "" {
			p("  FAILED\t%s", rc.Error)
		}
	}
	p("")

	pr := rep.Proofs
	p("PROOFS (store, no HTTP)")
	switch {
	case pr.Skipped != "":
		p("  skipped\t%s", pr.Skipped)
	case pr.Error != "":
		p("  FAILED\t%s", pr.Error)
	default:
		p("  inclusion, tree of %d entries\t%s proofs/s on all cores\t%s proofs/s on one\t%.1f hashes each", pr.Entries, num(pr.InclusionPerSec), num(pr.InclusionSinglePerSec), pr.ProofHashes)
		p("  consistency, random sizes\t%s proofs/s on all cores", num(pr.ConsistencyPerSec))
	}
	p("")

	x := rep.Export
	p("TENANT EXPORT (store → signed bundle file → verify, no HTTP)")
	switch {
	case x.Skipped != "":
		p("  skipped\t%s", x.Skipped)
	case x.Error != "":
		p("  FAILED\t%s", x.Error)
	default:
		share := func(v float64) string {
			if v < 0 {
				return ""
			}
			return fmt.Sprintf(", other processes %.0f%% of the cores", v*100)
		}
		p("  write (proofs, fsync, rename)\t%d entries of %s, %.0f MB\t%s entries/s\t%s MB/s\t%s s\t%s µs CPU per entry%s", x.Entries, x.Tenant, mb(x.Bytes), num(x.WriteEntriesPerSec), f1(x.WriteMBPerSec), f2(x.WriteSeconds), f1(x.WriteCPUMicros), share(x.WriteOtherShare))
		p("  verify with the log key\t\t%s entries/s\t%s MB/s\t%s s\t%s µs CPU per entry%s", num(x.VerifyEntriesPerSec), f1(x.VerifyMBPerSec), f2(x.VerifySeconds), f1(x.VerifyCPUMicros), share(x.VerifyOtherShare))
	}
	p("")

	mem := rep.Memory
	p("MEMORY, ONE STREAMED NDJSON BODY\tbody\tspans\tspans/s\tMB/s\tbaseline heap\tpeak heap\tpeak Go memory\t")
	if mem.Skipped != "" {
		p("  skipped\t%s", mem.Skipped)
	}
	for _, r := range mem.Runs {
		p("  \t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s", mbString(r.BodyBytes), r.Spans, num(r.SpansPerSec), f1(r.MBPerSec),
			mibString(r.BaselineHeapBytes), mibString(r.PeakHeapBytes), mibString(r.PeakGoBytes), runFlag(r.Partial, ""))
	}
	if mem.Error != "" {
		p("  FAILED\t%s", mem.Error)
	}
	p("")

	ps := rep.PGStore
	p("LOGLINE ON POSTGRESQL (serve --store, in-process)\tspans\tspans/s\tMB/s\tseconds\tclients × batch\t")
	switch {
	case ps.Skipped != "":
		p("  skipped\t%s", ps.Skipped)
	default:
		for _, t := range ps.Ingest {
			p("  NDJSON ingest, durable, %s\t%d\t%s\t%s\t%s\t%d × %d\t%s", t.Name, t.Spans, num(t.SpansPerSec), f1(t.MBPerSec), f2(t.Seconds), t.Clients, t.Batch, runFlag(t.Partial, t.Error))
		}
		if l := ps.Latency; l.Clients > 0 {
			p("  single-span POST /ingest, %d clients\t%d requests\t%s per s\tp50 %s ms, p95 %s ms, p99 %s ms, max %s ms\t\t\t%s", l.Clients, l.Requests, num(l.PerSec), f2(l.P50), f2(l.P95), f2(l.P99), f2(l.Max), runFlag(l.Partial, l.Error))
		}
		if s := ps.Stream; s.Spans > 0 || s.Error != "" {
			p("  GET /ledger/stream from 0\t%d entries\t%s spans/s\t%s MB/s\t%s\t\t%s", s.Spans, num(s.SpansPerSec), f1(s.MBPerSec), f2(s.Seconds), runFlag(s.Partial, s.Error))
		}
		if ps.GoCPUMicros > 0 || ps.PostgresCPUMicros > 0 {
			p("  CPU per span, one node\tLogLine process (clients + server) %s µs, PostgreSQL %s µs", f1(ps.GoCPUMicros), f1(ps.PostgresCPUMicros))
		}
		if ps.OtherCPUShare >= 0 {
			p("  CPU used by other processes\t%.0f%% of all cores (PostgreSQL's work for %s not counted)", ps.OtherCPUShare*100, ps.Database)
		}
		p("  server: %s; synchronous_commit=%s, fsync=%s; database %s", firstWords(ps.Server, 2), ps.SynchronousCommit, ps.Fsync, ps.Database)
		if ps.Error != "" {
			p("  FAILED: %s", ps.Error)
		}
	}
	p("")

	pg := rep.Postgres
	p("POSTGRESQL BASELINE (Blueprint4 table)\ttriggers\tconns\tspans\tspans/s\tseconds\t")
	if pg.Skipped != "" {
		p("  skipped\t%s", pg.Skipped)
	} else {
		for _, r := range pg.Runs {
			p("  %s\t%s\t%d\t%d\t%s\t%s\t%s", r.Method, pgTriggers(r.Table), r.Connections, r.Spans, num(r.SpansPerSec), f2(r.Seconds), runFlag(r.Partial, r.Error))
		}
		p("  server: %s; synchronous_commit=%s, fsync=%s", firstWords(pg.Server, 2), pg.SynchronousCommit, pg.Fsync)
		if pg.Error != "" {
			p("  FAILED: %s", pg.Error)
		}
	}
	p("")

	if len(rep.Checks) > 0 {
		p("TARGETS\ttarget\tmeasured\t")
		for _, c := range rep.Checks {
			mark := "ok"
			if !c.OK {
				mark = "MISSED"
			}
			p("  %s\t%s\t%s\t%s", c.Name, c.Target, c.Got, mark)
		}
		p("")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintln(w, "NOTES")
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
	return nil
}

// pgTriggers is the short name of a PostgreSQL table variant.
func pgTriggers(table string) string {
	if strings.Contains(table, "without the notify") {
		return "append-only"
	}
	return "append-only + notify"
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}
