"""The quickstart worker: takes jobs from RabbitMQ and stores their result in PostgreSQL."""
import json
import os

import pika
import psycopg2

conn = psycopg2.connect(os.environ["DATABASE_URL"])
conn.autocommit = True


def handle(ch, method, _props, body):
    job = json.loads(body)
    result = job["text"].upper()
    with conn.cursor() as cur:
        cur.execute("INSERT INTO jobs (id, result) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING", (job["id"], result))
    ch.basic_ack(delivery_tag=method.delivery_tag)
    print(f"processed job {job['id']}", flush=True)


amqp = pika.BlockingConnection(pika.ConnectionParameters(host=os.environ.get("AMQP_HOST", "queue")))
channel = amqp.channel()
channel.queue_declare(queue="jobs", durable=True)
channel.basic_consume(queue="jobs", on_message_callback=handle)
print("worker ready", flush=True)
channel.start_consuming()
