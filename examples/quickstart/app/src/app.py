"""The quickstart web app: one page showing that every part of the stack works.

Each visit counts itself in PostgreSQL, reads a value cached in Redis, and
sends a job through RabbitMQ that the worker answers (through PostgreSQL).
/ is the page for people, /status.json the same facts for programs.
"""
import html
import json
import os
import signal
import socket
import sys
import time
import uuid

import pika
import psycopg2
import redis
from flask import Flask, jsonify

app = Flask(__name__)
DATABASE_URL = os.environ["DATABASE_URL"]
AMQP_HOST = os.environ.get("AMQP_HOST", "queue")
cache = redis.Redis(host=os.environ.get("REDIS_HOST", "cache"), port=6379, decode_responses=True, socket_timeout=2)
GREETING_TTL = 30  # seconds a cached value lives
JOB_WAIT = 5.0  # seconds the page waits for the worker


def db():
    return psycopg2.connect(DATABASE_URL, connect_timeout=3)


def part(fn):
    """Runs one part of the page; a failure shows as that part's error, not a 500."""
    started = time.monotonic()
    try:
        facts = fn()
        facts["ok"] = facts.get("ok", True)
    except Exception as e:  # noqa: BLE001 - the page reports any failure of a part
        facts = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    facts["ms"] = round((time.monotonic() - started) * 1000, 1)
    return facts


def count_visit():
    with db() as conn, conn.cursor() as cur:
        cur.execute("UPDATE visits SET n = n + 1 WHERE id = 1 RETURNING n")
        (visits,) = cur.fetchone()
    conn.close()
    return {"visits": visits}


def read_cache():
    value = cache.get("quickstart:greeting")
    if value is None:
        value = f"computed by {socket.gethostname()} at {time.strftime('%H:%M:%S')}"
        cache.set("quickstart:greeting", value, ex=GREETING_TTL)
        cache.set("quickstart:hits", 0)
        return {"value": value, "hit": False, "hits": 0, "ttl": GREETING_TTL}
    return {"value": value, "hit": True, "hits": cache.incr("quickstart:hits"), "ttl": cache.ttl("quickstart:greeting")}


def run_job():
    job_id = str(uuid.uuid4())
    text = f"hello from visit at {time.strftime('%H:%M:%S')}"
    conn = pika.BlockingConnection(pika.ConnectionParameters(host=AMQP_HOST, connection_attempts=2, retry_delay=0.5))
    try:
        ch = conn.channel()
        ch.queue_declare(queue="jobs", durable=True)
        ch.basic_publish(exchange="", routing_key="jobs", body=json.dumps({"id": job_id, "text": text}),
                         properties=pika.BasicProperties(delivery_mode=2))
    finally:
        conn.close()
    # The worker writes its answer into PostgreSQL: wait a little for it.
    deadline = time.monotonic() + JOB_WAIT
    with db() as c, c.cursor() as cur:
        while True:
            cur.execute("SELECT result, worker FROM jobs WHERE id = %s", (job_id,))
            row = cur.fetchone()
            c.rollback()
            if row or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    c.close()
    if not row:
        return {"ok": False, "id": job_id, "sent": text, "error": f"the worker did not answer within {JOB_WAIT:g} s"}
    return {"id": job_id, "sent": text, "result": row[0], "worker": row[1]}


def status():
    parts = {"database": part(count_visit), "cache": part(read_cache), "queue": part(run_job)}
    return {"ok": all(p["ok"] for p in parts.values()), "app": socket.gethostname(), **parts}


@app.route("/status.json")
def status_json():
    s = status()
    return jsonify(s), 200 if s["ok"] else 503


@app.route("/")
def index():
    s = status()
    d, c, q = s["database"], s["cache"], s["queue"]
    esc = html.escape

    def row(name, p, text):
        mark = "✔" if p["ok"] else "✘"
        body = text if p["ok"] else esc(p["error"])
        return f'<tr id="{name}" class="{"ok" if p["ok"] else "fail"}"><th>{mark} {name}</th><td>{body}</td><td>{p["ms"]} ms</td></tr>'

    rows = [
        row("database", d, f"PostgreSQL counted <b>{d.get('visits')}</b> visits"),
        row("cache", c, f"Redis: “{esc(str(c.get('value')))}” — {'hit' if c.get('hit') else 'miss'}, "
                        f"<b>{c.get('hits')}</b> hits, expires in {c.get('ttl')} s"),
        row("queue", q, f"RabbitMQ carried job {esc(str(q.get('id', ''))[:8])}: “{esc(str(q.get('sent')))}” → "
                        f"“{esc(str(q.get('result')))}” (worker {esc(str(q.get('worker')))})"),
    ]
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>stack quickstart</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:.3em .8em;text-align:left}}
.ok th{{color:#070}} .fail th{{color:#b00}}</style></head>
<body><h1>stack quickstart</h1>
<p>Served by app container {esc(s['app'])}. Reload to count another visit.</p>
<table>{''.join(rows)}</table>
<p><a href="/status.json">status.json</a></p>
</body></html>
"""
    return page, 200 if s["ok"] else 503


@app.route("/health")
def health():
    return "ok\n"


if __name__ == "__main__":
    # As PID 1 the process has no default SIGTERM action: stop (and restarts) would wait for the kill.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"app listening on :8000", flush=True)
    app.run(host="0.0.0.0", port=8000)
