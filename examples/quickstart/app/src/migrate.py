"""One-shot migration: creates the tables the app and the worker use (idempotent)."""
import os
import time

import psycopg2


def connect(deadline=30.0):
    """The database is healthy before this runs (depends_on); still, retry briefly rather than fail on a blip."""
    started = time.monotonic()
    while True:
        try:
            return psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=5)
        except psycopg2.OperationalError as e:
            if time.monotonic() - started > deadline:
                raise
            print(f"migrate: database not reachable yet, retrying: {str(e).strip()}", flush=True)
            time.sleep(1)


conn = connect()
with conn, conn.cursor() as cur:
    cur.execute("CREATE TABLE IF NOT EXISTS visits (id int PRIMARY KEY, n bigint NOT NULL)")
    cur.execute("INSERT INTO visits (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
    cur.execute("CREATE TABLE IF NOT EXISTS jobs (id text PRIMARY KEY, result text NOT NULL, worker text,"
                " done_at timestamptz NOT NULL DEFAULT now())")
conn.close()
print("migrate: tables visits and jobs are ready", flush=True)
