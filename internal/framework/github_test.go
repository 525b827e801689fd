package framework

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// The github section: defaults, which events and branches run the
// framework, and each mistake named by its field.
func TestGitHubSection(t *testing.T) {
	t.Parallel()
	const base = "name: g\nexecution: {script: \"#!/bin/sh\\ntrue\\n\"}\nbaseline_branch: trunk\n"
	f, err := Parse([]byte(base + "github: {repository: acme/pay}\n"))
	require.NoError(t, err)
	g := f.GitHub
	require.Equal(t, []string{GitHubPush, GitHubPullRequest}, g.On)
	require.Equal(t, []string{"trunk"}, g.Branches, "the baseline branch by default")
	require.True(t, g.Runs(GitHubPush, "trunk"))
	require.False(t, g.Runs(GitHubPush, "main"))

	f, err = Parse([]byte(base + "github: {repository: acme/pay, on: [pull_request], branches: [main, release/*]}\n"))
	require.NoError(t, err)
	g = f.GitHub
	require.True(t, g.Runs(GitHubPullRequest, "release/1.2"))
	require.False(t, g.Runs(GitHubPullRequest, "release/1.2/x"))
	require.False(t, g.Runs(GitHubPush, "main"), "push is not in on")
	var none *GitHub
	require.False(t, none.Runs(GitHubPush, "main"))

	for yaml, field := range map[string]string{
		"github: {repository: acme}":                      "github.repository",
		"github: {repository: 'acme/pay/x'}":              "github.repository",
		"github: {repository: acme/pay, on: [release]}":   "github.on[0]",
		"github: {repository: acme/pay, branches: ['[']}": "github.branches[0]",
		"github: {repository: acme/pay, branches: ['']}":  "github.branches[0]",
		"github: {repository: '-acme/pay', on: [push]}":   "github.repository",
	} {
		_, err := Parse([]byte(base + yaml + "\n"))
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%s: %v", yaml, err)
		require.Equal(t, field, fe.Field, "%s: %v", yaml, err)
	}
}
