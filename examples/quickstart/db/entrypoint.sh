#!/bin/sh
# Initialises the cluster on first start (an empty volume), then runs postgres.
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb -D "$PGDATA" -U postgres --auth=trust >/dev/null
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  echo "host all all 0.0.0.0/0 md5" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=127.0.0.1" -w start >/dev/null
  psql -U postgres -c "CREATE USER stack WITH PASSWORD 'stack'" >/dev/null
  psql -U postgres -c "CREATE DATABASE stack OWNER stack" >/dev/null
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "database initialised"
fi
exec postgres -D "$PGDATA"
