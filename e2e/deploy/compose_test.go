// Package deploy checks the deployment files: docker-compose.yml is loaded
// and validated against the Compose specification's schema (what
// `docker compose config` does), since no registry is reachable here to run it.
package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
)

func load(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("pitwall", true) })
}

func TestComposeFileIsValid(t *testing.T) {
	t.Parallel()
	p, err := load(t, map[string]string{"PITWALL_DB_PASSWORD": "from-the-environment"})
	require.NoError(t, err)
	for _, name := range []string{"postgres", "temporal", "temporal-ui", "prometheus", "pitwall-server", "pitwall-worker", "pitwall-agent"} {
		_, err := p.GetService(name)
		require.NoError(t, err, "service %s", name)
	}
	server, _ := p.GetService("pitwall-server")
	require.NotNil(t, server.Build)
	require.FileExists(t, filepath.Join(server.Build.Context, "Dockerfile"))
	require.Contains(t, *server.Environment["PITWALL_DATABASE_URL"], "from-the-environment")

	worker, _ := p.GetService("pitwall-worker")
	require.Equal(t, []string{"pitwall-worker", "--role", "central"}, []string(worker.Command))
	agent, _ := p.GetService("pitwall-agent")
	require.Contains(t, strings.Join(agent.Command, " "), "--role agent")

	prom, _ := p.GetService("prometheus")
	require.FileExists(t, prom.Volumes[0].Source)
}

func TestComposeHasNoDefaultPassword(t *testing.T) {
	t.Parallel()
	_, err := load(t, map[string]string{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "PITWALL_DB_PASSWORD")
}

// The Dockerfile builds the binaries the compose file runs.
func TestDockerfileBuildsWhatComposeRuns(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	for _, bin := range []string{"/out/pitwall-server ./ui", "/out/pitwall-worker ./worker", "/out/starter ./starter"} {
		require.Contains(t, string(b), bin)
	}
}
