package bench

import "fmt"

// Targets of issue 5 ("Speed and Tests").
const (
	targetAuthShare       = 0.95   // ingest with auth on ÷ auth off
	targetLLSTFirstPerSec = 20_000 // first-time verifications per core
	targetQuietP99Ratio   = 1.2    // quiet tenant's p99 beside a noisy one ÷ alone
)

// authChecks compares the auth section with the targets of issue 5.
func authChecks(a *Auth) []Check {
	if a.Skipped != "" {
		return nil
	}
	var out []Check
	add := func(name, target, got string, ok bool) {
		out = append(out, Check{Name: name, Target: target, Got: got, OK: ok})
	}
	if in, off := a.Ingest, a.IngestOff; in.Error == "" && in.Spans > 0 && off.Error == "" && off.Spans > 0 {
		add("NDJSON ingest with auth on (LLST + quotas) vs auth off",
			fmt.Sprintf("≥ %.0f%% of auth off (%s spans/s)", targetAuthShare*100, num(off.SpansPerSec)),
			fmt.Sprintf("%s spans/s = %.1f%%", num(in.SpansPerSec), a.Share*100), a.Share >= targetAuthShare)
	}
	if v := a.Verify; v.Error == "" && v.FirstPerSec > 0 {
		add("first-time LLST verification, one core", fmt.Sprintf("≥ %s/s", num(targetLLSTFirstPerSec)),
			fmt.Sprintf("%s/s (cached %s/s)", num(v.FirstPerSec), num(v.CachedPerSec)), v.FirstPerSec >= targetLLSTFirstPerSec)
	}
	if n := a.Neighbour; n.Error == "" && n.NoisySent > 0 {
		add(fmt.Sprintf("noisy tenant at %d× its quota refused with 429", noisyFactor),
			fmt.Sprintf("≤ %s accepted (quota %s req/s + burst)", num(float64(n.NoisyAllowed)), num(n.NoisyLimit)),
			fmt.Sprintf("%s accepted, %s refused of %s (%.0f%% 429)", num(float64(n.NoisyAccepted)), num(float64(n.NoisyRefused)), num(float64(n.NoisySent)), n.RefusedShare*100),
			n.NoisyRefused > 0 && n.NoisyAccepted <= n.NoisyAllowed)
	}
	if n := a.Neighbour; n.Error == "" && n.Unloaded.P99 > 0 && n.Loaded.Requests > 0 {
		add("quiet tenant p99 under a noisy one",
			fmt.Sprintf("≤ %.1f × unloaded p99 (%.2f ms)", targetQuietP99Ratio, n.Unloaded.P99),
			fmt.Sprintf("%.2f ms = %.2f×", n.Loaded.P99, n.P99Ratio), n.P99Ratio <= targetQuietP99Ratio)
	}
	return out
}

