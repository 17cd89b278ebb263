"""Run by pgwire's TestPsycopg2 against a fresh ugnos server:
    python3 client_test.py <host> <port>
Every check asserts; "ALL OK" at the end means all passed."""
import datetime
import sys

import psycopg2
import sqlalchemy
from sqlalchemy import inspect, text

host, port = sys.argv[1], int(sys.argv[2])
conn = psycopg2.connect(host=host, port=port, user="ugnos", dbname="postgres")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE TABLE cpu (time timestamptz, hostname text, usage_user double precision, n bigint)")
utc = datetime.timezone.utc
rows = [(datetime.datetime(2016, 1, 1, 0, 0, i, tzinfo=utc), "host_%d" % (i % 3), i * 1.5, i) for i in range(30)]
cur.executemany("INSERT INTO cpu VALUES (%s, %s, %s, %s)", rows)
cur.execute("SELECT hostname, count(*), sum(usage_user) FROM cpu WHERE n >= %s GROUP BY hostname ORDER BY hostname", (3,))
got = cur.fetchall()
assert got == [("host_0", 9, sum(i * 1.5 for i in range(3, 30, 3))),
               ("host_1", 9, sum(i * 1.5 for i in range(4, 30, 3))),
               ("host_2", 9, sum(i * 1.5 for i in range(5, 30, 3)))], got
print("ok: parameters and grouping")
cur.execute("SELECT max(time), avg(n) FROM cpu")
t, avg = cur.fetchone()
assert t == datetime.datetime(2016, 1, 1, 0, 0, 29, tzinfo=utc), t
assert str(avg) == "14.5000000000000000", avg  # numeric, as PostgreSQL
print("ok: timestamptz and numeric")
try:
    cur.execute("SELECT nosuch FROM cpu")
    raise AssertionError("error expected")
except psycopg2.Error as e:
    assert e.pgcode == "42703", e.pgcode
print("ok: SQLSTATE")

engine = sqlalchemy.create_engine("postgresql+psycopg2://ugnos@%s:%d/postgres" % (host, port))
insp = inspect(engine)
assert insp.get_table_names() == ["cpu"], insp.get_table_names()
cols = [(c["name"], str(c["type"])) for c in insp.get_columns("cpu")]
assert cols == [("time", "TIMESTAMP"), ("hostname", "TEXT"), ("usage_user", "DOUBLE_PRECISION"), ("n", "BIGINT")], cols
assert insp.has_table("cpu") and not insp.has_table("nope")
print("ok: SQLAlchemy reflection")
with engine.connect() as c:
    n = c.execute(text("SELECT count(*) FROM cpu WHERE hostname = :h"), {"h": "host_1"}).scalar()
    assert n == 10, n
print("ok: SQLAlchemy query")
print("ALL OK")
