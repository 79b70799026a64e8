package tenantcfg

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// FileName is a tenant's configuration file inside its directory.
const FileName = "tenant.yaml"

// TenantsDir is where tenant configuration lives under a data directory:
// DATA/cfg/tenants.
func TenantsDir(dataDir string) string { return filepath.Join(dataDir, "cfg", "tenants") }

// Path is the file a tenant's configuration is written to:
// DATA/cfg/tenants/<tenant>/tenant.yaml (the alias DATA/cfg/tenants/<tenant>.yaml
// is read, never written).
func Path(dataDir, tenant string) string {
	return filepath.Join(TenantsDir(dataDir), tenant, FileName)
}

// Snapshot is the configuration of every tenant that has a valid
// tenant.yaml, at one moment. It is immutable and safe for concurrent use;
// a nil *Snapshot holds no tenants.
type Snapshot struct {
	tenants map[string]*Tenant
}

// Tenant returns a tenant's configuration; false means the tenant has no
// (valid) tenant.yaml and its Defaults apply.
func (s *Snapshot) Tenant(name string) (*Tenant, bool) {
	if s == nil {
		return nil, false
	}
	t, ok := s.tenants[name]
	return t, ok
}

// TenantOrDefaults returns a tenant's configuration, or its Defaults.
func (s *Snapshot) TenantOrDefaults(name string) *Tenant {
	if t, ok := s.Tenant(name); ok {
		return t
	}
	return Defaults(name)
}

// Names returns the configured tenants, sorted.
func (s *Snapshot) Names() []string {
	if s == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(s.tenants))
}

// Len is the number of configured tenants.
func (s *Snapshot) Len() int {
	if s == nil {
		return 0
	}
	return len(s.tenants)
}

// Load reads the configuration of every tenant under dataDir
// (TenantsDir). Tenants whose files are valid are in the Snapshot; the
// others are left out whole — never partly configured — and their
// problems come back as an ErrorList (errors.Is(err, ErrInvalid)) beside
// a non-nil Snapshot. A missing directory is no tenants, not an error; a
// directory that cannot be read is an error with a nil Snapshot.
//
// validTenant is the ledger's rule for tenant names (the lead passes
// span.ValidTenant); entries with other names are reported, not loaded.
// nil accepts any name that is a single path element.
func Load(dataDir string, validTenant func(string) bool) (*Snapshot, error) {
	l := loader{dir: TenantsDir(dataDir), valid: validTenant}
	results, err := l.load()
	if err != nil {
		return nil, err
	}
	s := &Snapshot{tenants: map[string]*Tenant{}}
	var errs ErrorList
	for _, r := range results {
		if r.t != nil {
			s.tenants[r.tenant] = r.t
		}
		errs = append(errs, r.errs...)
	}
	return s, errs.Err()
}

// result is what the loader found for one tenant (or one entry whose name
// is not a tenant name): a Tenant or errors.
type result struct {
	tenant string
	file   string
	t      *Tenant
	errs   ErrorList
}

// loader reads the tenants directory. With a cache it parses only files
// whose content changed since the last load.
type loader struct {
	dir   string
	valid func(string) bool
	cache map[string]cached // by file path; nil: no caching
}

type cached struct {
	sum  [sha256.Size]byte
	t    *Tenant
	errs ErrorList
}

func anyName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

func (l *loader) load() ([]result, error) {
	ents, err := os.ReadDir(l.dir)
	if errors.Is(err, fs.ErrNotExist) {
		if l.cache != nil {
			clear(l.cache)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tenant configuration: %w", err)
	}
	valid := l.valid
	if valid == nil {
		valid = anyName
	}
	// Per tenant name: its files (the directory form first) and the
	// problems found while listing, which refuse the tenant whole.
	type found struct {
		files []string
		errs  ErrorList
	}
	tenants := map[string]*found{}
	get := func(name string) *found {
		if tenants[name] == nil {
			tenants[name] = &found{}
		}
		return tenants[name]
	}
	bad := func(name, path, format string, args ...any) {
		f := get(name)
		f.errs = append(f.errs, &Error{Tenant: name, File: path, Msg: fmt.Sprintf(format, args...)})
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue // hidden, temporary files of durable.WriteFile, editors' swap files
		}
		path := filepath.Join(l.dir, name)
		fi, err := os.Stat(path) // follow symbolic links (configuration managers use them)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while we read, or a dangling link
			}
			bad(name, path, "cannot read: %v", unwrapPath(err))
			continue
		}
		var tenant, file string
		switch {
		case fi.IsDir():
			file = filepath.Join(path, FileName)
			if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
				continue // a tenant directory with service accounts only: defaults
			}
			tenant = name
		case strings.HasSuffix(name, ".yaml"):
			tenant, file = strings.TrimSuffix(name, ".yaml"), path
		case strings.HasSuffix(name, ".yml"):
			tenant = strings.TrimSuffix(name, ".yml")
			bad(tenant, path, "tenant files end in .yaml; rename it to %s.yaml", tenant)
			continue
		default:
			continue
		}
		if !valid(tenant) {
			bad(tenant, file, "%q is not a valid tenant name", clip(tenant))
			continue
		}
		f := get(tenant)
		if fi.IsDir() {
			f.files = append([]string{file}, f.files...)
		} else {
			f.files = append(f.files, file)
		}
	}
	var out []result
	seen := map[string]bool{}
	for _, tenant := range slices.Sorted(maps.Keys(tenants)) {
		f := tenants[tenant]
		if len(f.files) > 1 {
			f.errs = append(f.errs, &Error{Tenant: tenant, File: f.files[1],
				Msg: fmt.Sprintf("tenant %q is configured twice, in %s and here; keep only %s", tenant, f.files[0], f.files[0])})
		}
		if len(f.errs) > 0 {
			f.errs.Sort()
			file := ""
			if len(f.files) > 0 {
				file = f.files[0]
			}
			out = append(out, result{tenant: tenant, file: file, errs: f.errs})
			continue
		}
		seen[f.files[0]] = true
		if r := l.parse(tenant, f.files[0]); r.t != nil || r.errs != nil {
			out = append(out, r)
		}
	}
	for path := range l.cache {
		if !seen[path] {
			delete(l.cache, path)
		}
	}
	return out, nil
}

func (l *loader) parse(tenant, file string) result {
	r := result{tenant: tenant, file: file}
	data, err := readFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return r // removed since the directory was read: gone, not broken
	}
	if err != nil {
		r.errs = ErrorList{{Tenant: tenant, File: file, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}}
		return r
	}
	sum := sha256.Sum256(data)
	if c, ok := l.cache[file]; ok && c.sum == sum {
		r.t, r.errs = c.t, c.errs
		return r
	}
	t, err := Parse(tenant, file, data)
	if err != nil {
		var list ErrorList
		if !errors.As(err, &list) {
			list = ErrorList{{Tenant: tenant, File: file, Msg: err.Error()}}
		}
		r.errs = list
	} else {
		r.t = t
	}
	if l.cache != nil {
		l.cache[file] = cached{sum: sum, t: r.t, errs: r.errs}
	}
	return r
}

// readFile reads at most MaxFileSize+1 bytes, so that Parse can refuse a
// file that is too large without reading all of it.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// unwrapPath drops the operation and path of a *fs.PathError: the Error
// around it names the file already.
func unwrapPath(err error) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