// writeAuthTable writes the auth section with p (one tab-separated row
// per call).
func writeAuthTable(p func(format string, args ...any), rep *Report) {
	a := rep.Auth
	f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	p("AUTH (second in-process server: LLST bearer tokens, quotas)\tspans\tspans/s\tMB/s\tseconds\tclients × batch\t")
	if a.Skipped != "" {
		p("  skipped\t%s", a.Skipped)
		p("")
		return
	}
	row := func(what string, t Throughput) {
		p("  NDJSON ingest, durable, %s\t%d\t%s\t%.1f\t%s\t%d × %d\t%s", what, t.Spans, num(t.SpansPerSec), t.MBPerSec, f2(t.Seconds), t.Clients, t.Batch, runFlag(t.Partial, t.Error))
	}
	if len(rep.Ingest) > 0 {
		row("auth off, first run (above)", rep.Ingest[0])
	}
	if a.Ingest.Name != "" {
		row("auth off (rounds off, on, on, off)", a.IngestOff)
		row("auth on", a.Ingest)
		p("  auth on ÷ auth off\t\t%.1f%%\t\t\t\t", a.Share*100)
	}
	if v := a.Verify; v.Verifies > 0 {
		each := func(perSec float64) string {
			if perSec <= 0 {
				return ""
			}
			return fmt.Sprintf("%.2f µs each", 1e6/perSec)
		}
		p("  LLST verify, first time (no cache), 1 core\t%d of %d tokens\t%s/s\t%s\t\t\t%s", v.Verifies, v.Tokens, num(v.FirstPerSec), each(v.FirstPerSec), runFlag(v.Partial, v.Error))
		p("  LLST verify, first time (no cache), %d goroutines\t\t%s/s\t\t\t\t", rep.Machine.GOMAXPROCS, num(v.FirstParallelPerSec))
		p("  LLST verify, cached, 1 core\t\t%s/s\t%s\t\t\t", num(v.CachedPerSec), each(v.CachedPerSec))
	}
	if n := a.Neighbour; n.NoisyRate > 0 {
		p("  noisy tenant: quota %s req/s, single-span POSTs at %s req/s for 2 × %.1f s\t%d sent\t%d accepted (quota allows %d)\t%d × 429 (%.0f%%)\t%d other\t\t", num(n.NoisyLimit), num(n.NoisyRate), n.NoisySeconds/2, n.NoisySent, n.NoisyAccepted, n.NoisyAllowed, n.NoisyRefused, n.RefusedShare*100, n.NoisyOther)
		q := func(what string, l Latency) {
			p("  quiet tenant at %s req/s for %.0f s, %s\t%d requests\tp50 %s ms\tp95 %s ms\tp99 %s ms\tmax %s ms\t%s", num(n.QuietRate), n.Seconds, what, l.Requests, f2(l.P50), f2(l.P95), f2(l.P99), f2(l.Max), runFlag(l.Partial, l.Error))
		}
		q("alone", n.Unloaded)
		if n.Loaded.Requests > 0 || n.Loaded.Error != "" {
			q("beside the noisy tenant", n.Loaded)
			p("  quiet p99 beside ÷ alone\t\t%.2f×\t\t\t\t", n.P99Ratio)
		}
		if n.Error != "" {
			p("  FAILED\t%s", n.Error)
		}
	}
	if a.Error != "" && a.Ingest.Error == "" && a.Verify.Error == "" && a.Neighbour.Error == "" {
		p("  FAILED\t%s", a.Error)
	}
	p("")
}

// authNote explains how the auth section measured.
func authNote(a *Auth) string {
	if a.Skipped != "" || a.Ingest.Name == "" {
		return ""
	}
	n := a.Neighbour
	return fmt.Sprintf("auth: a second in-process server like the first with authentication on as `logline serve` without --dev "+
		"(LLST keys in its data directory, a caching llst.Verifier, quota.Limiter, refusals counted by authlog); "+
		"auth-on ingest: the same NDJSON bodies as the first unsigned run with a writer's service token, its tenant limited far above the run's rates so that every request, span and byte is charged; "+
		"auth off beside it: a third fresh server without authentication, in the same section, two rounds of the same bodies each (fresh ids per round) in the order off, on, on, off; "+
		"LLST verify timed in this process over %d tokens, first time = a Verifier with its cache disabled; "+
		"noisy neighbour: %s, limited to %s requests/s (burst one second's worth), sends single-span POSTs at %d× that, open loop, from %.1f s before to %.1f s after each half of the %s tenant's %.0f s beside it; "+
		"the %s tenant (unlimited) posts at %s req/s for %.0f s alone and %.0f s beside, in halves interleaved alone, beside, alone, beside; "+
		"its latency is from each request's start to its answer; each tenant has its own token and HTTP client",
		a.Verify.Tokens, noisyTenant, num(n.NoisyLimit), noisyFactor, n.LeadIn, n.LeadIn, quietTenant, n.Seconds,
		quietTenant, num(n.QuietRate), n.Seconds, n.Seconds)
}
