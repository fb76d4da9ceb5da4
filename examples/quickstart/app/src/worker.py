"""The quickstart worker: takes jobs from RabbitMQ and writes their result into PostgreSQL."""
import json
import os
import signal
import socket
import sys
import time

import pika
import psycopg2

DATABASE_URL = os.environ["DATABASE_URL"]
NAME = socket.gethostname()
conn = None


def store(job_id, result):
    """Writes a result; reconnects once when the database went away (e.g. `stack restart db`)."""
    global conn
    for attempt in (1, 2):
        try:
            if conn is None or conn.closed:
                conn = psycopg2.connect(DATABASE_URL, connect_timeout=3)
                conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("INSERT INTO jobs (id, result, worker) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING",
                            (job_id, result, NAME))
            return
        except psycopg2.OperationalError:
            conn = None
            if attempt == 2:
                raise
            time.sleep(0.5)


def handle(ch, method, _props, body):
    job = json.loads(body)
    result = job["text"].upper()
    store(job["id"], result)
    ch.basic_ack(delivery_tag=method.delivery_tag)
    print(f"processed job {job['id'][:8]}: {result}", flush=True)


# As PID 1 the process has no default SIGTERM action: stop (and restarts) would wait for the kill.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
amqp = pika.BlockingConnection(pika.ConnectionParameters(host=os.environ.get("AMQP_HOST", "queue"), connection_attempts=5, retry_delay=1))
channel = amqp.channel()
channel.queue_declare(queue="jobs", durable=True)
channel.basic_qos(prefetch_count=10)
channel.basic_consume(queue="jobs", on_message_callback=handle)
print(f"worker {NAME} waiting for jobs", flush=True)
channel.start_consuming()
