package bench

import (
	"fmt"
	"strings"
)

// The rows and checks the validators and dataplane sections (rounds.go)
// write alike. p writes one tab-separated row per call, as in WriteTable.

// checkable says whether a section's check can be judged: the section
// ran, the two servers it compares ingested without failing, and every
// share it is judged on is known.
func checkable(skipped string, a, b Throughput, shares ...float64) bool {
	if skipped != "" || a.Error != "" || a.Spans == 0 || b.Error != "" || b.Spans == 0 {
		return false
	}
	for _, s := range shares {
		if s <= 0 {
			return false
		}
	}
	return true
}

// costCheck is a section's check of a cost, 1 − a server's spans/s ÷
// base spans/s, against target: met when cost ≤ target.
func costCheck(name string, target, base, cost float64, got string) []Check {
	return []Check{{
		Name:   name,
		Target: fmt.Sprintf("cost ≤ %.0f%% (≥ %s spans/s of %s)", target*100, num(base*(1-target)), num(base)),
		Got:    got,
		OK:     cost <= target,
	}}
}

// pairsMedianCost is the cost by pairs of rounds, for a check's Got.
func pairsMedianCost(medianPairShare float64) string {
	return fmt.Sprintf("by pairs of rounds, median %.1f%%", (1-medianPairShare)*100)
}

// writeHeading writes a section's heading row and, when the section was
// skipped, why and the blank row after it; it says whether it was.
func writeHeading(p func(format string, args ...any), heading, skipped string) bool {
	p("%s", heading)
	if skipped == "" {
		return false
	}
	p("  skipped\t%s", skipped)
	p("")
	return true
}

// writeIngestRow writes a server's NDJSON ingest (nothing when it did not
// run) with its CPU µs per span, us, and all (the same with the section's
// waits after the runs) in brackets when known.
func writeIngestRow(p func(format string, args ...any), t Throughput, us, all float64) {
	if t.Name == "" {
		return
	}
	p("  NDJSON ingest, durable, %s\t%d\t%s\t%.1f\t%.2f\t%d × %d\t%s\t%s", t.Name, t.Spans, num(t.SpansPerSec), t.MBPerSec, t.Seconds, t.Clients, t.Batch, cpuMicrosCell(us, all), runFlag(t.Partial, t.Error))
}

// cpuMicrosCell is the CPU µs/span cell of an ingest row.
func cpuMicrosCell(us, all float64) string {
	switch {
	case us <= 0:
		return ""
	case all <= 0:
		return fmt.Sprintf("%.1f", us)
	}
	return fmt.Sprintf("%.1f (%.1f)", us, all)
}

// writePairShares writes the pair shares and their median, if any.
func writePairShares(p func(format string, args ...any), pairs []float64, medianPairShare float64) {
	if len(pairs) == 0 {
		return
	}
	var ps []string
	for _, x := range pairs {
		ps = append(ps, fmt.Sprintf("%.1f%%", x*100))
	}
	p("  the same by pairs of rounds (1+2, 3+4, …)\t\t%s: median %.1f%% (cost %.1f%%)\t\t\t\t\t", strings.Join(ps, ", "), medianPairShare*100, (1-medianPairShare)*100)
}

// writeOtherCPURow writes other processes' share of the CPU during the
// rounds, when known and there were rounds.
func writeOtherCPURow(p func(format string, args ...any), share float64, rounds int) {
	if share >= 0 && rounds > 0 {
		p("  CPU used by other processes during the runs\t%s", otherCPU(share))
	}
}

// otherCPU describes a share of CPU used by other processes.
func otherCPU(share float64) string {
	if share < 0 {
		return ""
	}
	return fmt.Sprintf("other processes %.0f%% of the CPU", share*100)
}

// writeFailedRow writes a section's error, unless an ingest row already
// shows it (ingests are the servers' figures), and the section's blank
// row.
func writeFailedRow(p func(format string, args ...any), errMsg string, ingests ...Throughput) {
	shown := false
	for _, t := range ingests {
		shown = shown || t.Error != ""
	}
	if errMsg != "" && !shown {
		p("  FAILED\t%s", errMsg)
	}
	p("")
}

// roundsNote describes a section's rounds for its note: rounds of, in
// all, spans per server.
func roundsNote(rounds, spans int) string {
	return fmt.Sprintf("a warm-up round (not counted), then %d rounds of %s spans per server, the same bodies for the three (fresh ids per round)", rounds, num(float64(spans/rounds)))
}

// settleNote describes the wait after each run (settle) for a section's
// note, settleSeconds the waits in all.
func settleNote(settleSeconds float64) string {
	return fmt.Sprintf("a wait until this process used at most %.0f%% of a core over %s (%.1f s in all)", valIdleShare*100, valIdleWindow, settleSeconds)
}
