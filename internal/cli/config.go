package cli

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Configuration precedence, highest first:
//
//  1. a flag on the command line;
//  2. the environment variable LOGLINE_<FLAG> (upper case, "-" → "_"),
//     for example LOGLINE_DATA, LOGLINE_SERVER, LOGLINE_LOG_LEVEL;
//  3. the YAML file named by --config (or LOGLINE_CONFIG), whose keys are
//     flag names (`data: /var/lib/logline`);
//  4. the flag's default.
//
// A file is shared by all commands: a key that is a flag of some other
// command is ignored, a key that is no flag of any command is an error (a
// typo should not pass silently).

const (
	envPrefix  = "LOGLINE_"
	configFlag = "config"
	configEnv  = envPrefix + "CONFIG"
)

// notConfigurable are flags that only the command line sets.
var notConfigurable = map[string]bool{"help": true, "version": true, configFlag: true}

// envName is the environment variable of a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// loadConfigFile reads a YAML configuration file into flag name → value.
// Lists become comma-separated values (the syntax of slice flags).
func loadConfigFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, usageErrorf("config file %s: %w", path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, err := scalarString(v)
		if err != nil {
			return nil, usageErrorf("config file %s: key %q: %v", path, k, err)
		}
		out[k] = s
	}
	return out, nil
}

// scalarString renders a YAML value as a flag value.
func scalarString(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := scalarString(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	default:
		return "", fmt.Errorf("want a scalar or a list, got %T", v)
	}
}

// allFlagNames collects the flag names of every command in the tree.
func allFlagNames(root *cobra.Command) map[string]bool {
	names := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		add := func(f *pflag.Flag) { names[f.Name] = true }
		c.LocalFlags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return names
}

// applyConfig gives every flag of cmd that was not set on the command line
// its value from the environment or, failing that, from the config file.
// getenv looks up environment variables (os.Getenv in production).
func applyConfig(cmd *cobra.Command, getenv func(string) string) error {
	flags := cmd.Flags()
	path := ""
	if f := flags.Lookup(configFlag); f != nil && f.Changed {
		path = f.Value.String()
	} else if v := getenv(configEnv); v != "" {
		path = v
	}
	var file map[string]string
	if path != "" {
		var err error
		if file, err = loadConfigFile(path); err != nil {
			return err
		}
		known := allFlagNames(cmd.Root())
		var unknown []string
		for k := range file {
			if !known[k] || notConfigurable[k] {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return usageErrorf("config file %s: unknown key(s) %s (keys are flag names)", path, strings.Join(unknown, ", "))
		}
	}
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || notConfigurable[f.Name] {
			return
		}
		src, val, ok := "", "", false
		if v, set := lookupEnv(getenv, envName(f.Name)); set {
			src, val, ok = "environment variable "+envName(f.Name), v, true
		} else if v, set := file[f.Name]; set {
			src, val, ok = "config file "+path+" key "+f.Name, v, true
		}
		if !ok {
			return
		}
		if e := flags.Set(f.Name, val); e != nil {
			err = usageErrorf("%s: invalid value %q for --%s: %v", src, val, f.Name, e)
		}
	})
	return err
}

// lookupEnv reports a variable as set only when it is non-empty, so an
// empty LOGLINE_X= does not override the file or the default.
func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}
