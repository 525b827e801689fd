package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/wire"
)

// GitHubConnection is a team's GitHub connection as stored: its
// credential and webhook secret sealed (internal/sealed.Box).
type GitHubConnection struct {
	Team           string
	APIURL         string
	Auth           string // "token" or "app"
	AppID          int64
	InstallationID int64
	Credential     []byte // sealed token, or the App's private key (PEM)
	WebhookSecret  []byte // sealed
	CreatedBy      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// GitHubConnectionPut creates or replaces a team's connection.
func (s *Store) GitHubConnectionPut(ctx context.Context, c GitHubConnection) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO github_connections (team, api_url, auth, app_id, installation_id, credential, webhook_secret,
		                                created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (team) DO UPDATE SET api_url = $2, auth = $3, app_id = $4, installation_id = $5,
			credential = $6, webhook_secret = $7, updated_at = $9`,
		c.Team, c.APIURL, c.Auth, c.AppID, c.InstallationID, c.Credential, c.WebhookSecret, c.CreatedBy, c.UpdatedAt)
	return err
}

const githubConnectionSelect = `
	SELECT team, api_url, auth, app_id, installation_id, credential, webhook_secret, created_by, created_at, updated_at
	FROM github_connections`

func scanGitHubConnection(r pgx.Row) (GitHubConnection, error) {
	var c GitHubConnection
	err := r.Scan(&c.Team, &c.APIURL, &c.Auth, &c.AppID, &c.InstallationID, &c.Credential, &c.WebhookSecret,
		&c.CreatedBy, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

// GitHubConnectionGet returns a team's connection, or ErrNotFound.
func (s *Store) GitHubConnectionGet(ctx context.Context, team string) (*GitHubConnection, error) {
	c, err := scanGitHubConnection(s.pool.QueryRow(ctx, githubConnectionSelect+` WHERE team = $1`, team))
	if err != nil {
		return nil, notFound(err)
	}
	return &c, nil
}

// GitHubConnections lists every team's connection, by team.
func (s *Store) GitHubConnections(ctx context.Context) ([]GitHubConnection, error) {
	rows, err := s.pool.Query(ctx, githubConnectionSelect+` ORDER BY team`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (GitHubConnection, error) { return scanGitHubConnection(r) })
}

// GitHubConnectionDelete removes a team's connection; ErrNotFound when it has none.
func (s *Store) GitHubConnectionDelete(ctx context.Context, team string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM github_connections WHERE team = $1`, team)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// GitHubDeliveryClaim records a delivery that passed its signature; false
// when it was recorded before (GitHub delivered it again).
func (s *Store) GitHubDeliveryClaim(ctx context.Context, d wire.GitHubDelivery) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO github_deliveries (delivery, team, event, action, repository, received_at, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (delivery) DO NOTHING`,
		d.Delivery, d.Team, d.Event, d.Action, d.Repository, d.ReceivedAt, d.Outcome, d.Detail)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// GitHubDeliveryOutcome records what came of a delivery.
func (s *Store) GitHubDeliveryOutcome(ctx context.Context, delivery, outcome, detail string) error {
	_, err := s.pool.Exec(ctx, `UPDATE github_deliveries SET outcome = $2, detail = $3 WHERE delivery = $1`,
		delivery, outcome, detail)
	return err
}

// GitHubDeliveries lists a team's latest deliveries, newest first.
func (s *Store) GitHubDeliveries(ctx context.Context, team string, limit int) ([]wire.GitHubDelivery, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT delivery, team, event, action, repository, received_at, outcome, detail
		FROM github_deliveries WHERE team = $1 ORDER BY received_at DESC, delivery LIMIT $2`, team, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (wire.GitHubDelivery, error) {
		var d wire.GitHubDelivery
		err := r.Scan(&d.Delivery, &d.Team, &d.Event, &d.Action, &d.Repository, &d.ReceivedAt, &d.Outcome, &d.Detail)
		return d, err
	})
}

// GitHubPR is a pull request Pitwall reports on.
type GitHubPR struct {
	Team, Repository string
	Number           int
	HeadSHA          string
	HeadRef, BaseRef string
	Fork             bool
	// CommentID is Pitwall's one comment on it (0: none yet).
	CommentID int64
	UpdatedAt time.Time
}

