package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/span"
)

type keysNewOptions struct {
	out   string
	force bool
	json  bool
}

func (a *app) newKeys() *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Manage Ed25519 keys: client signing keys (new) and the log's keys (list, rotate)",
		Args:  noArgs,
	}
	var o keysNewOptions
	newCmd := &cobra.Command{
		Use:   "new --out FILE",
		Short: "Create an Ed25519 key pair for signing spans",
		Long: `Create an Ed25519 key pair and write it to --out with mode 0600. The
file holds the private key: keep it secret. The public key (hex) is
printed; spans signed with 'logline sign --key FILE' carry it in
public_key. An existing file is never overwritten without --force.`,
		Example: `  logline keys new --out alice.key
  logline keys new --out alice.key --json`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.keysNew(o)
		}),
	}
	f := newCmd.Flags()
	f.StringVar(&o.out, "out", "", "file to write the key pair to (required)")
	f.BoolVar(&o.force, "force", false, "overwrite --out if it exists")
	f.BoolVar(&o.json, "json", false, "print {\"file\",\"public_key\"} as JSON")
	keys.AddCommand(newCmd)
	keys.AddCommand(a.newLogKeyCommands()...)
	return keys
}

func (a *app) keysNew(o keysNewOptions) error {
	if o.out == "" {
		return usageErrorf("keys new: --out FILE is required")
	}
	kp, err := span.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	data := kp.MarshalKeyFile()
	if o.force {
		err = durable.WriteFile(o.out, data, 0o600)
	} else {
		err = writeNewFile(o.out, data, 0o600)
	}
	if errors.Is(err, fs.ErrExist) {
		return usageErrorf("keys new: %s already exists; use --force to overwrite it", o.out)
	}
	if err != nil {
		return ioErrorf("keys new: %w", err)
	}
	pub := hex.EncodeToString(kp.Public)
	if o.json {
		return writeJSON(a.io.Out, struct {
			File      string `json:"file"`
			PublicKey string `json:"public_key"`
		}{o.out, pub})
	}
	fmt.Fprintf(a.io.Err, "wrote key pair to %s (mode 0600; keep it secret)\n", o.out)
	fmt.Fprintf(a.io.Out, "public key: %s\n", pub)
	return nil
}

// writeNewFile creates path (failing with fs.ErrExist if it exists) and
// writes data to it durably.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
