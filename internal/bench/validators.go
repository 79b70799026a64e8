package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/logline/logline/internal/gateway"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
	"github.com/logline/logline/internal/programs"
	"github.com/logline/logline/internal/span"
)

// The validators section (issue 6, "Speed"): what a tenant's .lll
// validators cost on NDJSON ingest. Three in-process servers like the
// first, each with serve's tenant programs (internal/programs over its
// data directory, polled, run by the gateway on every span), and one
// tenant whose programs differ: a policy block only (no validator runs),
// no programs at all (the default canonical_contract_v1), or the policy,
// canonical_contract_v1 and five rules of its own. Each server gets the same bodies, byte for byte,
// in interleaved rounds, so that every store has the same size when its
// turn comes.
const (
	// valTenant is the tenant of the three servers.
	valTenant = "bench-validators"
	// valRounds is how many rounds each server ingests: one per order of
	// valOrders.
	valRounds = 6
	// After each run the section waits until this process is idle — it
	// used at most valIdleShare of one core over valIdleWindow — so that
	// a store's background work (index flushes and compactions) is not
	// charged to the next server's run; at most valSettleMax.
	valIdleWindow = 100 * time.Millisecond
	valIdleShare  = 0.05
	valSettleMax  = 10 * time.Second
	// valProbeRule is the field rule added to a rule to see which spans
	// it applies to: no span has the field.
	valProbeRule = `require field "data.__bench_probe__"`
	// targetValidatorsCost is the target of issue 6: ingest with the
	// canonical contract and five rules at most 10% slower than ingest
	// without validators.
	targetValidatorsCost = 0.10
)

// valRunSpans is how many spans each run of the section posts: half of
// Config.Spans (valRounds of them per server: three times Config.Spans).
func valRunSpans(spans int) int { return max(1, spans/2) }

// valPolicy is the only program of the none server's tenant, and a
// program of the full server's (a rule reads the channels).
const valPolicy = `# What the tenant's intake accepts.
policy intake {
  channels: ["Internet", "Desk", "Post", "e-mail", "Intern", "web"]
  max_confirmers: 8
}
`

// valRule is one rule (a validator block) of the full server's
// rules.lll.
type valRule struct {
	name string
	src  string
}

// valRules are the five typical rules of the issue: field types on data
// paths, a when with a comparison and `in`, a glob (required of the
// span's subject), a warning, an emit.
// Every span of the receipt corpus passes them; the generated spans pass
// too (the last two do not apply to them: no department).
var valRules = []valRule{
	{"receipt_data", `validator receipt_data {
  require field "data" as "object"
  require field "data.channel" as "string"
  allow field "data.department" as "string"
  allow field "data.deadline" as "string"
  allow field "data.amount" as "number"
}
`},
	{"confirmed_known_channel", `validator confirmed_known_channel {
  when status == "confirmed" and data.channel in policy.intake.channels
  require field "confirmed_by" as "array"
}
`},
	{"case_subject", `validator case_subject {
  require this matches "case:*"
  require field "status" as "string"
}
`},
	{"responsible_named", `validator responsible_named {
  when has(data.department)
  require field "data.responsible" as "string"
  on_fail "warn"
}
`},
	{"receipt_seen", `validator receipt_seen {
  input: "span"
  when did matches "*receipt*"
  require field "data.department" as "string"
  emit "receipt_seen" with { case: this, channel: data.channel }
}
`},
}

// valRulesSource is rules.lll of the full server's tenant.
func valRulesSource() []byte {
	var b strings.Builder
	b.WriteString("# Five rules of the tenant's own, beside canonical_contract_v1.\n")
	for _, r := range valRules {
		b.WriteString("\n" + r.src)
	}
	return []byte(b.String())
}

// valPrograms are the files of valTenant's program directory on the
// server of each variant (none for "default").
func valPrograms(key string) map[string][]byte {
	switch key {
	case "none":
		return map[string][]byte{"policy.lll": []byte(valPolicy)}
	case "full":
		return map[string][]byte{
			"policy.lll":                []byte(valPolicy),
			check.CanonicalContractFile: check.CanonicalContractSource(),
			"rules.lll":                 valRulesSource(),
		}
	}
	return nil
}

