// Package programs keeps each tenant's .lll programs for the server
// (docs/lll.md, "Loading"): the source files DATA/cfg/tenants/<tenant>/*.lll
// and YAML policy files (*.yaml, *.yml; not tenant.yaml), compiled
// together, or a signed bundle *.lllb, which runs only when signed
// by a key listed in DATA/cfg/trusted-bundle-keys. A Set polls the
// directory, compiles what changed, and publishes one immutable snapshot;
// a tenant whose new version does not compile (or whose bundle is refused)
// keeps the version it ran before, and Status says why. A tenant with
// neither runs the default program, canonical_contract_v1 (v8 §25.1).
package programs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logline/logline/internal/lll/bundle"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/policyyaml"
	"github.com/logline/logline/internal/lll/syntax"
)

// DefaultInterval is how often Run looks for changes.
const DefaultInterval = 2 * time.Second

// TrustedKeysFile is the trusted bundle keys file, under DATA/cfg.
const TrustedKeysFile = "trusted-bundle-keys"

// maxSourceBytes bounds one .lll file and one bundle.
const maxSourceBytes = 4 << 20

// Config configures a Set.
type Config struct {
	DataDir string
	// ValidTenant is the ledger's tenant-name rule; nil accepts any
	// single path element.
	ValidTenant func(string) bool
	// Features gives a tenant's feature flags (from its tenant.yaml);
	// nil means all off.
	Features func(tenant string) eval.Features
	Interval time.Duration
	Logger   *slog.Logger
}

// TenantStatus is what the last load found for one tenant.
type TenantStatus struct {
	Tenant  string
	Files   []string // the sources or bundle in force
	Digest  string   // of the files in force
	Err     string   // why the latest version is not in force ("" when it is)
	Default bool     // running the default program
}

// Set holds the programs of every tenant. Safe for concurrent use;
// Machine never blocks.
type Set struct {
	cfg  Config
	def  *eval.Machine
	cur  atomic.Pointer[map[string]*loaded]
	mu   sync.Mutex // guards status and the reloads
	stat map[string]TenantStatus
}

// loaded is one tenant's program in force.
type loaded struct {
	digest  string
	files   []string
	machine *eval.Machine
}

// Open loads every tenant's programs once. Only an unreadable tenants
// directory or a broken default program is an error.
func Open(ctx context.Context, cfg Config) (*Set, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	prog, err := check.CanonicalContract()
	if err != nil {
		return nil, fmt.Errorf("programs: the default program: %w", err)
	}
	def, err := eval.New(prog, eval.Config{})
	if err != nil {
		return nil, fmt.Errorf("programs: the default program: %w", err)
	}
	s := &Set{cfg: cfg, def: def, stat: map[string]TenantStatus{}}
	s.cur.Store(&map[string]*loaded{})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.Reload(); err != nil && !errors.Is(err, errSomeRefused) {
		return nil, err
	}
	return s, nil
}

// Machine returns the program tenant runs: its own, or the default.
func (s *Set) Machine(tenant string) *eval.Machine {
	if l, ok := (*s.cur.Load())[tenant]; ok {
		return l.machine
	}
	return s.def
}

// Status reports every tenant with programs, sorted.
func (s *Set) Status() []TenantStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TenantStatus, 0, len(s.stat))
	for _, t := range slices.Sorted(maps.Keys(s.stat)) {
		out = append(out, s.stat[t])
	}
	return out
}

// Run reloads every Interval until ctx ends; it returns nil then.
func (s *Set) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_ = s.Reload() // problems are logged and kept in Status
		}
	}
}

var errSomeRefused = errors.New("some tenants' programs were refused")

// Reload reads the tenants directory now. Tenants whose files did not
// change keep their compiled program; a tenant whose new files fail keeps
// the program in force. The error says which tenants failed (wrapping
// errSomeRefused), or that the directory could not be read.
func (s *Set) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := filepath.Join(s.cfg.DataDir, "cfg", "tenants")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("programs: %w", err)
	}
	trusted, trustedDigest, terr := s.trusted()
	prev := *s.cur.Load()
	next := map[string]*loaded{}
	var failed []string
	seen := map[string]bool{}
	for _, e := range ents {
		t := e.Name()
		if !e.IsDir() || strings.HasPrefix(t, ".") || (s.cfg.ValidTenant != nil && !s.cfg.ValidTenant(t)) {
			continue
		}
		files, digest, err := readTenant(filepath.Join(dir, t))
		// What a program is built with besides its files — the trusted
		// keys, the tenant's feature flags — is part of its digest: a
		// change recompiles.
		digest += "+" + trustedDigest
		if s.cfg.Features != nil {
			digest += fmt.Sprintf("+%v", s.cfg.Features(t))
		}
		if err != nil {
			failed = append(failed, t)
			s.refuse(t, prev[t], next, fmt.Sprintf("read: %v", err))
			continue
		}
		if len(files) == 0 {
			continue // the default program
		}
		seen[t] = true
		if p := prev[t]; p != nil && p.digest == digest {
			next[t] = p
			continue
		}
		if st, ok := s.stat[t]; ok && st.Err != "" && st.Digest == digest {
			// Refused before and unchanged: keep what runs, quietly.
			if p := prev[t]; p != nil {
				next[t] = p
			}
			continue
		}
		m, err := s.compile(t, files, trusted, terr)
		if err != nil {
			failed = append(failed, t)
			s.refuse(t, prev[t], next, err.Error())
			st := s.stat[t]
			st.Digest = digest
			s.stat[t] = st
			continue
		}
		next[t] = &loaded{digest: digest, files: names(files), machine: m}
		s.stat[t] = TenantStatus{Tenant: t, Files: names(files), Digest: digest}
		s.cfg.Logger.Info("tenant programs loaded", "tenant", t, "files", names(files))
	}
	for t := range s.stat {
		if !seen[t] && next[t] == nil {
			delete(s.stat, t)
			if prev[t] != nil {
				s.cfg.Logger.Info("tenant programs removed; the default program runs", "tenant", t)
			}
		}
	}
	s.cur.Store(&next)
	if len(failed) > 0 {
		return fmt.Errorf("%w: %s", errSomeRefused, strings.Join(failed, ", "))
	}
	return nil
}

