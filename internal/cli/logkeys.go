package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/tlog"
)

// logKeyJSON is one log key in the output of keys list and keys rotate.
type logKeyJSON struct {
	ID       string     `json:"id"`
	Active   bool       `json:"active"`
	Created  time.Time  `json:"created"`
	Retired  *time.Time `json:"retired,omitempty"`
	Verifier string     `json:"verifier"`
}

func logKeysJSON(keys []tlog.KeyInfo) []logKeyJSON {
	out := make([]logKeyJSON, len(keys))
	for i, k := range keys {
		out[i] = logKeyJSON{ID: k.ID(), Active: k.Active, Created: k.Created, Verifier: k.Verifier}
		if !k.Active {
			r := k.Retired
			out[i].Retired = &r
		}
	}
	return out
}

// newLogKeyCommands returns `keys list` and `keys rotate`, which manage the
// log's own signing keys in DATA/keys (not client keys).
func (a *app) newLogKeyCommands() []*cobra.Command {
	var data string
	var asJSON bool
	list := &cobra.Command{
		Use:   "list --data DIR",
		Short: "List the log's signing keys (active and retired) in DIR/keys",
		Long: `List the log's checkpoint signing keys kept in DIR/keys: the active key
and every retired one, whose verifier keys stay published by GET /log/key so
old checkpoints keep verifying. Reads only; the private key is not needed.`,
		Example: `  logline keys list --data ./data`,
		Args:    noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.keysList(data, asJSON)
		}),
	}
	list.Flags().StringVar(&data, "data", DefaultData, "data directory of the embedded store")
	list.Flags().BoolVar(&asJSON, "json", false, "print the keys as JSON")

	var rdata string
	var rjson bool
	rotate := &cobra.Command{
		Use:   "rotate --data DIR",
		Short: "Retire the log's signing key and make a new one",
		Long: `Generate a new Ed25519 log key in DIR/keys and make it the active one.
The retired key's verifier key stays in keys.json — GET /log/key keeps
publishing it and old checkpoints, receipts and exports keep verifying —
and its private key file is deleted.

A running server keeps signing with the key it loaded; the new key signs
from the server's next start (and GET /log/key lists it from then on).
Clients that pin log keys need the new verifier key, printed here.`,
		Example: `  logline keys rotate --data ./data`,
		Args:    noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.keysRotate(rdata, rjson)
		}),
	}
	rotate.Flags().StringVar(&rdata, "data", DefaultData, "data directory of the embedded store")
	rotate.Flags().BoolVar(&rjson, "json", false, "print the keys after the rotation as JSON")
	for _, c := range []*cobra.Command{list, rotate} {
		_ = c.MarkFlagDirname("data")
	}
	return []*cobra.Command{list, rotate}
}

// logKeysDir returns DATA/keys, or a usage error when it holds no log keys.
func logKeysDir(data string) (string, error) {
	dir := filepath.Join(data, keysDirName)
	if _, err := tlog.KeysOrigin(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", usageErrorf("--data %s: no log keys in %s (the first 'logline serve' creates them)", data, dir)
		}
		return "", failErrorf("%w", err)
	}
	return dir, nil
}

func (a *app) keysList(data string, asJSON bool) error {
	dir, err := logKeysDir(data)
	if err != nil {
		return err
	}
	origin, keys, _, err := tlog.ReadVerifiers(dir)
	if err != nil {
		return failErrorf("%w", err)
	}
	return a.printLogKeys(origin, keys, asJSON)
}

func (a *app) keysRotate(data string, asJSON bool) error {
	dir, err := logKeysDir(data)
	if err != nil {
		return err
	}
	origin, err := tlog.KeysOrigin(dir)
	if err != nil {
		return failErrorf("%w", err)
	}
	keys, err := tlog.LoadOrCreateKeys(dir, origin, nil, nil)
	if err != nil {
		return failErrorf("%w", err)
	}
	before := keys.Keys()
	if err := keys.Rotate(); err != nil {
		return ioErrorf("%w", err)
	}
	after := keys.Keys()
	if !asJSON {
		fmt.Fprintf(a.io.Err, "retired log key %s; the new active key is %s (a running server switches at its next start)\n",
			before[len(before)-1].ID(), after[len(after)-1].ID())
	}
	return a.printLogKeys(origin, after, asJSON)
}

func (a *app) printLogKeys(origin string, keys []tlog.KeyInfo, asJSON bool) error {
	if asJSON {
		return writeJSON(a.io.Out, struct {
			Origin string       `json:"origin"`
			Keys   []logKeyJSON `json:"keys"`
		}{origin, logKeysJSON(keys)})
	}
	w := a.io.Out
	fmt.Fprintf(w, "origin %s\n", origin)
	for i := len(keys) - 1; i >= 0; i-- { // active first, like GET /log/key
		k := keys[i]
		state := "active"
		if !k.Active {
			state = "retired " + k.Retired.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s  %-28s  created %s  %s\n", k.ID(), state, k.Created.UTC().Format(time.RFC3339), k.Verifier)
	}
	return nil
}