// Validators is the cost of a tenant's validators on ingest.
type Validators struct {
	// None, Default and Full are the unsigned NDJSON ingest of the
	// corpus, durable, into the server whose tenant has no validators,
	// the one whose tenant runs the default canonical_contract_v1, and
	// the one whose tenant runs the contract and five rules. Each is
	// valRounds runs of half Config.Spans (fresh ids each round, the
	// same bodies for the three), in the orders of valOrders, so that
	// drift in the machine's state and a run's place in its round fall
	// on all alike; the figures are of all rounds together.
	None    Throughput `json:"ingest_no_validators"`
	Default Throughput `json:"ingest_default_contract"`
	Full    Throughput `json:"ingest_contract_and_rules"`
	// Share is Full ÷ None in spans/s and Cost is 1 − Share (the target
	// is Cost ≤ 10%); DefaultShare is Default ÷ None.
	Share        float64 `json:"full_share"`
	Cost         float64 `json:"full_cost"`
	DefaultShare float64 `json:"default_share"`
	// WallMicros is what validation adds to each span in wall-clock time,
	// from the difference of the rates: 1e6/Full − 1e6/None µs (clients
	// and server share the cores, so the CPU it takes is up to cores ×
	// that); DefaultWallMicros likewise for Default.
	WallMicros        float64 `json:"wall_us_per_span"`
	DefaultWallMicros float64 `json:"default_wall_us_per_span"`
	// CPU time of this process (clients and server) per span during each
	// tenant's runs, µs; 0 when unknown. CPUMicros is Full's minus None's.
	CPUMicrosNone    float64 `json:"cpu_us_per_span_none"`
	CPUMicrosDefault float64 `json:"cpu_us_per_span_default"`
	CPUMicrosFull    float64 `json:"cpu_us_per_span_full"`
	CPUMicros        float64 `json:"cpu_us_per_span_validation"`
	// OtherCPUShare is the part of all cores' time other processes used
	// during the timed runs (0 on a quiet machine, -1 when unknown): the
	// rates above are only comparable on a quiet machine.
	OtherCPUShare float64 `json:"other_cpu_share"`
	// SettleSeconds is how long the section waited, in all, for the
	// process to be idle after each run.
	SettleSeconds float64 `json:"settle_seconds"`
	// Eval is Machine.Validate alone on one goroutine in this process
	// over the corpus spans decoded, µs per call, for each tenant's
	// program: EvalCalls calls each (as many as the spans each tenant
	// ingested).
	EvalMicrosNone    float64 `json:"eval_us_none"`
	EvalMicrosDefault float64 `json:"eval_us_default"`
	EvalMicrosFull    float64 `json:"eval_us_full"`
	EvalCalls         int     `json:"eval_calls"`
	// PredictedCost is the cost Validate alone predicts if ingest is
	// bound by CPU: (EvalMicrosFull − EvalMicrosNone) ÷ (CPUMicrosNone +
	// that); 0 when a figure is missing.
	PredictedCost float64 `json:"predicted_cost"`
	// Rounds are the rates of each round. A run's place in its round
	// sways its rate (the first of a round is often the fastest), so
	// rounds are also taken in pairs in which none and full swap places:
	// PairShares are the geometric means of the Full ÷ None of rounds 1
	// and 2, 3 and 4, 5 and 6 (the place cancels), MedianPairShare their
	// median (less swayed by one disturbed pair than Share).
	Rounds          []ValidatorsRound `json:"rounds,omitempty"`
	PairShares      []float64         `json:"pair_shares,omitempty"`
	MedianPairShare float64           `json:"median_pair_share"`
	// Validators are the full tenant's validators in program order.
	Validators []string `json:"validators,omitempty"`
	// Corpus is what the full tenant's program decides about each corpus
	// span, checked before the timed runs.
	Corpus  ValidatorsCorpus `json:"corpus"`
	Skipped string           `json:"skipped,omitempty"`
	Error   string           `json:"error,omitempty"`
}

// ValidatorsRound is one round: each tenant's rate, in the order run.
type ValidatorsRound struct {
	Order         []string `json:"order"` // "none", "default", "full"
	NonePerSec    float64  `json:"none_spans_per_sec"`
	DefaultPerSec float64  `json:"default_spans_per_sec"`
	FullPerSec    float64  `json:"full_spans_per_sec"`
	Share         float64  `json:"full_share"`
	// OtherCPUShare is the part of all cores' time other processes used
	// during the round (-1 when unknown).
	OtherCPUShare float64 `json:"other_cpu_share"`
}

