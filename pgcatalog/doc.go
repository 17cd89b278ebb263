// Package pgcatalog emulates PostgreSQL 15's system catalogs (pg_catalog)
// and the information schema as virtual tables over a plain-data Snapshot
// of one database's live catalog, so that psql, JDBC, psycopg2/SQLAlchemy,
// Grafana, Metabase and DBeaver can read metadata.
//
// It is not a catalog of its own: it knows nothing of storage, SQL or the
// wire protocol. The root package builds a Snapshot per statement, the
// planner binds catalog relations by their column lists (Relation), and the
// executor scans the Arrow records Build returns. Relations keep
// PostgreSQL's column names and order (columns.gen.go, generated from a
// real server); values use ugnos's SQL types, with the PostgreSQL type a
// column is sent as recorded in Col.PGType (see MetaPGType).
package pgcatalog
