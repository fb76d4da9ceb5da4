"""The quickstart web app: one page showing that every part of the stack works."""
import json
import os
import time
import uuid

import pika
import psycopg2
import redis
from flask import Flask

app = Flask(__name__)
DATABASE_URL = os.environ["DATABASE_URL"]
cache = redis.Redis(host=os.environ.get("REDIS_HOST", "cache"), port=6379, decode_responses=True)


def db():
    return psycopg2.connect(DATABASE_URL)


def count_visit():
    with db() as conn, conn.cursor() as cur:
        cur.execute("UPDATE visits SET n = n + 1 WHERE id = 1 RETURNING n")
        return cur.fetchone()[0]


def cached_value():
    hits = cache.incr("page:hits")
    value = cache.get("page:greeting")
    if value is None:
        value = f"computed at {time.strftime('%H:%M:%S')}"
        cache.set("page:greeting", value, ex=60)
        return value, hits, False
    return value, hits, True


def send_job():
    job_id = str(uuid.uuid4())
    conn = pika.BlockingConnection(pika.ConnectionParameters(host=os.environ.get("AMQP_HOST", "queue")))
    try:
        ch = conn.channel()
        ch.queue_declare(queue="jobs", durable=True)
        ch.basic_publish(exchange="", routing_key="jobs", body=json.dumps({"id": job_id, "text": "hello from the app"}))
    finally:
        conn.close()
    # The worker writes the result into PostgreSQL; wait briefly for it.
    for _ in range(50):
        with db() as c, c.cursor() as cur:
            cur.execute("SELECT result FROM jobs WHERE id = %s", (job_id,))
            row = cur.fetchone()
        if row:
            return job_id, row[0]
        time.sleep(0.1)
    return job_id, None


@app.route("/")
def index():
    visits = count_visit()
    value, hits, was_cached = cached_value()
    job_id, result = send_job()
    return (
        "<h1>stack quickstart</h1>\n"
        f"<p id=visits>database: {visits} visits</p>\n"
        f"<p id=cache>cache: {value} ({'hit' if was_cached else 'miss'}, {hits} hits)</p>\n"
        f"<p id=queue>queue: job {job_id} -> {result if result else 'not processed yet'}</p>\n"
    )


@app.route("/health")
def health():
    return "ok\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8000)
