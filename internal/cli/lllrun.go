package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/lll/bundle"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/policyyaml"
	"github.com/logline/logline/internal/lll/syntax"
	"github.com/logline/logline/internal/span"
)

// `logline compile` (the seeds' loglinec) and `logline run` (loglinerun):
// docs/lll.md, "Bundles" and "Running offline".

// programSource is one .lll file read for compiling.
type programSource struct {
	name string
	src  []byte
}

// compileSources parses and checks files as one program. Errors are
// printed to w with each file's source line and a caret; the returned
// error then only carries the exit code.
func compileSources(w io.Writer, files []programSource) (*ir.Program, error) {
	var parsed []*syntax.File
	var errs syntax.ErrorList
	for _, f := range files {
		pf, err := policyyaml.ParseSource(f.name, f.src)
		if err != nil {
			var el syntax.ErrorList
			if !errors.As(err, &el) {
				return nil, err
			}
			errs = append(errs, el...)
			continue
		}
		parsed = append(parsed, pf)
	}
	var prog *ir.Program
	if len(errs) == 0 {
		var err error
		if prog, err = check.Check(parsed, check.Options{}); err != nil {
			if !errors.As(err, &errs) {
				return nil, err
			}
		}
	}
	if len(errs) > 0 {
		printLLLErrors(w, errs, files)
		return nil, silentFail(ExitUsage)
	}
	return prog, nil
}

// printLLLErrors prints errors with the source line of their own file.
func printLLLErrors(w io.Writer, errs syntax.ErrorList, files []programSource) {
	for _, e := range errs {
		var src []byte
		for _, f := range files {
			if f.name == e.File {
				src = f.src
			}
		}
		syntax.PrintErrors(w, e, src)
	}
	fmt.Fprintf(w, "%d error(s)\n", len(errs))
}

func readLLLFiles(a *app, args []string) ([]programSource, error) {
	var files []programSource
	for _, name := range args {
		var (
			src []byte
			err error
		)
		if name == "-" {
			src, err = io.ReadAll(io.LimitReader(a.io.In, maxLLLSource+1))
			name = "<stdin>"
		} else {
			src, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, lllReadError(name, err)
		}
		if len(src) > maxLLLSource {
			return nil, usageErrorf("%s: larger than %d bytes", name, maxLLLSource)
		}
		files = append(files, programSource{name: name, src: src})
	}
	return files, nil
}

// lllReadError classes a failed read of a program file as the exit
// codes say (docs/cli.md): a file that is not there, or a directory, is
// bad input (2); one that is there but cannot be read an I/O error (3).
func lllReadError(name string, err error) error {
	if missingFile(err) {
		return usageErrorf("%s: no such file", name)
	}
	if errors.Is(err, syscall.EISDIR) {
		return usageErrorf("%s is a directory, not a file", name)
	}
	return ioErrorf("read %s: %w", name, pathErrCause(err))
}

// missingFile reports whether err says a path names no file: it does
// not exist, or goes through a file. Such an input is bad input (exit
// 2), not an I/O error.
func missingFile(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// maxLLLSource bounds one .lll file the commands read.
const maxLLLSource = 4 << 20

// resourcesOf lists the names a program defines, for its manifest.
func resourcesOf(p *ir.Program) bundle.Resources {
	var r bundle.Resources
	for _, v := range p.Validators {
		r.Validators = append(r.Validators, v.Name)
	}
	for _, v := range p.Routers {
		r.Routers = append(r.Routers, v.Name)
	}
	for _, v := range p.Policies {
		r.Policies = append(r.Policies, v.Name)
	}
	for _, v := range p.Schemas {
		r.Schemas = append(r.Schemas, v.Name)
	}
	for _, v := range p.Pipelines {
		r.Pipelines = append(r.Pipelines, v.Name)
	}
	for _, v := range p.Alarms {
		r.Alarms = append(r.Alarms, v.Name)
	}
	return r
}

func (a *app) newCompile() *cobra.Command {
	var (
		out, keyFile string
		caps         []string
	)
	cmd := &cobra.Command{
		Use:   "compile FILE.lll... -o OUT.lllb --key KEY",
		Short: "Compile .lll programs into a signed bundle (loglinec)",
		Long: `Compile the .lll files and YAML policy files (*.yaml, *.yml: policies
in YAML, docs/lll.md) — one tenant's program set, checked together — into
a bundle: the program's IR and a manifest {abi:"v1", caps_allow, hash,
signing_key_id, resources}, signed with the Ed25519 key in KEY (a key file
of 'logline keys new'). A server runs the bundle only if that key's public
half is in DATA/cfg/trusted-bundle-keys (docs/lll.md, "Bundles").

Errors are printed as file:line:col with the source line and a caret
(exit 2); nothing is written then. The same sources and key always give
the same bundle bytes.`,
		Example: `  logline keys new --out ci.key
  logline compile rules.lll quality.yaml -o acme.lllb --key ci.key`,
		Args: cobra.MinimumNArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			if out == "" || keyFile == "" {
				return cmdlineErrorf("compile needs -o OUT.lllb and --key KEY")
			}
			kp, err := readKeyFile(keyFile)
			if err != nil {
				return err
			}
			files, err := readLLLFiles(a, args)
			if err != nil {
				return err
			}
			prog, err := compileSources(a.io.Err, files)
			if err != nil {
				return err
			}
			b, err := bundle.Build(ir.Encode(prog), resourcesOf(prog), caps, kp)
			if err != nil {
				return err
			}
			if err := durable.WriteFile(out, b, 0o644); err != nil {
				return ioErrorf("write %s: %w", out, err)
			}
			res := resourcesOf(prog)
			fmt.Fprintf(a.io.Out, "wrote %s (%d bytes): %d validators, %d routers, %d pipelines, %d policies, %d schemas, %d alarms; signed by %s\n",
				out, len(b), len(res.Validators), len(res.Routers), len(res.Pipelines), len(res.Policies), len(res.Schemas), len(res.Alarms), bundle.KeyID(kp.Public))
			return nil
		}),
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "the bundle to write")
	cmd.Flags().StringVar(&keyFile, "key", "", "Ed25519 key file to sign with (logline keys new)")
	cmd.Flags().StringSliceVar(&caps, "caps", nil, "host capabilities the bundle may use (caps_allow; repeatable)")
	return cmd
}

