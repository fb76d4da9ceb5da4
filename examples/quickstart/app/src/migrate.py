"""One-shot migration: creates the tables the app and the worker use (idempotent)."""
import os

import psycopg2

conn = psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=5)
with conn, conn.cursor() as cur:
    cur.execute("CREATE TABLE IF NOT EXISTS visits (id int PRIMARY KEY, n bigint NOT NULL)")
    cur.execute("INSERT INTO visits (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
    cur.execute("CREATE TABLE IF NOT EXISTS jobs (id text PRIMARY KEY, result text NOT NULL, worker text,"
                " done_at timestamptz NOT NULL DEFAULT now())")
conn.close()
print("migrate: tables visits and jobs are ready", flush=True)
