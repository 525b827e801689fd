-- +goose Up
-- Issue 22, point 4: a host's lease lives in PostgreSQL, not in a HostLease
-- workflow. The holder row (host_leases) gains the holder's workflow, to
-- tell it of its grant, and whether it has been told (told: a grant whose
-- signal did not go out yet is sent again). lease_requests is each host's
-- queue: a test takes the host when nobody holds it, else queues here, and
-- the holder's release hands the host to the next request in the same
-- transaction. In a HostLease workflow this cost, per test, about two
-- workflow tasks, ten history events and two signals of Temporal's.
ALTER TABLE host_leases
    ADD COLUMN workflow_id text    NOT NULL DEFAULT '',
    ADD COLUMN told        boolean NOT NULL DEFAULT true;

CREATE TABLE lease_requests (
    host        text        NOT NULL,
    test_id     bigint      NOT NULL,
    workflow_id text        NOT NULL,
    priority    integer     NOT NULL DEFAULT 0,
    max_wait_ms bigint      NOT NULL DEFAULT 0,
    queued_at   timestamptz NOT NULL DEFAULT now(),
    seq         bigserial   NOT NULL,
    PRIMARY KEY (host, test_id)
);
CREATE INDEX lease_requests_host_seq ON lease_requests (host, seq);

-- +goose Down
DROP TABLE lease_requests;
ALTER TABLE host_leases DROP COLUMN workflow_id, DROP COLUMN told;