// ValidatorsCorpus is the full program's verdicts on the corpus spans.
type ValidatorsCorpus struct {
	Spans int `json:"spans"`
	// Applied counts, per rule of valRules, the corpus spans whose input
	// and when it matches (where it does work).
	Applied map[string]int `json:"applied"`
	// Warned counts, per "validator: rule", the corpus spans a warning
	// rule fails (stored, with a warning). No rule rejects a corpus span:
	// the section refuses to run otherwise.
	Warned map[string]int `json:"warned,omitempty"`
}

// validatorsOptions are what measureValidators needs of Config.
type validatorsOptions = roundsOptions

// valServer is an in-process server with tenant programs.
type valServer struct {
	*localServer
	set  *programs.Set
	stop func() // ends the reload loop
}

// startValServer writes progs (tenant → file → source) under
// dir/cfg/tenants, loads them as serve does (programs.Open, polled by
// Set.Run) and starts a server in dir whose gateway runs them. Every
// tenant's program must compile.
func startValServer(ctx context.Context, dir string, progs map[string]map[string][]byte, log *slog.Logger) (*valServer, error) {
	if err := writeTenantFiles(dir, progs); err != nil {
		return nil, err
	}
	return startProgServer(ctx, dir, len(progs), nil, nil, log)
}

// writeTenantFiles writes files (tenant → file → content) under
// dir/cfg/tenants.
func writeTenantFiles(dir string, files map[string]map[string][]byte) error {
	for tenant, fs := range files {
		td := filepath.Join(dir, "cfg", "tenants", tenant)
		if err := os.MkdirAll(td, 0o755); err != nil {
			return fmt.Errorf("tenant programs: %w", err)
		}
		for name, src := range fs {
			if err := os.WriteFile(filepath.Join(td, name), src, 0o644); err != nil {
				return fmt.Errorf("tenant programs: %w", err)
			}
		}
	}
	return nil
}

// startProgServer is startValServer once the files are written: that
// many tenants must have programs of their own; features gives the
// tenants' feature flags to their programs (nil: all off); ingest, when
// set, gives the store the gateway appends to (serverOptions.ingest).
func startProgServer(ctx context.Context, dir string, tenants int, features func(string) eval.Features, ingest func(ledger.Store, *programs.Set) (ledger.Store, error), log *slog.Logger) (*valServer, error) {
	set, err := programs.Open(ctx, programs.Config{DataDir: dir, ValidTenant: span.ValidTenant, Features: features, Logger: log})
	if err != nil {
		return nil, err
	}
	for _, st := range set.Status() {
		if st.Err != "" || st.Default {
			return nil, fmt.Errorf("tenant %s: programs not loaded: %s", st.Tenant, st.Err)
		}
	}
	if n := len(set.Status()); n != tenants {
		return nil, fmt.Errorf("%d tenants' programs loaded, want %d", n, tenants)
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = set.Run(loopCtx) })
	stop := func() { cancel(); wg.Wait() }
	o := serverOptions{validate: validateWith(set)}
	if ingest != nil {
		o.ingest = func(st ledger.Store) (ledger.Store, error) { return ingest(st, set) }
	}
	srv, err := startLocalWith(ctx, dir, o, log)
	if err != nil {
		stop()
		return nil, err
	}
	return &valServer{localServer: srv, set: set, stop: stop}, nil
}

// Close stops the reloads and the server.
func (v *valServer) Close() error {
	v.stop()
	return v.localServer.Close()
}

// validateWith is the gateway's validation through set, as serve wires
// it (internal/cli validateWith).
func validateWith(set *programs.Set) gateway.ValidateFunc {
	return func(ctx context.Context, sp *span.Span) ([]gateway.Verdict, error) {
		vs, err := set.Machine(sp.Tenant).Validate(ctx, sp)
		if err != nil || len(vs) == 0 {
			return nil, err
		}
		out := make([]gateway.Verdict, len(vs))
		for i, v := range vs {
			out[i] = gateway.Verdict{Validator: v.Validator, Rule: v.Rule, Message: v.Message, Reject: v.Action != ir.ActionWarn}
		}
		return out, nil
	}
}

// valVariants are the three servers.
var valVariants = []string{"none", "default", "full"}

// valOrders are the orders of the rounds: every permutation, so that
// each server runs first, second and last equally often (a run's place
// in its round sways its rate: the first is often the fastest). Rounds
// 1 and 2, 3 and 4, 5 and 6 form pairs in which none and full swap
// places, default keeping its own.
var valOrders = [valRounds][3]string{
	{"none", "default", "full"}, {"full", "default", "none"},
	{"default", "full", "none"}, {"default", "none", "full"},
	{"none", "full", "default"}, {"full", "none", "default"},
}

