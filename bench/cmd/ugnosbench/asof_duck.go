//go:build !noduckdb

package main

import (
	"database/sql"
	"fmt"
	"runtime"
)

// openDuckEmpty opens an empty in-memory DuckDB with as many threads as
// ugnos has cores.
func openDuckEmpty() (*duckDB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(fmt.Sprintf("SET threads = %d", runtime.GOMAXPROCS(0))); err != nil {
		return nil, err
	}
	return &duckDB{db: db}, nil
}
