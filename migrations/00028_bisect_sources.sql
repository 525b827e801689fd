-- +goose Up
-- Issue 21, point 2: where a bisection's commits came from (given in the
-- request, the history of tests, or listed from the framework's git
-- repository), and when its ending was announced (the pull request's
-- comment and the notifications), so it is announced once.
ALTER TABLE confirmations
    ADD COLUMN commits_source text NOT NULL DEFAULT '',
    ADD COLUMN announced_at   timestamptz,
    ADD CONSTRAINT confirmations_commits_source CHECK (commits_source IN ('', 'request', 'history', 'git'));

-- +goose Down
ALTER TABLE confirmations DROP COLUMN commits_source, DROP COLUMN announced_at;
