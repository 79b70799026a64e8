package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/policyyaml"
	"github.com/logline/logline/internal/lll/syntax"
	"github.com/logline/logline/internal/span"
)

// corpusDerived derives from the corpus under the tuned policy, with the
// end-of-input closes: every derived type.
func corpusDerived(t *testing.T) []derive.Derived {
	t.Helper()
	src, err := os.ReadFile(tunedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	f, err := policyyaml.ParseSource(tunedPolicy, src)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := check.Check([]*syntax.File{f}, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := derive.PolicyOf(prog, true, true)
	if err != nil {
		t.Fatal(err)
	}
	e := derive.New(func(string) *derive.Policy { return p })
	var out []derive.Derived
	emit := func(d *derive.Derived) { out = append(out, *d) }
	for _, l := range corpusLines(t, 0) {
		in, err := derive.ParseLine(l)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Apply(in, emit); err != nil {
			t.Fatal(err)
		}
	}
	e.Finish(emit)
	return out
}

// TestCanonicalDerived: replay's canonical form of a derived span is the
// one span.Decode gives its JSON, byte for byte, with the same hash and
// the server fields' place after the id; spans with strings to escape
// are declined.
func TestCanonicalDerived(t *testing.T) {
	all := corpusDerived(t)
	odd := all[0]
	odd.This = `case "quoted" — café`
	unknown := all[0]
	unknown.Type = "trajectory_other"
	var c derivedCanon
	types := map[string]int{}
	for i, d := range append(all, odd, unknown) {
		want, err := span.Decode(d.AppendJSON(nil), span.DecodeOptions{})
		if err != nil && d.Type != unknown.Type {
			t.Fatal(err)
		}
		prefix := []byte("prefix")
		got, split, hash, ok := c.appendCanonical(prefix, &d)
		if i >= len(all) {
			if ok || !bytes.Equal(got, prefix) {
				t.Errorf("%s (this %q): accepted as plain, want declined", d.Type, d.This)
			}
			continue
		}
		types[d.Type]++
		if !ok {
			t.Fatalf("%s: declined", d.AppendJSON(nil))
		}
		got = got[len(prefix):]
		if !bytes.Equal(got, want.Canonical()) || hash != want.Hash {
			t.Fatalf("canonical form\n got %s (%s)\nwant %s (%s)", got, hash, want.Canonical(), want.Hash)
		}
		if s := canonicalSplit(want.Canonical()); split != s {
			t.Fatalf("%s: split %d, want %d", got, split, s)
		}
	}
	for _, typ := range []string{derive.TypeEdge, derive.TypeClosed, derive.TypeQuality, derive.TypeCandidate} {
		if types[typ] == 0 {
			t.Errorf("no %s checked (%v)", typ, types)
		}
	}
	// Declined spans are decoded; the split is found in their form.
	sp, err := span.Decode(odd.AppendJSON(nil), span.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	canon := sp.Canonical()
	if s := canonicalSplit(canon); s < 0 || !strings.HasSuffix(string(canon[:s]), `"id":"`+odd.ID+`"`) {
		t.Errorf("split %d of %s", s, canon)
	}
}

// TestMatchEntry: a stored line matches a canonical form only with
// exactly its members, the log index given and two server strings.
func TestMatchEntry(t *testing.T) {
	d := corpusDerived(t)[0]
	var c derivedCanon
	canon, split, _, ok := c.appendCanonical(nil, &d)
	if !ok {
		t.Fatal("declined")
	}
	sp, err := span.Decode(d.AppendJSON(nil), span.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var prev span.Hash
	prev[0] = 0xab
	at := time.Date(2026, 1, 2, 3, 4, 5, 678900000, time.UTC)
	line := sp.AppendEntry(nil, 42, prev, at)
	other := d
	other.Position++
	otherSp, err := span.Decode(other.AppendJSON(nil), span.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	extra := bytes.Replace(line, []byte(`","related_to"`), []byte(`","status":"x","related_to"`), 1)
	if bytes.Equal(extra, line) {
		t.Fatal("no related_to to put a member before")
	}
	tests := []struct {
		name string
		line []byte
		idx  uint64
		want bool
	}{
		{"the entry", line, 42, true},
		{"another log index", line, 43, false},
		{"other content", otherSp.AppendEntry(nil, 42, prev, at), 42, false},
		{"a member more", extra, 42, false},
		{"truncated", line[:len(line)-1], 42, false},
		{"quote in received_at", bytes.Replace(line, []byte(`.6789Z"`), []byte(`.6789Z\""`), 1), 42, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchEntry(tt.line, canon, split, tt.idx); got != tt.want {
				t.Errorf("matchEntry(%s) = %v, want %v", tt.line, got, tt.want)
			}
		})
	}
}

// storedLine is sp's stored entry at log index idx.
func storedLine(t *testing.T, raw string, idx uint64) []byte {
	t.Helper()
	sp, err := span.Decode([]byte(raw), span.DecodeOptions{})
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return sp.AppendEntry(nil, idx, span.Hash{1}, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

// TestScanDerived: a derived span's stored line is read without parsing
// it; other lines are left to the parser.
func TestScanDerived(t *testing.T) {
	d := corpusDerived(t)[0]
	js := string(d.AppendJSON(nil))
	line := storedLine(t, js, 7)
	e, err := span.ParseEntry(bytes.Clone(line))
	if err != nil {
		t.Fatal(err)
	}
	f, ok := scanDerived(line)
	if !ok || f.tenant != e.Tenant || f.id != e.ID || f.typ != e.EntityType || f.hash != e.Hash {
		t.Fatalf("scanDerived = %+v, %v; want %s %s %s %s", f, ok, e.Tenant, e.ID, e.EntityType, e.Hash)
	}
	for name, raw := range map[string]string{
		"a tenant's span": string(corpusLines(t, 1)[0]),
		"a version":       strings.Replace(js, `{"id":`, `{"seq":1,"id":`, 1),
		"another type":    strings.Replace(js, `"entity_type":"trajectory_edge"`, `"entity_type":"clock"`, 1),
		"another author":  strings.Replace(js, `"who":"system:trajectory"`, `"who":"system:other"`, 1),
		"an escaped id":   strings.Replace(js, `"tenant":"t_receipt"`, `"tenant":"t_receipt","status":"a\"b"`, 1),
	} {
		l := storedLine(t, raw, 7)
		if name == "an escaped id" {
			// An escape elsewhere is fine; the members read must be plain.
			if _, ok := scanDerived(l); !ok {
				t.Errorf("%s: not read", name)
			}
			continue
		}
		if f, ok := scanDerived(l); ok {
			t.Errorf("%s: read as a derived span: %+v", name, f)
		}
	}
}

// TestInputOf: what the engine reads of an unsigned stored span is what
// it reads of the parsed span (derive.FromSpan of span.ParseEntry): every
// Input member and every member its rules can read.
func TestInputOf(t *testing.T) {
	lines := corpusLines(t, 300)
	for i, raw := range []string{
		`{"id":"x1","tenant":"acme","who":"Jo \"the\" Doe","did":"d","this":"caf\u00e9 \\ x","when":"2026-01-02T03:04:05.5+02:00","status":"confirmed","confirmed_by":[]}`,
		`{"id":"x2","seq":0,"tenant":"acme","entity_type":"clock","who":"system:clock","did":"tick","this":"clock","when":"2026-01-02T03:04:05Z"}`,
		`{"id":"x3","tenant":"acme","entity_type":"order","who":"w","this":"t","when":"2026-01-02T03:04:05Z","confirmed_by":["a"],"data":{"k":[1,2,{"z":null}],"log_index":3},"metadata":{"received_at":"x"}}`,
	} {
		sp, err := span.Decode([]byte(raw), span.DecodeOptions{})
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		lines = append(lines, []byte(sp.Canonical()))
	}
	names := []string{"id", "seq", "tenant", "entity_type", "who", "did", "this", "when", "status", "confirmed_by",
		"data", "metadata", "curr_hash", "log_index", "prev_hash", "received_at", "signature", "trace_id", "nope"}
	for i, l := range lines {
		sp, err := span.Decode(l, span.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		line := sp.AppendEntry(nil, uint64(i), span.Hash{2}, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		e, err := span.ParseEntry(bytes.Clone(line))
		if err != nil {
			t.Fatal(err)
		}
		want := derive.FromSpan(&e.Span)
		got, ok := inputOf(line)
		if !ok {
			t.Fatalf("%s: not read", line)
		}
		if got.Tenant != want.Tenant || got.ID != want.ID || got.Seq != want.Seq || got.EntityType != want.EntityType ||
			got.Who != want.Who || got.This != want.This || !got.When.Equal(want.When) || got.WhenText != want.WhenText ||
			got.Status != want.Status || got.Confirmed != want.Confirmed || got.Signed != want.Signed {
			t.Fatalf("%s:\n got %+v\nwant %+v", line, *got, *want)
		}
		for _, n := range names {
			g, gok := got.Fields.Field(n)
			w, wok := want.Fields.Field(n)
			if gok != wok || !bytes.Equal(g, w) {
				t.Fatalf("%s: Field(%q) = %s %v, want %s %v", line, n, g, gok, w, wok)
			}
		}
	}

	kp, err := span.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := span.Sign([]byte(`{"id":"s1","tenant":"acme","who":"w","did":"d","this":"t","when":"2026-01-02T03:04:05Z"}`), kp, span.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if in, ok := inputOf(storedLine(t, string(signed), 1)); ok {
		t.Errorf("a signed span read without verifying its signature: %+v", in)
	}
}

// TestReplayBudget: with no room to hold re-derived spans, their stored
// copies are compared by curr_hash as written: the same report.
func TestReplayBudget(t *testing.T) {
	data := t.TempDir()
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n  diamond: true\n"))
	legacyData(t, data, corpusLines(t, 2000)) // no policy records: the change below is divergence
	run := func(budget int) replayResult {
		var out bytes.Buffer
		a := &app{io: IO{In: strings.NewReader(""), Out: &out, Err: io.Discard, Getenv: func(string) string { return "" }}, logLevel: "info"}
		err := a.replay(context.Background(), replayOptions{data: data, verify: true, json: true, examples: 5, budget: budget})
		if err != nil {
			t.Fatalf("budget %d: %v", budget, err)
		}
		var res replayResult
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	full, none := run(0), run(1)
	if none.Identical != full.Identical || none.Identical == 0 || none.Divergence != 0 || none.Parsed != 0 || full.Parsed != 0 {
		t.Errorf("budget 1: %d identical, divergence %d, %d parsed (%d with room); want %d, 0, 0 (0)",
			none.Identical, none.Divergence, none.Parsed, full.Parsed, full.Identical)
	}
	// A change is still found, and shown without the re-derived copy.
	writeTenantFile(t, data, "t_receipt", "receipt.yaml", []byte("quality_meter:\n  weights: {mass: 0.6, persistence: 0.1, verification: 0.3}\n"))
	var out bytes.Buffer
	a := &app{io: IO{In: strings.NewReader(""), Out: &out, Err: io.Discard, Getenv: func(string) string { return "" }}, logLevel: "info"}
	err := a.replay(context.Background(), replayOptions{data: data, verify: true, json: true, examples: 5, budget: 1})
	var res replayResult
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil || exitCodeOf(err) != ExitFailed || res.Different == 0 {
		t.Fatalf("weights changed, budget 1: %v, exit %d, different %d\n%s", jerr, exitCodeOf(err), res.Different, out.String())
	}
	diff := examplesOf(res, "t_receipt", replayDifferent)
	if len(diff) == 0 || diff[0].Replayed != nil || diff[0].Stored == nil {
		t.Errorf("examples %s", fmt.Sprint(diff))
	}
}