// valPlan is how the section's rounds run (rounds.go): in the orders of
// valOrders, full ÷ none each round, the warm-up only posting.
func valPlan(o validatorsOptions) roundsPlan {
	return roundsPlan{
		Options: o, Section: "validators", Variants: valVariants, Orders: valOrders[:], Num: "full", Den: "none",
		Names: map[string]string{"none": "no validators (a policy block only)", "default": "default canonical_contract_v1", "full": "canonical_contract_v1 + 5 rules"},
		Kind:  "v", PerRun: valRunSpans(o.Spans), Settle: settle,
	}
}

// sums are the servers' ingest figures by variant.
func (v *Validators) sums() map[string]*Throughput {
	return map[string]*Throughput{"none": &v.None, "default": &v.Default, "full": &v.Full}
}

// measureValidators runs the validators section in o.Work/validators-*.
func measureValidators(ctx context.Context, c *corpus, d ids, o validatorsOptions) (res Validators, err error) {
	servers := map[string]*valServer{}
	defer func() {
		if cerr := closeServers(valVariants, servers); cerr != nil && err == nil {
			err = cerr
		}
	}()
	machines := map[string]*eval.Machine{}
	for _, k := range valVariants {
		progs := map[string]map[string][]byte{}
		if files := valPrograms(k); files != nil {
			progs[valTenant] = files
		}
		srv, err := startValServer(ctx, filepath.Join(o.Work, "validators-"+k), progs, o.ServerLog)
		if err != nil {
			return res, fmt.Errorf("start the %s server: %w", k, err)
		}
		servers[k] = srv
		machines[k] = srv.set.Machine(valTenant)
	}
	for _, vd := range machines["full"].Program().Validators {
		res.Validators = append(res.Validators, vd.Name)
	}
	if got := len(machines["none"].Program().Validators); got != 0 {
		return res, fmt.Errorf("the none server's tenant runs %d validators, want none", got)
	}
	vc, err := c.retenant(valTenant)
	if err != nil {
		return res, err
	}
	spans, err := vc.decodeAll()
	if err != nil {
		return res, err
	}

	// What the rules decide about the corpus, before anything is timed.
	if res.Corpus, err = checkValCorpus(ctx, machines["full"], spans); err != nil {
		return res, err
	}

	rs, err := newRounds(ctx, valPlan(o), func(k string) string { return servers[k].url }, res.sums())
	if err != nil {
		return res, err
	}
	defer rs.Close()
	rr, err := rs.measure(ctx, vc, d, nil)
	res.SettleSeconds = rr.SettleSeconds
	for _, f := range rr.Rounds {
		res.Rounds = append(res.Rounds, ValidatorsRound{
			Order: f.Order, NonePerSec: f.PerSec["none"], DefaultPerSec: f.PerSec["default"], FullPerSec: f.PerSec["full"],
			Share: f.Share, OtherCPUShare: f.OtherCPUShare,
		})
	}
	if err != nil {
		return res, err
	}
	res.OtherCPUShare, res.PairShares, res.MedianPairShare = rr.OtherCPUShare, rr.PairShares, rr.MedianPairShare
	errs := rs.ingestErrors()
	res.Share, res.Cost, res.WallMicros = compare(res.Full.SpansPerSec, res.None.SpansPerSec)
	res.DefaultShare, _, res.DefaultWallMicros = compare(res.Default.SpansPerSec, res.None.SpansPerSec)
	if cpu, _, ok := rs.cpuMicros(); ok {
		res.CPUMicrosNone, res.CPUMicrosDefault, res.CPUMicrosFull = cpu["none"], cpu["default"], cpu["full"]
		res.CPUMicros = res.CPUMicrosFull - res.CPUMicrosNone
	}

	// The evaluator alone, on the same spans: as many calls as each
	// server validated on ingest.
	res.EvalCalls = valRounds * valRunSpans(o.Spans)
	o.Log.Info("bench: Validate in this process", "calls", res.EvalCalls)
	for _, k := range valVariants {
		us, err := evalMicros(ctx, machines[k], spans, res.EvalCalls, rs.deadline)
		if err != nil {
			errs = append(errs, fmt.Errorf("validate %s: %w", k, err))
			break
		}
		switch k {
		case "none":
			res.EvalMicrosNone = us
		case "default":
			res.EvalMicrosDefault = us
		case "full":
			res.EvalMicrosFull = us
		}
	}
	if d := res.EvalMicrosFull - res.EvalMicrosNone; res.CPUMicrosNone > 0 && res.EvalMicrosFull > 0 && d > 0 {
		res.PredictedCost = d / (res.CPUMicrosNone + d)
	}
	return res, errors.Join(errs...)
}

