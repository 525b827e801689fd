#!/bin/sh
# Start PostgreSQL; on an empty data folder first make the cluster, the
# roles pitwall and temporal (passwords from PITWALL_DB_PASSWORD and
# TEMPORAL_DB_PASSWORD, read by psql from the environment, never put on a
# command line) and their databases. Only those two roles may log in over
# the network, each to its own databases; the superuser only on the socket.
set -eu
: "${PITWALL_DB_PASSWORD:?set PITWALL_DB_PASSWORD}"
: "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	initdb -D "$PGDATA" -U postgres --encoding=UTF8 --locale=C \
		--auth-local=peer --auth-host=scram-sha-256 >/dev/null
	cat >>"$PGDATA/pg_hba.conf" <<'HBA'
host pitwall                       pitwall  all scram-sha-256
host temporal,temporal_visibility  temporal all scram-sha-256
HBA
	pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
	psql -v ON_ERROR_STOP=1 --no-psqlrc -q -U postgres -d postgres <<'SQL'
\getenv pitwall_pw PITWALL_DB_PASSWORD
\getenv temporal_pw TEMPORAL_DB_PASSWORD
CREATE ROLE pitwall LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'pitwall_pw';
CREATE ROLE temporal LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'temporal_pw';
CREATE DATABASE pitwall OWNER pitwall;
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
REVOKE ALL ON DATABASE pitwall, temporal, temporal_visibility FROM PUBLIC;
SQL
	pg_ctl -D "$PGDATA" -w stop >/dev/null
	echo "pitwall-postgres: made the cluster, the roles pitwall and temporal and their databases"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
