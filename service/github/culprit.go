package github

import (
	"context"
	"errors"
	"fmt"

	"github.com/pitwall/pitwall/internal/gh"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// Culprit posts how a bisection ended to GitHub (contract.GitHubCulprit):
// a comment on the pull request the bisected test came from, or on its
// commit when it came from a push, naming the first bad commit, the effect
// with its confidence, the runs and a link to the bisection's page. A
// test that did not come from GitHub (no repository tag), or a team with
// no connection, has nothing to post.
func (s *Service) Culprit(ctx context.Context, id int64) error {
	return temporalError(s.culprit(ctx, id))
}

func (s *Service) culprit(ctx context.Context, id int64) error {
	c, err := s.Store.ConfirmationGet(ctx, id)
	if err != nil {
		return err
	}
	if c.Kind != wire.KindBisect || (c.State != wire.BisectFound && c.State != wire.BisectRange) {
		return nil
	}
	t, err := s.Store.TestGet(ctx, c.TestID)
	if err != nil {
		return err
	}
	repo := t.Tags[store.TagGitHubRepository]
	if repo == "" {
		return nil
	}
	if _, err := s.Store.GitHubConnectionGet(ctx, c.Team); errors.Is(err, store.ErrNotFound) {
		if s.Log != nil {
			s.Log.Info("bisection culprit not posted: the team has no GitHub connection", "bisection", id, "team", c.Team)
		}
		return nil
	}
	cl, err := s.client(ctx, c.Team)
	if err != nil {
		return err
	}
	body := gh.CulpritComment(c, fmt.Sprintf("%s/confirmations/%d", s.PublicURL, c.ID))
	if t.PR != nil && *t.PR > 0 {
		return cl.Reply(ctx, repo, *t.PR, body)
	}
	if t.Commit == "" {
		return nil
	}
	return cl.CommentCommit(ctx, repo, t.Commit, body)
}