// readKeyFile reads a key file of `logline keys new`.
func readKeyFile(path string) (span.KeyPair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return span.KeyPair{}, usageErrorf("--key: %v", err)
	}
	kp, err := span.ParseKeyFile(data)
	if err != nil {
		return span.KeyPair{}, usageErrorf("--key %s: %v", path, err)
	}
	return kp, nil
}

// replayToken pins what a run depends on besides its input: the program
// (by hash) and every injected value. It is "llr1." + base64url of JSON.
type replayToken struct {
	Hash string            `json:"hash"`
	Env  map[string]string `json:"env"`
}

const replayPrefix = "llr1."

func (t replayToken) String() string {
	b, _ := json.Marshal(t) // maps marshal with sorted keys: deterministic
	return replayPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func parseReplayToken(s string) (replayToken, error) {
	var t replayToken
	raw, ok := strings.CutPrefix(s, replayPrefix)
	if !ok {
		return t, fmt.Errorf("a replay token starts with %q", replayPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return t, fmt.Errorf("not base64url: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil || !strings.HasPrefix(t.Hash, "sha256:") {
		return t, errors.New("not a replay token of this version")
	}
	if t.Env == nil {
		t.Env = map[string]string{}
	}
	return t, nil
}

// runLine is one line of `logline run` output.
type runLine struct {
	Line      int          `json:"line"`
	ID        string       `json:"id,omitempty"`
	Tenant    string       `json:"tenant,omitempty"`
	Error     string       `json:"error,omitempty"`
	Decision  string       `json:"decision,omitempty"` // accept, warn or reject
	Verdicts  []runVerdict `json:"verdicts,omitempty"`
	Events    []runEvent   `json:"events,omitempty"`
	Routes    []string     `json:"routes,omitempty"`
	Alarms    []runAlarm   `json:"alarms,omitempty"`
	Pipelines []string     `json:"pipelines,omitempty"`
}

type runVerdict struct {
	Validator string `json:"validator"`
	Rule      string `json:"rule"`
	Action    string `json:"action"`
	Message   string `json:"message"`
	Where     string `json:"where,omitempty"`
}

type runEvent struct {
	Validator string          `json:"validator"`
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
}

type runAlarm struct {
	Name     string `json:"name"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

func (a *app) newRun() *cobra.Command {
	var (
		input, replay, trustedFile string
		envs                       []string
	)
	cmd := &cobra.Command{
		Use:   "run PROGRAM --input SPANS.ndjson",
		Short: "Evaluate a bundle (or .lll source) over spans offline (loglinerun)",
		Long: `Evaluate PROGRAM — a .lllb bundle, or a .lll file (or YAML policy file)
compiled on the fly —
over the spans of --input (NDJSON; - for standard input) and print, per
line, what the program decides: the decision (accept, warn, reject), the
failed validator rules, the events validators emit, the routes, the alarms
and the pipelines that would derive from the span. Nothing is stored.

Values from outside reach a program only through env("NAME"); give them
with --env NAME=VALUE. The run ends by printing a replay token (standard
error) that pins the program's hash and every injected value: the same
bundle, input and --replay TOKEN print the same bytes on every run.

A bundle is checked as a server would (hash and signature); with
--trusted FILE its key must also be in that trusted-keys file.`,
		Example: `  logline run acme.lllb --input ../shared/corpus/receipt.ndjson
  logline run rules.lll --input spans.ndjson --env region=eu
  logline run acme.lllb --input spans.ndjson --replay llr1.eyJoYXNoIjoi…`,
		Args: exactArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return a.runProgram(cmd.Context(), args[0], input, replay, trustedFile, envs)
		}),
	}
	cmd.Flags().StringVar(&input, "input", "", "NDJSON spans to evaluate (- for standard input)")
	cmd.Flags().StringVar(&replay, "replay", "", "replay token of an earlier run: the same program and injected values")
	cmd.Flags().StringVar(&trustedFile, "trusted", "", "trusted bundle keys file the bundle's key must be in")
	cmd.Flags().StringArrayVar(&envs, "env", nil, "NAME=VALUE for env(\"NAME\") (repeatable)")
	return cmd
}

func (a *app) runProgram(ctx context.Context, programPath, input, replay, trustedFile string, envs []string) error {
	if input == "" {
		return cmdlineErrorf("run needs --input SPANS.ndjson (or - for standard input)")
	}
	if replay != "" && len(envs) > 0 {
		return cmdlineErrorf("--replay pins the injected values: it excludes --env")
	}
	var (
		prog *ir.Program
		hash string
	)
	if strings.HasSuffix(programPath, ".lll") || policyyaml.IsPolicyFile(programPath) {
		files, err := readLLLFiles(a, []string{programPath})
		if err != nil {
			return err
		}
		if prog, err = compileSources(a.io.Err, files); err != nil {
			return err
		}
		hash = irHash(ir.Encode(prog))
	} else {
		data, err := os.ReadFile(programPath)
		if err != nil {
			return usageErrorf("%v", err)
		}
		var b *bundle.Bundle
		if trustedFile != "" {
			td, err := os.ReadFile(trustedFile)
			if err != nil {
				return usageErrorf("--trusted: %v", err)
			}
			trusted, err := bundle.ParseTrusted(td)
			if err != nil {
				return usageErrorf("--trusted: %v", err)
			}
			b, err = bundle.Open(data, trusted)
			if err != nil {
				return failErrorf("%s refused: %v", programPath, err)
			}
		} else if b, err = bundle.Inspect(data); err != nil {
			return failErrorf("%s refused: %v", programPath, err)
		}
		if prog, err = ir.Decode(b.IR); err != nil {
			return failErrorf("%s: %v", programPath, err)
		}
		hash = b.Manifest.Hash
	}
	tok := replayToken{Hash: hash, Env: map[string]string{}}
	if replay != "" {
		t, err := parseReplayToken(replay)
		if err != nil {
			return usageErrorf("--replay: %v", err)
		}
		if t.Hash != hash {
			return usageErrorf("--replay: the token is for program %s, not %s", t.Hash, hash)
		}
		tok = t
	}
	for _, kv := range envs {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return cmdlineErrorf("--env %q: want NAME=VALUE", kv)
		}
		tok.Env[name] = value
	}
	m, err := eval.New(prog, eval.Config{Env: tok.Env})
	if err != nil {
		return err
	}
	var in io.Reader
	if input == "-" {
		in = a.io.In
	} else {
		f, err := os.Open(input)
		if err != nil {
			return usageErrorf("--input: %v", err)
		}
		defer f.Close()
		in = f
	}
	out := bufio.NewWriter(a.io.Out)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	counts := map[string]int{}
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		rl := runLine{Line: n}
		sp, err := span.Decode(line, span.DecodeOptions{NewID: func() string { return fmt.Sprintf("line-%d", n) }})
		if err != nil {
			rl.Error = err.Error()
			counts["error"]++
		} else {
			rl.ID, rl.Tenant = sp.ID, sp.Tenant
			res, err := m.Run(ctx, sp)
			if err != nil {
				rl.Error = err.Error()
				counts["error"]++
			} else {
				fillRunLine(&rl, res)
				counts[rl.Decision]++
			}
		}
		if err := enc.Encode(rl); err != nil {
			return ioErrorf("%w", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := sc.Err(); err != nil {
		return usageErrorf("--input: %v", err)
	}
	if err := out.Flush(); err != nil {
		return ioErrorf("%w", err)
	}
	fmt.Fprintf(a.io.Err, "%d lines: %d accept, %d warn, %d reject, %d error\nreplay: %s\n",
		n, counts["accept"], counts["warn"], counts["reject"], counts["error"], tok)
	return nil
}

func fillRunLine(rl *runLine, res eval.Result) {
	rl.Decision = "accept"
	for _, v := range res.Verdicts {
		rv := runVerdict{Validator: v.Validator, Rule: v.Rule, Action: v.Action.String(), Message: v.Message, Where: v.Where}
		rl.Verdicts = append(rl.Verdicts, rv)
		if v.Action == ir.ActionWarn {
			if rl.Decision == "accept" {
				rl.Decision = "warn"
			}
		} else {
			rl.Decision = "reject"
		}
	}
	for _, e := range res.Events {
		rl.Events = append(rl.Events, runEvent{Validator: e.Validator, Type: e.Type, Data: json.RawMessage(e.Data)})
	}
	rl.Routes = slices.Clone(res.Routes)
	for _, al := range res.Alarms {
		rl.Alarms = append(rl.Alarms, runAlarm{Name: al.Name, Severity: al.Severity.String(), Message: al.Message})
	}
	rl.Pipelines = slices.Clone(res.Pipelines)
}

func irHash(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
