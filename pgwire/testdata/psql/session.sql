-- A scripted psql session: meta-commands, COPY through \copy, errors.
CREATE TABLE cpu (time timestamptz, hostname text, usage_user double precision, n bigint);
INSERT INTO cpu VALUES ('2016-01-01 00:00:20+00', 'a', 3.5, 7);
\copy cpu (time, hostname, usage_user) FROM 'cpu.csv' WITH (FORMAT csv, HEADER)
SELECT hostname, count(*), max(usage_user) FROM cpu GROUP BY hostname ORDER BY hostname;
\l
\dt
\d cpu
\dn
\x
SELECT * FROM cpu WHERE n = 7;
\x
\copy (SELECT hostname, usage_user FROM cpu ORDER BY time) TO 'out.csv' WITH (FORMAT csv, HEADER)
\! cat out.csv
\timing on
SELECT 1 AS one;
\timing off
SELECT hostname FROM cpu WHERE nosuch > 1;
SELEC 1;
SELECT 1 / 0;
SELECT time_bucket('1 minute', time) AS m, avg(usage_user) FROM cpu GROUP BY m;
