#!/bin/sh
# Runs once, when the official postgres image creates the primary's data directory
# (/docker-entrypoint-initdb.d): the role the standby streams WAL as, a replication slot
# so the primary keeps the WAL the standby still needs, and the pg_hba line that lets it
# connect. wal_level=replica, max_wal_senders and hot_standby are PostgreSQL's defaults.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${REPLICATION_PASSWORD:?}';
SELECT pg_create_physical_replication_slot('replica1');
SQL
echo 'host replication replicator all scram-sha-256' >>"$PGDATA/pg_hba.conf"
