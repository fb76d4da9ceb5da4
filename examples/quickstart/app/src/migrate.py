"""One-shot migration: creates the tables the app and the worker use."""
import os

import psycopg2

with psycopg2.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cur:
    cur.execute("CREATE TABLE IF NOT EXISTS visits (id int PRIMARY KEY, n bigint NOT NULL)")
    cur.execute("INSERT INTO visits (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
    cur.execute("CREATE TABLE IF NOT EXISTS jobs (id text PRIMARY KEY, result text NOT NULL)")
print("migrations applied", flush=True)