// settle waits until this process is idle (at most valIdleShare of a core
// over valIdleWindow), or valSettleMax, and returns how long it waited.
// Where the process's CPU time is unknown it waits valSettleMax / 10.
func settle(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	t := time.NewTicker(valIdleWindow)
	defer t.Stop()
	prev, ok := readCPUTimes()
	for {
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-t.C:
		}
		waited := time.Since(start)
		if !ok {
			if waited >= valSettleMax/10 {
				return waited, nil
			}
			continue
		}
		cur, okCur := readCPUTimes()
		if !okCur {
			ok = false
			continue
		}
		if cur.self-prev.self <= valIdleShare*valIdleWindow.Seconds() || waited >= valSettleMax {
			return waited, nil
		}
		prev = cur
	}
}

// decodeAll decodes one span of each template (as the gateway does).
func (c *corpus) decodeAll() ([]*span.Span, error) {
	out := make([]*span.Span, len(c.tmpl))
	for i := range c.tmpl {
		sp, err := span.Decode(c.tmpl[i].appendLine(nil, fmt.Sprintf("val-%d", i)), span.DecodeOptions{})
		if err != nil {
			return nil, fmt.Errorf("corpus span %d: %w", i, err)
		}
		out[i] = sp
	}
	return out, nil
}

// checkValCorpus runs m over spans: a rule that rejects one is an error
// (the timed runs would fail), warnings are counted; and each rule of
// valRules, with a probe rule no span passes, counts the spans it applies
// to.
func checkValCorpus(ctx context.Context, m *eval.Machine, spans []*span.Span) (ValidatorsCorpus, error) {
	res := ValidatorsCorpus{Spans: len(spans), Applied: map[string]int{}}
	for i, sp := range spans {
		vs, err := m.Validate(ctx, sp)
		if err != nil {
			return res, fmt.Errorf("validate corpus span %d: %w", i, err)
		}
		for _, v := range vs {
			if v.Action != ir.ActionWarn {
				return res, fmt.Errorf("corpus span %d (%s) is rejected by validator %s, %s: %s; the section needs a corpus its rules accept", i, sp.ID, v.Validator, v.Rule, v.Message)
			}
			if res.Warned == nil {
				res.Warned = map[string]int{}
			}
			res.Warned[v.Validator+": "+v.Rule]++
		}
	}
	for _, r := range valRules {
		probe, err := valProbe(r)
		if err != nil {
			return res, err
		}
		n := 0
		for _, sp := range spans {
			vs, err := probe.Validate(ctx, sp)
			if err != nil {
				return res, fmt.Errorf("probe %s: %w", r.name, err)
			}
			for _, v := range vs {
				if v.Rule == valProbeRule {
					n++
				}
			}
		}
		res.Applied[r.name] = n
	}
	return res, nil
}

// valProbe compiles rule r with valProbeRule added (and the policy it
// may read), so that every span it applies to fails the probe.
func valProbe(r valRule) (*eval.Machine, error) {
	i := strings.Index(r.src, "{\n")
	if i < 0 {
		return nil, fmt.Errorf("rule %s: no block", r.name)
	}
	src := valPolicy + r.src[:i+2] + "  " + valProbeRule + "\n" + r.src[i+2:]
	return compileVal(r.name+"-probe.lll", []byte(src))
}

// compileVal compiles one source file into a machine.
func compileVal(name string, src []byte) (*eval.Machine, error) {
	f, err := syntax.Parse(name, src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	prog, err := check.Check([]*syntax.File{f}, check.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return eval.New(prog, eval.Config{})
}

// evalMicros times calls of m.Validate over spans (cycled) on this
// goroutine and returns µs per call.
func evalMicros(ctx context.Context, m *eval.Machine, spans []*span.Span, calls int, deadline time.Time) (float64, error) {
	if len(spans) == 0 || calls <= 0 {
		return 0, errors.New("nothing to validate")
	}
	start := time.Now()
	done := 0
	for ; done < calls; done++ {
		if done%4096 == 0 && done > 0 && time.Now().After(deadline) {
			break
		}
		if _, err := m.Validate(ctx, spans[done%len(spans)]); err != nil {
			return 0, err
		}
	}
	return sinceSecs(start) * 1e6 / float64(done), nil
}
