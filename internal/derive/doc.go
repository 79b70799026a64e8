// Package derive is LogLine's data plane (ARCHITECTURE.md §6, v8 §2.1,
// §3.2, §5): from the spans of the ledger, in ledger order, it derives
// trajectories, their quality scores and the rare diamond candidates, as
// spans of their own. It is pure and deterministic: no clock, no I/O, no
// randomness, no map iteration in what it emits — the same inputs under
// the same policies give the same derived spans, byte for byte, which is
// what `logline replay --verify` and `logline quality simulate` rely on.
//
// # Trajectories
//
// A tenant's spans are linked by key: the values of the policy's
// key_fields (default ["this"]). A span whose key has an open
// trajectory continues it, otherwise it opens one; either way a
// trajectory_edge {trajectory_id, position, src_span_id, this} is
// derived (position counts from 1). Spans are not linked when a key
// field is missing, when an exception "field:glob" matches, or when
// they are the data plane's own (derived types, clock and alert spans,
// who "system:…").
//
// Time is event time and advances only through the ledger: each tenant
// has a watermark, the latest `when` of its own spans and of clock spans
// (the server appends them for idle tenants with trajectories past their
// deadline); other system spans — derived, auth events — do not move it. When a
// span moves the watermark, every open trajectory whose deadline is now
// past closes first: it is idle longer than close_timeout (its latest
// span + close_timeout < watermark, reason "timeout") or older than
// window (its earliest span + window < watermark, reason "window";
// the earlier of the two deadlines gives the reason, "window" on a tie).
// Closes happen in deadline order (then trajectory id). A span whose
// close rule matches (a pipeline's close_by_timeout_or_rule(COND)) is
// linked, then closes its trajectory with reason "rule". At the end of
// an offline input, Finish closes what is open with reason
// "end_of_input". Spans out of event-time order continue their key's
// open trajectory; first and last are the earliest and latest event
// times of a trajectory's spans.
//
// # Quality score
//
// On close, with n spans, first and last their earliest and latest
// event times, and the quality_meter policy's weights and
// mass_saturation:
//
//	mass         = min(1, log2(1+n) / log2(1+mass_saturation))
//	persistence  = min(1, (last − first) / window)
//	verification = mean over the spans of 0.5·[verified client signature]
//	               + 0.5·[confirmed_by non-empty and status "confirmed"]
//	component    = round(100 × weight × value)   (half away from zero)
//	score        = mass + persistence + verification components, 0–100
//
// → trajectory_quality {trajectory_id, score, components}. Arithmetic is
// float64 without fused multiply-add, so results are the same on every
// platform.
//
// # Quality meter
//
// Scores are integers 0–100, so each tenant keeps an exact histogram of
// its earlier scores (all of them, or those closed within `horizon` of
// event time before this close). With N earlier scores and target p
// (percentile_target "p96" → 96), the threshold is the smallest score s
// such that the share of earlier scores strictly below s is ≥ p/100,
// raised to min_score; a closed trajectory is a diamond_candidate
// {score, threshold} when N ≥ min_samples and score ≥ threshold, and
// only when the tenant's features.diamond is on. The score then joins
// the histogram (whether or not diamond is on). Quantile gives
// quality.pXX.current (nearest rank).
//
// # Derived spans
//
// Each is a span of the deriving tenant with who "system:trajectory",
// did "link", "close", "score" or "flag", entity_type the v8 type, this
// the `this` of the linked span (edges) or of the span that opened the
// trajectory (the others), trace_id the trajectory id (so a
// trajectory's spans are one indexed query away), when the `when` (as
// written) of the span that caused it, related_to [that span's id], and
// the v8 payload under data. Ids are derived from the cause: "d_" + 40
// hex digits of SHA-256(tenant, cause id and seq, a type byte, the
// trajectory id's 16 bytes); trajectory ids from the opening span: "t_"
// + 32 hex digits of SHA-256(tenant, id, seq). Replaying the ledger
// therefore derives the same ids.
package derive
