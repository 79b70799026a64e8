package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/auth/llst"
	"github.com/logline/logline/internal/auth/serviceacct"
	"github.com/logline/logline/internal/auth/tenantcfg"
	"github.com/logline/logline/internal/client"
	"github.com/logline/logline/internal/ledger/pgstore"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// newSA returns `logline sa`: service accounts for apps (docs/auth.md).
func (a *app) newSA() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sa",
		Short: "Manage service accounts (how apps authenticate)",
		Long: `Service accounts are how apps authenticate to LogLine: each has an
Ed25519 key pair whose private half lives only in the app's credential
file; the app signs a short JWT assertion (RFC 7523) and trades it at
POST /auth/token for a 15-minute LogLine token. There is no long-lived
bearer secret. Accounts live in DATA/cfg/tenants/TENANT/service-accounts/
and a running server picks up changes within seconds.`,
	}
	cmd.AddCommand(a.newSACreate(), a.newSAList(), a.newSADisable())
	return cmd
}

type saCreateOptions struct {
	data, tenant, name, out, server, tokenURI string
	roles                                     []string
	json                                      bool
}

func (a *app) newSACreate() *cobra.Command {
	var o saCreateOptions
	cmd := &cobra.Command{
		Use:   "create --tenant T --role R --out FILE",
		Short: "Create a service account and write its credential file",
		Long: `Create a service account of tenant --tenant with the roles --role (built-in
admin, writer, reader, or one the tenant's tenant.yaml defines) and write
its credential file to --out (mode 0600; it holds the private key, which
LogLine does not keep). Give the file to the app, or use it from the
command line with --credentials FILE (env LOGLINE_CREDENTIALS).

The credential names the token endpoint its assertions are addressed to:
--token-uri, by default the --server URL + /auth/token. It must be the
URL the server knows itself by (serve --public-url, else http://ADDR).`,
		Example: `  logline sa create --data ./data --tenant bakery --role writer --name ovens --out ovens.json
  LOGLINE_CREDENTIALS=ovens.json logline ingest batches.ndjson`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error { return a.saCreate(o) }),
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", DefaultData, "data directory of the server")
	f.StringVar(&o.tenant, "tenant", "", "tenant of the account")
	f.StringSliceVar(&o.roles, "role", nil, "role of the account (repeatable)")
	f.StringVar(&o.name, "name", "", "a label for people (e.g. the app's name)")
	f.StringVar(&o.out, "out", "", "where to write the credential file (must not exist)")
	f.StringVar(&o.server, "server", client.DefaultServer, "URL apps reach the server at (env LOGLINE_SERVER)")
	f.StringVar(&o.tokenURI, "token-uri", "", "token endpoint named in the credential (default: --server + /auth/token)")
	f.BoolVar(&o.json, "json", false, "print the account as JSON")
	_ = cmd.MarkFlagDirname("data")
	return cmd
}

// accountJSON is an account in sa's output.
type accountJSON struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"`
	Name        string    `json:"name,omitempty"`
	Roles       []string  `json:"roles"`
	KeyID       string    `json:"key_id"`
	Created     time.Time `json:"created"`
	Disabled    bool      `json:"disabled"`
	Credentials string    `json:"credentials,omitempty"`
}

func toAccountJSON(acc serviceacct.Account) accountJSON {
	return accountJSON{ID: acc.ID, Tenant: acc.Tenant, Name: acc.Name, Roles: acc.Roles, KeyID: acc.KeyID, Created: acc.Created, Disabled: acc.Disabled}
}

// tenantConfig loads tenant's configuration from data (defaults when it
// has no tenant.yaml), refusing an invalid file.
func tenantConfig(data, tenant string) (*tenantcfg.Tenant, error) {
	if !span.ValidTenant(tenant) {
		return nil, usageErrorf("--tenant %q: want [a-z0-9_-]{1,64}", tenant)
	}
	snap, err := tenantcfg.Load(data, span.ValidTenant)
	if err != nil {
		var list tenantcfg.ErrorList
		if !errors.As(err, &list) {
			return nil, ioErrorf("tenant configuration: %w", err)
		}
		for _, e := range list {
			if e.Tenant == tenant {
				return nil, failErrorf("%s's configuration is invalid:\n%s", tenant, list.Lines())
			}
		}
	}
	return snap.TenantOrDefaults(tenant), nil
}

