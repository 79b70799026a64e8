package bench

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// validatorsChecks compares the validators section with the target of
// issue 6.
func validatorsChecks(v *Validators) []Check {
	if !checkable(v.Skipped, v.Full, v.None, v.Share) {
		return nil
	}
	full, none := v.Full, v.None
	got := fmt.Sprintf("%s spans/s: cost %.1f%% (%.2f µs per span)", num(full.SpansPerSec), v.Cost*100, v.WallMicros)
	if len(v.PairShares) > 0 {
		got = fmt.Sprintf("%s spans/s: cost %.1f%% (%.2f µs per span; %s)", num(full.SpansPerSec), v.Cost*100, v.WallMicros, pairsMedianCost(v.MedianPairShare))
	}
	return costCheck("NDJSON ingest with canonical_contract_v1 + 5 rules vs no validators", targetValidatorsCost, none.SpansPerSec, v.Cost, got)
}

// writeValidatorsTable writes the validators section with p (one
// tab-separated row per call).
func writeValidatorsTable(p func(format string, args ...any), rep *Report) {
	v := rep.Validators
	f2 := func(x float64) string { return fmt.Sprintf("%.2f", x) }
	if writeHeading(p, "VALIDATORS (tenant .lll programs on ingest, three in-process servers)\tspans\tspans/s\tMB/s\tseconds\tclients × batch\tCPU µs/span\t", v.Skipped) {
		return
	}
	writeIngestRow(p, v.None, v.CPUMicrosNone, 0)
	writeIngestRow(p, v.Default, v.CPUMicrosDefault, 0)
	writeIngestRow(p, v.Full, v.CPUMicrosFull, 0)
	if v.Share > 0 {
		p("  contract + 5 rules ÷ no validators\t\t%.1f%% (cost %.1f%%)\t\t\t\t\t", v.Share*100, v.Cost*100)
		writePairShares(p, v.PairShares, v.MedianPairShare)
		p("  default contract ÷ no validators\t\t%.1f%%\t\t\t\t\t", v.DefaultShare*100)
		p("  validation per span, contract + 5 rules\t\twall %s µs (from the rates)\t\t\t\tCPU %s µs\t", f2(v.WallMicros), f2(v.CPUMicros))
		p("  validation per span, default contract\t\twall %s µs (from the rates)\t\t\t\tCPU %s µs\t", f2(v.DefaultWallMicros), f2(v.CPUMicrosDefault-v.CPUMicrosNone))
	}
	for i, r := range v.Rounds {
		p("  round %d (%s)\t\tnone %s, default %s, full %s spans/s\tfull ÷ none %.1f%%\t%s\t\t\t", i+1, strings.Join(r.Order, ", "), num(r.NonePerSec), num(r.DefaultPerSec), num(r.FullPerSec), r.Share*100, otherCPU(r.OtherCPUShare))
	}
	writeOtherCPURow(p, v.OtherCPUShare, len(v.Rounds))
	if v.EvalMicrosFull > 0 {
		p("  Machine.Validate alone, 1 goroutine, %s calls\t\tnone %.3f µs, default %.3f µs, contract + 5 rules %.3f µs\t\t\t\t\t", num(float64(v.EvalCalls)), v.EvalMicrosNone, v.EvalMicrosDefault, v.EvalMicrosFull)
	}
	if v.PredictedCost > 0 {
		p("  cost predicted by Validate alone (CPU-bound ingest)\t\t%.1f%% = %.2f µs ÷ (%.1f + %.2f µs)\t\t\t\t\t", v.PredictedCost*100, v.EvalMicrosFull-v.EvalMicrosNone, v.CPUMicrosNone, v.EvalMicrosFull-v.EvalMicrosNone)
	}
	if c := v.Corpus; c.Spans > 0 {
		var applied []string
		for _, r := range valRules {
			applied = append(applied, fmt.Sprintf("%s %.0f%%", r.name, 100*float64(c.Applied[r.name])/float64(c.Spans)))
		}
		p("  rules apply to (of %d corpus spans)\t%s", c.Spans, strings.Join(applied, ", "))
		warned := "none"
		if len(c.Warned) > 0 {
			var w []string
			for _, k := range slices.Sorted(maps.Keys(c.Warned)) {
				w = append(w, fmt.Sprintf("%s (%d spans)", k, c.Warned[k]))
			}
			warned = strings.Join(w, "; ")
		}
		p("  corpus spans warned (stored with a warning)\t%s", warned)
	}
	writeFailedRow(p, v.Error, v.None, v.Default, v.Full)
}

// validatorsNote explains how the validators section measured.
func validatorsNote(v *Validators) string {
	if v.Skipped != "" || v.Full.Name == "" {
		return ""
	}
	return fmt.Sprintf("validators: three in-process servers like the first, each with serve's tenant programs (DATA/cfg/tenants/<tenant>/*.lll loaded by internal/programs, polled every 2 s, run by the gateway on every decoded span) and the one tenant %s: "+
		"none = its programs are a policy block only (no validator runs), default = no programs (canonical_contract_v1), full = the policy, canonical_contract_v1 and five rules (validators %s); "+
		"%s, in every order of the three (each runs first, second and last twice); a GC before each run, and after it %s; the first run of a round tends to be the fastest, so rounds are also taken in pairs in which none and full swap places (geometric mean of the two full ÷ none); "+
		"cost = 1 − full ÷ none spans/s of all rounds; wall µs per span = 1e6/full − 1e6/none spans/s; CPU µs per span of this whole process (clients + servers) during each server's runs; "+
		"the gateway calls Validate only, so emit's data is not built on ingest; "+
		"Machine.Validate alone: %s calls on one goroutine over the corpus spans decoded",
		valTenant, strings.Join(v.Validators, ", "), roundsNote(valRounds, v.None.Spans), settleNote(v.SettleSeconds), num(float64(v.EvalCalls)))
}