// refuse records why tenant's new programs are not in force and keeps
// its previous ones.
func (s *Set) refuse(tenant string, prev *loaded, next map[string]*loaded, why string) {
	st := TenantStatus{Tenant: tenant, Err: why, Default: prev == nil}
	if prev != nil {
		next[tenant] = prev
		st.Files, st.Digest = prev.files, prev.digest
	}
	s.stat[tenant] = st
	s.cfg.Logger.Warn("tenant programs refused; the previous version keeps running", "tenant", tenant, "why", why)
}

// source is one file of a tenant's programs.
type source struct {
	name string
	data []byte
}

func names(fs []source) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

// readTenant reads a tenant's *.lll, YAML policy (*.yaml and *.yml but
// tenant.yaml) and *.lllb files, sorted by name, and a digest of their
// names and contents.
func readTenant(dir string) ([]source, string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, "", err
	}
	var out []source
	h := sha256.New()
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !(strings.HasSuffix(n, ".lll") || strings.HasSuffix(n, ".lllb") || policyyaml.IsPolicyFile(n)) {
			continue
		}
		path := filepath.Join(dir, n)
		data, err := readLimited(path)
		if err != nil {
			return nil, "", err
		}
		out = append(out, source{name: path, data: data})
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(data))
		h.Write(data)
	}
	return out, hex.EncodeToString(h.Sum(nil)), nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxSourceBytes {
		return nil, fmt.Errorf("%s is %d bytes; at most %d", path, st.Size(), maxSourceBytes)
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(f)
	return b.Bytes(), err
}

// trusted reads DATA/cfg/trusted-bundle-keys (absent: trusts nothing)
// and returns a digest of its content.
func (s *Set) trusted() (*bundle.Trusted, string, error) {
	data, err := os.ReadFile(filepath.Join(s.cfg.DataDir, "cfg", TrustedKeysFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "none", nil
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:8])
	if err != nil {
		return nil, digest, err
	}
	t, err := bundle.ParseTrusted(data)
	return t, digest, err
}

// compile turns a tenant's files into a machine: the .lll sources checked
// together, or one bundle (not both: which would win would be a guess).
func (s *Set) compile(tenant string, files []source, trusted *bundle.Trusted, trustErr error) (*eval.Machine, error) {
	var lll, lllb []source // lll: the sources, .lll and YAML policies
	for _, f := range files {
		if strings.HasSuffix(f.name, ".lllb") {
			lllb = append(lllb, f)
		} else {
			lll = append(lll, f)
		}
	}
	var prog *ir.Program
	switch {
	case len(lllb) > 0 && (len(lll) > 0 || len(lllb) > 1):
		return nil, fmt.Errorf("a tenant runs either sources (.lll, YAML policies) or one signed .lllb bundle, found %d and %d", len(lll), len(lllb))
	case len(lllb) == 1:
		if trustErr != nil {
			return nil, fmt.Errorf("%s: %w", TrustedKeysFile, trustErr)
		}
		b, err := bundle.Open(lllb[0].data, trusted)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", lllb[0].name, err)
		}
		if prog, err = ir.Decode(b.IR); err != nil {
			return nil, fmt.Errorf("%s: %w", lllb[0].name, err)
		}
	default:
		var parsed []*syntax.File
		var errs syntax.ErrorList
		for _, f := range lll {
			pf, err := policyyaml.ParseSource(f.name, f.data)
			if err != nil {
				var el syntax.ErrorList
				if errors.As(err, &el) {
					errs = append(errs, el...)
					continue
				}
				return nil, err
			}
			parsed = append(parsed, pf)
		}
		if len(errs) > 0 {
			return nil, errs
		}
		var err error
		if prog, err = check.Check(parsed, check.Options{}); err != nil {
			return nil, err
		}
	}
	var feats eval.Features
	if s.cfg.Features != nil {
		feats = s.cfg.Features(tenant)
	}
	return eval.New(prog, eval.Config{Features: feats})
}