func checkRoles(t *tenantcfg.Tenant, tenant string, roles []string) error {
	if len(roles) == 0 {
		return cmdlineErrorf("give at least one --role (%s)", strings.Join(t.Roles(), ", "))
	}
	for _, r := range roles {
		if !t.HasRole(r) {
			return usageErrorf("tenant %s has no role %q (it has: %s; define more in its tenant.yaml)", tenant, r, strings.Join(t.Roles(), ", "))
		}
	}
	return nil
}

func (a *app) saCreate(o saCreateOptions) error {
	if o.tenant == "" || o.out == "" {
		return cmdlineErrorf("sa create needs --tenant T, --role R and --out FILE")
	}
	if _, err := os.Stat(o.data); err != nil {
		return usageErrorf("--data %s: %w", o.data, err)
	}
	t, err := tenantConfig(o.data, o.tenant)
	if err != nil {
		return err
	}
	if err := checkRoles(t, o.tenant, o.roles); err != nil {
		return err
	}
	if _, err := os.Stat(o.out); err == nil {
		return usageErrorf("--out %s exists; a credential file is never overwritten", o.out)
	}
	tokenURI := o.tokenURI
	if tokenURI == "" {
		c, err := client.New(o.server, nil, "")
		if err != nil {
			return usageErrorf("--server: %v", err)
		}
		tokenURI = c.BaseURL() + "/auth/token"
	}
	acc, cred, err := serviceacct.Create(o.data, serviceacct.CreateOptions{
		Tenant: o.tenant, Roles: o.roles, Name: o.name, TokenURI: tokenURI, Now: time.Now(), ValidTenant: span.ValidTenant,
	})
	if err != nil {
		return usageErrorf("sa create: %w", err)
	}
	if err := serviceacct.WriteCredentials(o.out, cred); err != nil {
		// The account without its key is useless: disable it.
		_, _ = serviceacct.Disable(o.data, o.tenant, acc.ID, time.Now())
		return ioErrorf("write %s: %w (account %s disabled)", o.out, err, acc.ID)
	}
	out := toAccountJSON(acc)
	out.Credentials = o.out
	if o.json {
		return writeJSON(a.io.Out, out)
	}
	fmt.Fprintf(a.io.Out, "created service account %s (tenant %s, roles %s)\ncredentials: %s (mode 0600; the only copy of its private key)\nuse it:      LOGLINE_CREDENTIALS=%s logline ingest FILE\n",
		acc.ID, acc.Tenant, strings.Join(acc.Roles, ", "), o.out, o.out)
	return nil
}

func (a *app) newSAList() *cobra.Command {
	var data, tenant string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list --tenant T",
		Short: "List a tenant's service accounts",
		Args:  noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			if !span.ValidTenant(tenant) {
				return cmdlineErrorf("sa list needs --tenant T")
			}
			accs, err := serviceacct.List(data, tenant)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return ioErrorf("sa list: %w", err)
			}
			out := make([]accountJSON, 0, len(accs))
			for _, acc := range accs {
				out = append(out, toAccountJSON(acc))
			}
			if asJSON {
				return writeJSON(a.io.Out, out)
			}
			tw := tabwriter.NewWriter(a.io.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLES\tCREATED\tSTATE")
			for _, acc := range out {
				state := "enabled"
				if acc.Disabled {
					state = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", acc.ID, acc.Name, strings.Join(acc.Roles, ","), acc.Created.Format(time.RFC3339), state)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&data, "data", DefaultData, "data directory of the server")
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant whose accounts to list")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) newSADisable() *cobra.Command {
	var data, tenant string
	cmd := &cobra.Command{
		Use:   "disable --tenant T ID",
		Short: "Disable a service account (its assertions are refused from then on)",
		Long: `Disable a service account: a running server refuses its assertions within
seconds; tokens it already holds stay valid until they expire (at most 15
minutes). The record stays, so the account's past actions keep a name.`,
		Args: exactArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			if !span.ValidTenant(tenant) {
				return cmdlineErrorf("sa disable needs --tenant T")
			}
			acc, err := serviceacct.Disable(data, tenant, args[0], time.Now())
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, serviceacct.ErrNotFound) {
					return usageErrorf("tenant %s has no service account %s", tenant, args[0])
				}
				return ioErrorf("sa disable: %w", err)
			}
			fmt.Fprintf(a.io.Out, "disabled %s (tenant %s)\n", acc.ID, acc.Tenant)
			return nil
		}),
	}
	cmd.Flags().StringVar(&data, "data", DefaultData, "data directory of the server")
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant of the account")
	return cmd
}

type tokenIssueOptions struct {
	data, store, tenant, subject string
	roles                        []string
	ttl                          time.Duration
	json                         bool
}

