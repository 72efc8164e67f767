package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/customerkey/customerkey/internal/service"
)

// configFlag adds --config FILE to a server command. It shadows the root's
// --config (a client's connection file): servers read a configuration
// file instead, and never $CK_CONFIG.
func configFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVar(path, "config", "", "configuration file, YAML or JSON, version v1 (docs/configuration.md); flags given override it")
}

// loadConfig reads the configuration file, or starts from an empty v1
// configuration without one.
func loadConfig(path string) (*service.Config, error) {
	if path == "" {
		return &service.Config{Version: service.Version}, nil
	}
	return service.Load(path)
}

// setFlag puts a flag's value into dst when the flag was given, or when
// the configuration left dst empty: a given flag overrides the file, and
// the file overrides a flag's default.
func setFlag[T comparable](fs *pflag.FlagSet, name string, dst *T, v T) {
	var zero T
	if fs.Changed(name) || *dst == zero {
		*dst = v
	}
}

// setFlagList is setFlag for list flags.
func setFlagList(fs *pflag.FlagSet, name string, dst *[]string, v []string) {
	if fs.Changed(name) || len(*dst) == 0 {
		*dst = v
	}
}

// validateConfig checks the configuration after the flags are applied,
// listing every problem on its own line.
func validateConfig(cfg *service.Config, file string) error {
	err := cfg.Validate()
	if err == nil {
		return nil
	}
	what := "the settings"
	if file != "" {
		what = "config " + file + " (with the flags given)"
	}
	problems := strings.Split(err.Error(), "\n")
	lines := []string{fmt.Sprintf("%s: %d problem(s):", what, len(problems))}
	for _, p := range problems {
		lines = append(lines, "  "+p)
	}
	return &linesError{lines: lines, err: err}
}
