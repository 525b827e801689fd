// Package deploy checks the deployment files: docker-compose.yml is loaded
// and validated against the Compose specification's schema (what
// `docker compose config` does) and held to the rules of the deployment
// (secrets from the environment, mutual TLS to Temporal, loopback ports,
// images built here), and TestComposeRunsATest starts it for real.
package deploy

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/pitwall/pitwall/internal/temporalcfg"
)

// secrets are what the compose file needs from the environment.
var secrets = map[string]string{
	"PITWALL_DB_PASSWORD":     "pitwall-from-the-environment",
	"TEMPORAL_DB_PASSWORD":    "temporal-from-the-environment",
	"PITWALL_BOOTSTRAP_TOKEN": "bootstrap-token-from-the-environment-0123456789",
}

func load(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: maps.Clone(env), // the loader adds to it
	}, func(o *loader.Options) { o.SetProjectName("pitwall", true) })
}

func loadProject(t *testing.T) *types.Project {
	t.Helper()
	p, err := load(t, secrets)
	require.NoError(t, err)
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	require.NoError(t, err, "service %s", name)
	return s
}

func TestComposeFileIsValid(t *testing.T) {
	t.Parallel()
	p := loadProject(t)
	for _, name := range []string{"pki", "postgres", "temporal", "temporal-ui", "prometheus",
		"pitwall-server", "pitwall-worker", "agent-token", "pitwall-agent"} {
		service(t, p, name)
	}
	server := service(t, p, "pitwall-server")
	require.Contains(t, *server.Environment["PITWALL_DATABASE_URL"], "postgres://pitwall:pitwall-from-the-environment@")
	require.Equal(t, secrets["PITWALL_BOOTSTRAP_TOKEN"], *server.Environment["PITWALL_BOOTSTRAP_TOKEN"])
	require.Equal(t, secrets["TEMPORAL_DB_PASSWORD"], *service(t, p, "temporal").Environment["TEMPORAL_DB_PASSWORD"])

	require.Equal(t, []string{"pitwall-worker", "--role", "central"}, []string(service(t, p, "pitwall-worker").Command))
	agent := service(t, p, "pitwall-agent")
	require.Contains(t, strings.Join(agent.Command, " "), "--role agent --host agent-1")
	require.Equal(t, "/run/pitwall/agent-token", *agent.Environment["PITWALL_AGENT_TOKEN_FILE"])
	require.Equal(t, "agent-1-token", agent.Volumes[1].Source)
	tokens := service(t, p, "agent-token")
	require.Equal(t, "/token/agent-token", tokens.Command[len(tokens.Command)-1])
	require.Equal(t, "agent-1-token", tokens.Volumes[0].Source)
	require.Equal(t, types.ServiceConditionCompletedSuccessfully, agent.DependsOn["agent-token"].Condition)

	prom := service(t, p, "prometheus")
	require.FileExists(t, prom.Volumes[0].Source)
}

// No secret has a default: each missing one stops the file from loading.
func TestComposeHasNoDefaultPassword(t *testing.T) {
	t.Parallel()
	for name := range secrets {
		env := map[string]string{}
		for k, v := range secrets {
			if k != name {
				env[k] = v
			}
		}
		_, err := load(t, env)
		require.Error(t, err, "without %s", name)
		require.Contains(t, err.Error(), name)
	}
}

// Secrets reach processes through the environment or files, never argv
// (which every user of a host can read), and no file in the repository
// holds one.
func TestComposeKeepsSecretsOffCommandLines(t *testing.T) {
	t.Parallel()
	p := loadProject(t)
	for _, s := range p.Services {
		line := strings.Join(s.Command, " ") + " " + strings.Join(s.Entrypoint, " ")
		for _, v := range secrets {
			require.NotContains(t, line, v, "service %s has a secret on its command line", s.Name)
		}
	}
}

