#!/bin/sh
# The standby, on the official postgres image. On its first start (an empty data
# directory) it clones the primary: pg_basebackup -X stream -R copies the data and writes
# standby.signal and primary_conninfo, on the slot primary-init.sh created. Then the
# image's own entrypoint finds a data directory and starts a hot standby on it.
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h "$PRIMARY_HOST" -p 5432 -q; do sleep 1; done
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  PGPASSWORD="${REPLICATION_PASSWORD:?}" gosu postgres pg_basebackup \
    -h "$PRIMARY_HOST" -p 5432 -U replicator -D "$PGDATA" \
    -X stream -R -S replica1 --checkpoint=fast
fi
exec docker-entrypoint.sh postgres
