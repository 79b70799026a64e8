package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
)

// TestConfigPrecedence checks flag > LOGLINE_<FLAG> > YAML file > default.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "logline.yaml")
	if err := os.WriteFile(file, []byte("data: file-data\nbatch: 7\nserver: http://file:1\nfollow: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte("data: other-data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type want struct {
		data   string
		batch  int
		server string
		follow bool
	}
	defaults := want{data: "./data", batch: 5000, server: "http://127.0.0.1:8420"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want want
	}{
		{"defaults", nil, nil, defaults},
		{"file via --config", []string{"--config", file}, nil,
			want{data: "file-data", batch: 7, server: "http://file:1", follow: true}},
		{"file via LOGLINE_CONFIG", nil, map[string]string{"LOGLINE_CONFIG": file},
			want{data: "file-data", batch: 7, server: "http://file:1", follow: true}},
		{"--config beats LOGLINE_CONFIG", []string{"--config", other}, map[string]string{"LOGLINE_CONFIG": file},
			want{data: "other-data", batch: 5000, server: defaults.server}},
		{"env beats file", []string{"--config", file}, map[string]string{"LOGLINE_DATA": "env-data", "LOGLINE_BATCH": "9", "LOGLINE_FOLLOW": "false"},
			want{data: "env-data", batch: 9, server: "http://file:1", follow: false}},
		{"env beats default", nil, map[string]string{"LOGLINE_SERVER": "http://env:2"},
			want{data: "./data", batch: 5000, server: "http://env:2"}},
		{"empty env is unset", []string{"--config", file}, map[string]string{"LOGLINE_DATA": ""},
			want{data: "file-data", batch: 7, server: "http://file:1", follow: true}},
		{"flag beats env and file", []string{"--config", file, "--data", "flag-data", "--batch", "3", "--follow=false"},
			map[string]string{"LOGLINE_DATA": "env-data", "LOGLINE_BATCH": "9"},
			want{data: "flag-data", batch: 3, server: "http://file:1", follow: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got want
			root := &cobra.Command{Use: "root"}
			root.PersistentFlags().String(configFlag, "", "")
			cmd := &cobra.Command{
				Use: "cmd",
				PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
					return applyConfig(cmd, func(k string) string { return tt.env[k] })
				},
				RunE: func(*cobra.Command, []string) error { return nil },
			}
			cmd.Flags().StringVar(&got.data, "data", "./data", "")
			cmd.Flags().IntVar(&got.batch, "batch", 5000, "")
			cmd.Flags().StringVar(&got.server, "server", "http://127.0.0.1:8420", "")
			cmd.Flags().BoolVar(&got.follow, "follow", false, "")
			root.AddCommand(cmd)
			root.SetArgs(append([]string{"cmd"}, tt.args...))
			if err := root.Execute(); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"unknown key", []string{"--config", write("typo.yaml", "dta: x\n")}, nil},
		{"not yaml", []string{"--config", write("bad.yaml", "data: [unclosed\n")}, nil},
		{"nested map", []string{"--config", write("map.yaml", "data: {a: 1}\n")}, nil},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, nil},
		{"bad env value", nil, map[string]string{"LOGLINE_BATCH": "lots"}},
		{"bad file value", []string{"--config", write("batch.yaml", "batch: lots\n")}, nil},
		{"version is not configurable", []string{"--config", write("v.yaml", "version: true\n")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := &cobra.Command{Use: "root", Version: "1"}
			root.PersistentFlags().String(configFlag, "", "")
			cmd := &cobra.Command{
				Use: "cmd",
				PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
					return applyConfig(cmd, func(k string) string { return tt.env[k] })
				},
				RunE: func(*cobra.Command, []string) error { return nil },
			}
			cmd.Flags().Int("batch", 1, "")
			cmd.Flags().String("data", "", "")
			root.AddCommand(cmd)
			root.SetArgs(append([]string{"cmd"}, tt.args...))
			root.SilenceErrors, root.SilenceUsage = true, true
			err := root.Execute()
			if got := exitCodeOf(err); got != ExitUsage {
				t.Errorf("exit code %d (err %v), want %d", got, err, ExitUsage)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{
		"data": "LOGLINE_DATA", "log-level": "LOGLINE_LOG_LEVEL", "entity-type": "LOGLINE_ENTITY_TYPE",
	} {
		if got := envName(flag); got != want {
			t.Errorf("envName(%q) = %q, want %q", flag, got, want)
		}
	}
}
