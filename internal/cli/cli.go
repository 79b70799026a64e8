// Package cli implements the logline command line: one file per command,
// the configuration precedence (flag > environment > YAML file > default),
// exit codes, and output for people (tables, progress bars on a terminal)
// and for scripts (--json, NDJSON). cmd/logline only wires it to the
// process: arguments, standard streams, signals.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/bench"
	"github.com/logline/logline/internal/client"
)

// IO is the process environment a command runs in.
type IO struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	OutTTY bool // Out is a terminal: pretty output for people
	ErrTTY bool // Err is a terminal: progress bars and colourless text logs
	// Getenv looks up environment variables (os.Getenv when nil).
	Getenv func(string) string
}

// app holds what every command shares.
type app struct {
	io       IO
	version  string
	logLevel string
	config   string
}

// Main runs the logline command line with args (without the program
// name) and returns the process exit code. ctx is cancelled when the
// process is asked to stop (SIGINT, SIGTERM).
func Main(ctx context.Context, args []string, io IO, version string) int {
	if io.Getenv == nil {
		io.Getenv = os.Getenv
	}
	if version == "" {
		version = "devel"
	}
	a := &app{io: io, version: version}
	root := a.newRoot()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := exitCodeOf(err)
	if err != nil {
		ee, ok := err.(*exitError)
		if !ok || !ee.quiet {
			fmt.Fprintf(io.Err, "logline: %v\n", err)
		}
		if !ok || ee.hint {
			fmt.Fprintf(io.Err, "Run '%s --help' for usage.\n", commandPath(root, args))
		}
	}
	return code
}

// commandPath names the subcommand args select, for the usage hint.
func commandPath(root *cobra.Command, args []string) string {
	c, _, err := root.Find(args)
	if err != nil || c == nil {
		return root.Name()
	}
	return c.CommandPath()
}

func (a *app) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "logline",
		Short: "LogLine: an append-only ledger of signed spans",
		Long: `LogLine is a self-hosted, append-only ledger of signed spans.

Start a server on the embedded store with 'logline serve', push spans with
'logline ingest', read them with 'logline get', 'logline query' and
'logline tail', and check a data directory offline with 'logline verify'.

Every flag can also come from the environment (LOGLINE_<FLAG>, for example
LOGLINE_DATA or LOGLINE_SERVER) or from a YAML file (--config FILE or
LOGLINE_CONFIG) whose keys are flag names. A flag on the command line
wins over the environment, which wins over the file.

Exit codes: 0 ok; 1 verification failed, lines rejected or not found;
2 usage or bad input; 3 server unreachable or I/O error; 130 interrupted.`,
		Version:       a.version,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyConfig(cmd, a.io.Getenv)
		},
	}
	root.SetIn(a.io.In)
	root.SetOut(a.io.Out)
	root.SetErr(a.io.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cmdlineErrorf("%v", err)
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.config, configFlag, "", "YAML file of flag values (keys are flag names; env LOGLINE_CONFIG)")
	pf.StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	_ = root.MarkPersistentFlagFilename(configFlag, "yaml", "yml")
	_ = root.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions(
		[]cobra.Completion{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	root.AddCommand(
		a.newServe(),
		a.newKeys(),
		a.newSign(),
		a.newIngest(),
		a.newGet(),
		a.newQuery(),
		a.newTail(),
		a.newVerify(),
		a.newReindex(),
		a.newMigrate(),
		a.newMigrateStore(),
		a.newExport(),
		a.newBackup(),
		a.newRestore(),
		a.newSA(),
		a.newToken(),
		a.newCompile(),
		a.newRun(),
		a.newFmt(),
		a.newCheck(),
		a.newOpenAPI(),
		a.newQuality(),
		a.newReplay(),
		bench.NewCommand(),
	)
	return root
}

// run adapts a command body: errors it does not classify itself get an
// exit code from classify.
func run(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return classify(fn(cmd, args))
	}
}

// exactArgs is cobra.ExactArgs with a usage-error exit code.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return cmdlineErrorf("%s takes %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}

// maxArgs is cobra.MaximumNArgs with a usage-error exit code.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return cmdlineErrorf("%s takes at most %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}

// noArgs is cobra.NoArgs with a usage-error exit code.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cmdlineErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// logger builds the process logger: text on a terminal, JSON otherwise.
func (a *app) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", a.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	if a.io.ErrTTY {
		return slog.New(slog.NewTextHandler(a.io.Err, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(a.io.Err, opts)), nil
}

// serverFlags are the flags of every command that talks to a server.
type serverFlags struct {
	server      string
	token       string
	credentials string
}

func (s *serverFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.server, "server", client.DefaultServer, "URL of the LogLine server (env LOGLINE_SERVER)")
	cmd.Flags().StringVar(&s.token, "token", "", "LogLine token (LLST) to authenticate with (env LOGLINE_TOKEN; see 'logline token issue')")
	cmd.Flags().StringVar(&s.credentials, "credentials", "", "service account credential file to get tokens with (env LOGLINE_CREDENTIALS; see 'logline sa create')")
}

// client builds an API client for the configured server.
func (a *app) client(s serverFlags) (*client.Client, error) {
	c, err := client.New(s.server, &http.Client{}, "logline/"+a.version)
	if err != nil {
		return nil, usageErrorf("--server: %v", err)
	}
	ts, err := a.tokenSource(s, c.BaseURL())
	if err != nil {
		return nil, err
	}
	if ts != nil {
		c = c.WithToken(ts)
	}
	return c, nil
}
