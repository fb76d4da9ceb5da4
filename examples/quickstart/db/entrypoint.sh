#!/bin/sh
# Makes the database cluster on the first start (an empty volume), then runs
# PostgreSQL in the foreground. The set-up runs without a listening server
# (single-user mode), so the healthcheck cannot pass before it is done.
set -eu
: "${POSTGRES_USER:=stack}" "${POSTGRES_PASSWORD:=stack}" "${POSTGRES_DB:=$POSTGRES_USER}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --no-sync >/dev/null
  rm -f "$pwfile"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" \
      | postgres --single -D "$PGDATA" -j postgres >/dev/null
  fi
  echo "db-entrypoint: created the cluster with user $POSTGRES_USER and database $POSTGRES_DB"
fi
exec postgres -D "$PGDATA"
