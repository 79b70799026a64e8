package bench

import (
	"fmt"
	"strings"
)

// dataPlaneChecks compares the dataplane section with the target of
// issue 7. The target is judged on the rates that count the worker's
// catch-up: during a run the worker falls behind (its lag), so the rate
// of the run alone is ingest with a growing backlog, flattered by how
// little CPU the worker got; both are shown.
func dataPlaneChecks(dp *DataPlane) []Check {
	if !checkable(dp.Skipped, dp.On, dp.Off, dp.Share, dp.SustainedShare) {
		return nil
	}
	on, off := dp.On, dp.Off
	got := fmt.Sprintf("%s spans/s: cost %.1f%%; the runs alone (worker up to %s entries behind): %s vs %s spans/s, cost %.1f%%",
		num(dp.OnSustainedPerSec), dp.SustainedCost*100, num(float64(dp.MaxLag)), num(on.SpansPerSec), num(off.SpansPerSec), dp.Cost*100)
	if len(dp.PairShares) > 0 {
		got += " (" + pairsMedianCost(dp.MedianPairShare) + ")"
	}
	return costCheck("NDJSON ingest with trajectories + quality on vs off, counting the worker's catch-up after each run",
		targetDataPlaneCost, dp.OffSustainedPerSec, dp.SustainedCost, got)
}

// writeDataPlaneTable writes the dataplane section with p (one
// tab-separated row per call).
func writeDataPlaneTable(p func(format string, args ...any), rep *Report) {
	dp := rep.DataPlane
	f2 := func(x float64) string { return fmt.Sprintf("%.2f", x) }
	if writeHeading(p, "DATA PLANE (trajectories and quality, three in-process servers)\tspans\tspans/s\tMB/s\tseconds\tclients × batch\tCPU µs/span (+ catch-up)\t", dp.Skipped) {
		return
	}
	writeIngestRow(p, dp.None, dp.CPUMicrosNone, 0)
	writeIngestRow(p, dp.Off, dp.CPUMicrosOff, dp.CPUMicrosOffAll)
	writeIngestRow(p, dp.On, dp.CPUMicrosOn, dp.CPUMicrosOnAll)
	if dp.SustainedShare > 0 {
		p("  on ÷ off, counting the catch-up: spans ÷ (ingest + catch-up s)\t\toff %s, on %s spans/s: %.1f%% (cost %.1f%%)\t\t\t\t\t", num(dp.OffSustainedPerSec), num(dp.OnSustainedPerSec), dp.SustainedShare*100, dp.SustainedCost*100)
	}
	if dp.Share > 0 {
		p("  on ÷ off, the runs alone (the worker behind)\t\t%.1f%% (cost %.1f%%)\t\t\t\t\t", dp.Share*100, dp.Cost*100)
		writePairShares(p, dp.PairShares, dp.MedianPairShare)
		p("  worker with trajectory off ÷ no worker\t\t%.1f%%\t\t\t\t\t", dp.OffShare*100)
		p("  data plane per ingested span\t\twall %s µs (from the rates)\t\t\t\tCPU %s µs (with catch-up)\t", f2(dp.WallMicros), f2(dp.CPUMicros))
	}
	if dp.On.Spans > 0 {
		p("  derived spans appended (on)\t%d\t%.3f per ingested span\t\t\t\t\t", dp.Derived, dp.DerivedPerSpan)
		p("  worker catch-up after the runs (on)\t\t%s entries/s, %s derived/s\t\t%s\t\tlag at most %s entries\t", num(dp.CatchUpEntriesPerSec), num(dp.CatchUpDerivedPerSec), f2(dp.CatchUpSeconds), num(float64(dp.MaxLag)))
	}
	for i, r := range dp.Rounds {
		p("  round %d (%s)\t\tnone %s, off %s, on %s spans/s\ton ÷ off %.1f%%\t%s\t\ton: lag %s, caught up in %s s at %s derived/s; off: lag %s, %s s\t", i+1, strings.Join(r.Order, ", "),
			num(r.NonePerSec), num(r.OffPerSec), num(r.OnPerSec), r.Share*100, otherCPU(r.OtherCPUShare),
			num(float64(r.Lag)), f2(r.CatchUpSeconds), num(rate(float64(r.CatchUpDerived), r.CatchUpSeconds)), num(float64(r.OffLag)), f2(r.OffCatchUpSeconds))
	}
	writeOtherCPURow(p, dp.OtherCPUShare, len(dp.Rounds))
	if dp.DeriveMicros > 0 {
		p("  derive alone, 1 goroutine, %s spans (%.3f derived per span)\t\tApply + encode %.3f µs, Apply + Derived.Span of each derived %.3f µs\t\t\t\t\t", num(float64(dp.DeriveCalls)), dp.DerivePerSpan, dp.DeriveMicros, dp.DeriveBuildMicros)
	}
	writeFailedRow(p, dp.Error, dp.None, dp.Off, dp.On)
}

// dataPlaneNote explains how the dataplane section measured.
func dataPlaneNote(dp *DataPlane) string {
	if dp.Skipped != "" || dp.On.Name == "" {
		return ""
	}
	return fmt.Sprintf("dataplane: three in-process servers like the validators section's (tenant %s runs canonical_contract_v1 from DATA/cfg/tenants/%s/, its tenant.yaml read by internal/auth/tenantcfg and polled as serve does): "+
		"none = no data-plane worker (serve --no-derive), off = the worker as serve runs it with features.trajectory off (it follows the log, derives nothing; the gateway appends through its backpressure, dataplane.Admitting, as serve's does), on = the worker with features.trajectory and features.diamond on (trajectory edges, closes, scores, candidates appended to the same ledger); "+
		"%s, each server first, second and last twice, off and on swapping places in each pair of rounds; "+
		"a run's rate ends with its last response; then the section waits until the worker has applied every entry (its derived spans included: lag = entries not yet applied when the run ended, catch-up = the time to apply them), a GC before each run and after it %s; "+
		"cost = 1 − on ÷ off spans/s of all rounds, counting each run's catch-up (spans ÷ (ingest + catch-up seconds): the rate the worker keeps up with; the target is judged on it) and for the runs alone; CPU µs per span of this whole process (clients, servers, workers) during the runs, and in brackets with the catch-up; "+
		"the corpus is cycled with fresh ids but its event times, so after its first pass (the warm-up) event time no longer advances: each span continues the open trajectory of its key (its `this`) and trajectories close (scores, candidates) only where the corpus itself moves time, as derived spans per span show; "+
		"derive alone: %s spans on one goroutine over the corpus spans decoded (derive.FromSpan, Engine.Apply, Derived.AppendJSON; or Derived.Span of each derived span, the span.Builder the worker appends with)",
		dpTenant, dpTenant, roundsNote(dpRounds, dp.On.Spans), settleNote(dp.SettleSeconds), num(float64(dp.DeriveCalls)))
}
