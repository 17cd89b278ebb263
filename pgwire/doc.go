// Package pgwire serves ugnos over the PostgreSQL frontend/backend
// protocol 3.0, so that psql, pgx, JDBC, psycopg2 and other PostgreSQL
// clients work unchanged.
//
// Messages are encoded and decoded by pgx's pgproto3. A connection's
// database is its tenant. Start-up offers TLS when Config.TLS is set and
// authenticates by Config.Auth (trust, cleartext, MD5 or SCRAM-SHA-256
// against Config.Users). Simple and extended query protocols are served
// (named and unnamed statements and portals, row limits with
// PortalSuspended, parameters in text and binary, results in text or
// binary per column); COPY FROM STDIN (text, CSV, binary; parsed on every
// core, stored when the COPY completes) and COPY TO STDOUT; CancelRequest
// cancels the running statement; SET, SHOW and RESET work on the session's
// settings (TimeZone and extra_float_digits shape the text output,
// statement_timeout bounds each statement), and the engine sees the
// session through ugnos.WithSession (current_setting, current_user).
// Transaction statements are accepted and tracked for ReadyForQuery, but
// every statement takes effect when it completes.
//
// Values are sent as PostgreSQL types: bigint (int8), double precision
// (float8), numeric, boolean, text, timestamp with time zone (µs precision
// over the wire; ugnos stores ns), date and interval; catalog columns as
// the narrower types they record (oid, int2, int4, name, "char").
package pgwire