// GitHubPRHead records a pull request's head as of its latest event and
// returns the row (with the comment Pitwall already has on it).
func (s *Store) GitHubPRHead(ctx context.Context, pr GitHubPR) (*GitHubPR, error) {
	row := s.pool.QueryRow(ctx, `
		INSERT INTO github_pull_requests (team, repository, number, head_sha, head_ref, base_ref, fork, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (team, repository, number) DO UPDATE SET head_sha = $4, head_ref = $5, base_ref = $6, fork = $7, updated_at = $8
		RETURNING comment_id`,
		pr.Team, pr.Repository, pr.Number, pr.HeadSHA, pr.HeadRef, pr.BaseRef, pr.Fork, pr.UpdatedAt)
	if err := row.Scan(&pr.CommentID); err != nil {
		return nil, err
	}
	return &pr, nil
}

// GitHubPRGet returns what Pitwall knows of a pull request, or ErrNotFound.
func (s *Store) GitHubPRGet(ctx context.Context, team, repo string, number int) (*GitHubPR, error) {
	var pr GitHubPR
	err := s.pool.QueryRow(ctx, `
		SELECT team, repository, number, head_sha, head_ref, base_ref, fork, comment_id, updated_at
		FROM github_pull_requests WHERE team = $1 AND repository = $2 AND number = $3`, team, repo, number).
		Scan(&pr.Team, &pr.Repository, &pr.Number, &pr.HeadSHA, &pr.HeadRef, &pr.BaseRef, &pr.Fork, &pr.CommentID, &pr.UpdatedAt)
	if err != nil {
		return nil, notFound(err)
	}
	return &pr, nil
}

// GitHubPRComment records Pitwall's comment on a pull request. It sets
// the comment only where none is recorded yet, so that two reports racing
// to create it keep one; it returns the comment that stands.
func (s *Store) GitHubPRComment(ctx context.Context, team, repo string, number int, commentID int64) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		UPDATE github_pull_requests SET comment_id = CASE WHEN comment_id = 0 THEN $4 ELSE comment_id END
		WHERE team = $1 AND repository = $2 AND number = $3 RETURNING comment_id`, team, repo, number, commentID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	return id, err
}

// GitHubPRCommentReset forgets a comment GitHub no longer has.
func (s *Store) GitHubPRCommentReset(ctx context.Context, team, repo string, number int, commentID int64) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE github_pull_requests SET comment_id = 0
		WHERE team = $1 AND repository = $2 AND number = $3 AND comment_id = $4`, team, repo, number, commentID)
	return err
}

// frameworksWithGitHub lists the current version of each of a team's
// frameworks whose github section names repo, or of every one with a
// github section when repo is "".
func (s *Store) frameworksWithGitHub(ctx context.Context, team, repo string) ([]wire.FrameworkInfo, error) {
	rows, err := s.pool.Query(ctx, frameworkSelect+`
		WHERE f.team = $1 AND v.spec ? 'github'
		  AND ($2 = '' OR lower(v.spec -> 'github' ->> 'repository') = lower($2)) ORDER BY f.name`, team, repo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []wire.FrameworkInfo{}
	for rows.Next() {
		info, err := scanFramework(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *info)
	}
	return out, rows.Err()
}

// FrameworksWithGitHub lists the current version of each of a team's
// frameworks that has a github section.
func (s *Store) FrameworksWithGitHub(ctx context.Context, team string) ([]wire.FrameworkInfo, error) {
	return s.frameworksWithGitHub(ctx, team, "")
}

// FrameworksOfRepository lists the current version of each of a team's
// frameworks whose github section names repo.
func (s *Store) FrameworksOfRepository(ctx context.Context, team, repo string) ([]wire.FrameworkInfo, error) {
	return s.frameworksWithGitHub(ctx, team, repo)
}

// TagGitHubRepository is the tag that ties a test to the GitHub repository
// it ran for.
const TagGitHubRepository = "github.repository"

// TestsOfPR lists a team's tests of a pull request of repo (newest
// first), in any of states (every state when none is given).
func (s *Store) TestsOfPR(ctx context.Context, team, repo string, number int, states ...string) ([]wire.Test, error) {
	if states == nil {
		states = []string{}
	}
	rows, err := s.pool.Query(ctx, `
		SELECT t.id, f.name, f.team, t.state, t.commit_sha, t.branch, t.verdict
		FROM tests t JOIN frameworks f ON f.id = t.framework_id
		WHERE f.team = $1 AND lower(t.tags ->> $2) = lower($3) AND t.pr = $4
		  AND (cardinality($5::text[]) = 0 OR t.state = ANY($5::text[]))
		ORDER BY t.id DESC`, team, TagGitHubRepository, repo, number, states)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (wire.Test, error) {
		var t wire.Test
		err := r.Scan(&t.ID, &t.Framework, &t.Team, &t.State, &t.Commit, &t.Branch, &t.Verdict)
		return t, err
	})
}
