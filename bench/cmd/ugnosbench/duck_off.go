//go:build noduckdb

package main

import (
	"database/sql"
	"errors"

	"github.com/ugnos/ugnos/bench/tsbs"
)

// Built with -tags noduckdb (a small binary for other machines): no peer.
type duckDB struct{ db *sql.DB }

func openDuck(tsbs.Config) (*duckDB, error) {
	return nil, errors.New("ugnosbench was built with -tags noduckdb: run with -duckdb=false")
}

func (*duckDB) run(string) (int, error) { return 0, errors.New("no DuckDB in this build") }
