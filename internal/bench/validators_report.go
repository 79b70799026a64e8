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
	if v.Skipped != "" {
		return nil
	}
	full, none := v.Full, v.None
	if full.Error != "" || full.Spans == 0 || none.Error != "" || none.Spans == 0 || v.Share <= 0 {
		return nil
	}
	got := fmt.Sprintf("%s spans/s: cost %.1f%% (%.2f µs per span)", num(full.SpansPerSec), v.Cost*100, v.WallMicros)
	if len(v.PairShares) > 0 {
		got = fmt.Sprintf("%s spans/s: cost %.1f%% (%.2f µs per span; by pairs of rounds, median %.1f%%)", num(full.SpansPerSec), v.Cost*100, v.WallMicros, (1-v.MedianPairShare)*100)
	}
	return []Check{{
		Name:   "NDJSON ingest with canonical_contract_v1 + 5 rules vs no validators",
		Target: fmt.Sprintf("cost ≤ %.0f%% (≥ %s spans/s of %s)", targetValidatorsCost*100, num(none.SpansPerSec*(1-targetValidatorsCost)), num(none.SpansPerSec)),
		Got:    got,
		OK:     v.Cost <= targetValidatorsCost,
	}}
}

// writeValidatorsTable writes the validators section with p (one
// tab-separated row per call).
func writeValidatorsTable(p func(format string, args ...any), rep *Report) {
	v := rep.Validators
	f2 := func(x float64) string { return fmt.Sprintf("%.2f", x) }
	p("VALIDATORS (tenant .lll programs on ingest, three in-process servers)\tspans\tspans/s\tMB/s\tseconds\tclients × batch\tCPU µs/span\t")
	if v.Skipped != "" {
		p("  skipped\t%s", v.Skipped)
		p("")
		return
	}
	cpu := func(us float64) string {
		if us <= 0 {
			return ""
		}
		return fmt.Sprintf("%.1f", us)
	}
	row := func(t Throughput, cpuUS float64) {
		if t.Name == "" {
			return
		}
		p("  NDJSON ingest, durable, %s\t%d\t%s\t%.1f\t%s\t%d × %d\t%s\t%s", t.Name, t.Spans, num(t.SpansPerSec), t.MBPerSec, f2(t.Seconds), t.Clients, t.Batch, cpu(cpuUS), runFlag(t.Partial, t.Error))
	}
	row(v.None, v.CPUMicrosNone)
	row(v.Default, v.CPUMicrosDefault)
	row(v.Full, v.CPUMicrosFull)
	if v.Share > 0 {
		p("  contract + 5 rules ÷ no validators\t\t%.1f%% (cost %.1f%%)\t\t\t\t\t", v.Share*100, v.Cost*100)
		if len(v.PairShares) > 0 {
			var ps []string
			for _, x := range v.PairShares {
				ps = append(ps, fmt.Sprintf("%.1f%%", x*100))
			}
			p("  the same by pairs of rounds (1+2, 3+4, …)\t\t%s: median %.1f%% (cost %.1f%%)\t\t\t\t\t", strings.Join(ps, ", "), v.MedianPairShare*100, (1-v.MedianPairShare)*100)
		}
		p("  default contract ÷ no validators\t\t%.1f%%\t\t\t\t\t", v.DefaultShare*100)
		p("  validation per span, contract + 5 rules\t\twall %s µs (from the rates)\t\t\t\tCPU %s µs\t", f2(v.WallMicros), f2(v.CPUMicros))
		p("  validation per span, default contract\t\twall %s µs (from the rates)\t\t\t\tCPU %s µs\t", f2(v.DefaultWallMicros), f2(v.CPUMicrosDefault-v.CPUMicrosNone))
	}
	for i, r := range v.Rounds {
		p("  round %d (%s)\t\tnone %s, default %s, full %s spans/s\tfull ÷ none %.1f%%\t%s\t\t\t", i+1, strings.Join(r.Order, ", "), num(r.NonePerSec), num(r.DefaultPerSec), num(r.FullPerSec), r.Share*100, otherCPU(r.OtherCPUShare))
	}
	if v.OtherCPUShare >= 0 && len(v.Rounds) > 0 {
		p("  CPU used by other processes during the runs\t%s", otherCPU(v.OtherCPUShare))
	}
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
	if v.Error != "" && v.None.Error == "" && v.Default.Error == "" && v.Full.Error == "" {
		p("  FAILED\t%s", v.Error)
	}
	p("")
}

// otherCPU describes a share of CPU used by other processes.
func otherCPU(share float64) string {
	if share < 0 {
		return ""
	}
	return fmt.Sprintf("other processes %.0f%% of the CPU", share*100)
}

// validatorsNote explains how the validators section measured.
func validatorsNote(v *Validators) string {
	if v.Skipped != "" || v.Full.Name == "" {
		return ""
	}
	return fmt.Sprintf("validators: three in-process servers like the first, each with serve's tenant programs (DATA/cfg/tenants/<tenant>/*.lll loaded by internal/programs, polled every 2 s, run by the gateway on every decoded span) and the one tenant %s: "+
		"none = its programs are a policy block only (no validator runs), default = no programs (canonical_contract_v1), full = the policy, canonical_contract_v1 and five rules (validators %s); "+
		"a warm-up round (not counted), then %d rounds of %s spans per server, the same bodies for the three (fresh ids per round), in every order of the three (each runs first, second and last twice); a GC before each run, and after it a wait until this process used at most %.0f%% of a core over %s (%.1f s in all); the first run of a round tends to be the fastest, so rounds are also taken in pairs in which none and full swap places (geometric mean of the two full ÷ none); "+
		"cost = 1 − full ÷ none spans/s of all rounds; wall µs per span = 1e6/full − 1e6/none spans/s; CPU µs per span of this whole process (clients + servers) during each server's runs; "+
		"the gateway calls Validate only, so emit's data is not built on ingest; "+
		"Machine.Validate alone: %s calls on one goroutine over the corpus spans decoded",
		valTenant, strings.Join(v.Validators, ", "), valRounds, num(float64(v.None.Spans/valRounds)), valIdleShare*100, valIdleWindow, v.SettleSeconds, num(float64(v.EvalCalls)))
}