// newToken returns `logline token issue`.
func (a *app) newToken() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint LogLine tokens with the data directory's keys",
	}
	var o tokenIssueOptions
	issue := &cobra.Command{
		Use:   "issue --tenant T --role R",
		Short: "Mint a token (LLST) for a tenant and role — for operators and scripts",
		Long: `Mint a LogLine session token for tenant --tenant with the roles --role,
signed with the token keys in DATA/keys/llst (created if the server never
ran). Anyone who can read the data directory can do this; it works while
the server runs. The token is printed on standard output; it expires after
--ttl (at most 15 minutes). The server records its first use as a
token.issue event in the tenant's ledger.`,
		Example: `  export LOGLINE_TOKEN=$(logline token issue --data ./data --tenant default --role admin)
  logline query --tenant default`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error { return a.tokenIssue(cmd.Context(), o) }),
	}
	f := issue.Flags()
	f.StringVar(&o.data, "data", DefaultData, "data directory of the server (its cfg/ gives the tenant's roles)")
	f.StringVar(&o.store, "store", "", "PostgreSQL URL of the ledger: its nodes share their token keys in the database")
	f.StringVar(&o.tenant, "tenant", "", "tenant the token acts in")
	f.StringSliceVar(&o.roles, "role", nil, "role the token carries (repeatable)")
	f.DurationVar(&o.ttl, "ttl", llst.MaxLifetime, "lifetime (at most 15m)")
	f.StringVar(&o.subject, "subject", "", "who the token names (default operator:USER)")
	f.BoolVar(&o.json, "json", false, "print the token with its expiry and grants as JSON")
	cmd.AddCommand(issue)
	return cmd
}

func (a *app) tokenIssue(ctx context.Context, o tokenIssueOptions) error {
	if o.tenant == "" {
		return cmdlineErrorf("token issue needs --tenant T and --role R")
	}
	if o.ttl <= 0 || o.ttl > llst.MaxLifetime {
		return usageErrorf("--ttl %s: want more than 0 and at most %s", o.ttl, llst.MaxLifetime)
	}
	log, err := a.quietLogger()
	if err != nil {
		return err
	}
	keysDir := filepath.Join(o.data, keysDirName)
	var (
		origin   string
		keyStore llst.KeyStore
	)
	if o.store != "" {
		if err := checkStoreURL(o.store); err != nil {
			return err
		}
		if origin, err = pgstore.ClaimOrigin(ctx, o.store, ""); err != nil {
			return pgError("read the log origin", o.store, err)
		}
		if origin == "" {
			return usageErrorf("%s holds no log yet: start 'logline serve --store' on it once first", redactURL(o.store))
		}
		tk, err := pgstore.OpenTokenKeys(ctx, o.store)
		if err != nil {
			return pgError("open the token keys", o.store, err)
		}
		defer tk.Close()
		keyStore = newPGTokenKeys(tk, log)
	} else {
		if origin, err = tlog.KeysOrigin(keysDir); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return usageErrorf("%s holds no log keys: start 'logline serve --data %s' once first", keysDir, o.data)
			}
			return ioErrorf("%w", err)
		}
		keyStore = llst.NewDirStore(filepath.Join(keysDir, llstDirName), log)
	}
	t, err := tenantConfig(o.data, o.tenant)
	if err != nil {
		return err
	}
	if err := checkRoles(t, o.tenant, o.roles); err != nil {
		return err
	}
	subject := o.subject
	if subject == "" {
		name := "unknown"
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		subject = "operator:" + name
	}
	ring, err := llst.Open(ctx, llst.Config{
		Store:  keyStore,
		Issuer: llstIssuer(origin), Audience: llstAudience, Logger: log,
	})
	if err != nil {
		return ioErrorf("token keys: %w", err)
	}
	grants := t.Grants(o.roles)
	token, exp, err := llst.NewIssuer(ring).Issue(ctx, llst.Claims{
		Subject: subject, Tenant: o.tenant, Roles: o.roles, Grants: grants, Kind: auth.KindOperator, TTL: o.ttl,
	})
	if err != nil {
		return usageErrorf("token issue: %w", err)
	}
	if o.json {
		return writeJSON(a.io.Out, map[string]any{
			"access_token": token, "token_type": "Bearer", "expires": exp.UTC(), "tenant": o.tenant,
			"roles": o.roles, "caps": grants, "subject": subject,
		})
	}
	fmt.Fprintln(a.io.Out, token)
	return nil
}