// Every Pitwall process talks to Temporal over mutual TLS with a
// certificate of its own, mounted from a volume no other service mounts.
func TestComposeUsesMutualTLSToTemporal(t *testing.T) {
	t.Parallel()
	p := loadProject(t)
	pkiOwners := map[string][]string{}
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if strings.HasPrefix(v.Source, "pki-") {
				pkiOwners[v.Source] = append(pkiOwners[v.Source], s.Name)
			}
		}
	}
	want := map[string]string{"pitwall-server": "pki-server", "pitwall-worker": "pki-worker",
		"pitwall-agent": "pki-agent-1", "temporal": "pki-temporal", "temporal-ui": "pki-operator"}
	for name, vol := range want {
		s := service(t, p, name)
		require.True(t, slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Source == vol && v.Target == "/pki" && v.ReadOnly
		}), "%s mounts %s read-only at /pki", name, vol)
		require.ElementsMatch(t, []string{"pki", name}, pkiOwners[vol], "only pki and %s mount %s", name, vol)
		if strings.HasPrefix(name, "pitwall-") {
			require.Equal(t, "/pki/cert.pem", *s.Environment["TEMPORAL_TLS_CERT"], name)
			require.Equal(t, "/pki/key.pem", *s.Environment["TEMPORAL_TLS_KEY"], name)
			require.Equal(t, "/pki/ca.pem", *s.Environment["TEMPORAL_TLS_CA"], name)
			require.Equal(t, "temporal", *s.Environment["TEMPORAL_TLS_SERVER_NAME"], name)
		}
	}
	require.Equal(t, []string{"pki"}, pkiOwners["pki-ca"], "the CA's key is mounted by pki alone")
	pki := service(t, p, "pki")
	require.Contains(t, strings.Join(pki.Command, " "), "--agent=agent-1")
	require.Equal(t, "none", pki.NetworkMode)
}

// Agents run users' scripts: they share a network with Temporal and the
// server, not with PostgreSQL; and every port is published on loopback.
func TestComposeIsolatesAgentsAndBindsLoopback(t *testing.T) {
	t.Parallel()
	p := loadProject(t)
	agent := service(t, p, "pitwall-agent")
	require.Equal(t, []string{"agents"}, slices.Sorted(maps.Keys(agent.Networks)))
	require.NotContains(t, service(t, p, "postgres").Networks, "agents")
	for _, s := range p.Services {
		for _, port := range s.Ports {
			require.Equal(t, "127.0.0.1", port.HostIP, "%s publishes %d beyond loopback", s.Name, port.Target)
		}
	}
}

// Every image is built here by deploy/images/build.sh: none comes from a
// registry, and each has its Dockerfile.
func TestComposeImagesAreBuiltHere(t *testing.T) {
	t.Parallel()
	p := loadProject(t)
	script, err := os.ReadFile("../../deploy/images/build.sh")
	require.NoError(t, err)
	_, loop, _ := strings.Cut(string(script), "\nfor img in ")
	loop, _, _ = strings.Cut(loop, ";")
	builds := strings.Fields(loop)
	for _, s := range p.Services {
		require.Nil(t, s.Build, "%s: images come from deploy/images/build.sh", s.Name)
		name, tag, _ := strings.Cut(s.Image, ":")
		require.Equal(t, "local", tag, "%s: image %s is not one built here", s.Name, s.Image)
		dir := strings.TrimPrefix(name, "pitwall-")
		require.FileExists(t, filepath.Join("../../deploy/images", dir, "Dockerfile"), s.Name)
		require.Contains(t, builds, dir, "build.sh builds %s", dir)
	}
	for _, bin := range []string{"/pitwall-server\" ./ui", "/pitwall-worker\" ./worker", "/starter\" ./starter",
		"/pitwall-certs\" ./cmd/pitwall-certs", "/pitwall-supervise\" ./cmd/pitwall-supervise",
		"cp .pitwall/bin/pitwall-temporal \"$ctx/temporal/bin/pitwall-temporal\""} {
		require.Contains(t, string(script), bin)
	}
	for _, f := range []string{"pitwall", "agent", "postgres", "prometheus", "temporal", "temporal-ui"} {
		b, err := os.ReadFile(filepath.Join("../../deploy/images", f, "Dockerfile"))
		require.NoError(t, err)
		from := strings.Fields(strings.SplitN(string(b[strings.Index(string(b), "\nFROM ")+1:]), "\n", 2)[0])[1]
		require.Contains(t, []string{"scratch", "pitwall-base:bookworm"}, from, "%s/Dockerfile FROM %s", f, from)
	}
}

// The compose deployment's Temporal reads the dynamic config README.md
// recommends, with the values Pitwall's own dev servers get.
func TestComposeTemporalDynamicConfig(t *testing.T) {
	t.Parallel()
	p := loadProject(t)
	temporal := service(t, p, "temporal")
	var file string
	for _, v := range temporal.Volumes {
		if v.Target == "/etc/temporal/dynamicconfig.yaml" {
			file = v.Source
		}
	}
	require.NotEmpty(t, file, "temporal mounts its dynamic config")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var dc map[string][]struct {
		Value any `yaml:"value"`
	}
	require.NoError(t, yaml.Unmarshal(b, &dc))
	for k, v := range temporalcfg.Dynamic {
		require.Len(t, dc[k], 1, k)
		require.Equal(t, fmt.Sprint(v), fmt.Sprint(dc[k][0].Value), k)
	}
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), "history.transferProcessorMaxPollRPS")
}
