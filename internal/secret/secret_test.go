package secret

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A secret comes from the command line first (its value with a warning,
// or a file), else from the environment (its value, or a file); a value
// and a file at the same level are an error, and so is an empty file.
func TestFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "url")
	require.NoError(t, os.WriteFile(file, []byte("postgres://u:from-file@db/p\n"), 0o600))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))

	load := func(args []string, env map[string]string) (string, string, error) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var s Flag
		s.Flags(fs, "database-url", "PITWALL_DATABASE_URL", "PostgreSQL URL")
		require.NoError(t, fs.Parse(args))
		v, err := s.Load(func(k string) string { return env[k] })
		return v, s.Warning, err
	}
	for name, c := range map[string]struct {
		args      []string
		env       map[string]string
		want, err string
		warn      bool
	}{
		"nothing":          {want: ""},
		"env":              {env: map[string]string{"PITWALL_DATABASE_URL": "postgres://env"}, want: "postgres://env"},
		"env file":         {env: map[string]string{"PITWALL_DATABASE_URL_FILE": file}, want: "postgres://u:from-file@db/p"},
		"flag file":        {args: []string{"--database-url-file", file}, want: "postgres://u:from-file@db/p"},
		"flag":             {args: []string{"--database-url", "postgres://argv"}, want: "postgres://argv", warn: true},
		"flag beats env":   {args: []string{"--database-url-file", file}, env: map[string]string{"PITWALL_DATABASE_URL": "x"}, want: "postgres://u:from-file@db/p"},
		"flag and file":    {args: []string{"--database-url", "a", "--database-url-file", file}, err: "give --database-url or --database-url-file, not both"},
		"env and env file": {env: map[string]string{"PITWALL_DATABASE_URL": "a", "PITWALL_DATABASE_URL_FILE": file}, err: "set PITWALL_DATABASE_URL or PITWALL_DATABASE_URL_FILE, not both"},
		"empty file":       {args: []string{"--database-url-file", empty}, err: "is empty"},
		"missing file":     {env: map[string]string{"PITWALL_DATABASE_URL_FILE": file + ".gone"}, err: "PITWALL_DATABASE_URL_FILE: open"},
	} {
		v, warn, err := load(c.args, c.env)
		if c.err != "" {
			require.ErrorContains(t, err, c.err, name)
			continue
		}
		require.NoError(t, err, name)
		require.Equal(t, c.want, v, name)
		if c.warn {
			require.Contains(t, warn, "--database-url is on the command line, where every user of this host can read it", name)
			require.Contains(t, warn, "PITWALL_DATABASE_URL or --database-url-file", name)
		} else {
			require.Empty(t, warn, name)
		}
	}

	v, err := FromEnv("PITWALL_BOOTSTRAP_TOKEN", func(k string) string {
		return map[string]string{"PITWALL_BOOTSTRAP_TOKEN_FILE": file}[k]
	})
	require.NoError(t, err)
	require.Equal(t, "postgres://u:from-file@db/p", v)
}
