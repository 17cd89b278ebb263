//go:build noduckdb

package main

import "errors"

func openDuckEmpty() (*duckDB, error) {
	return nil, errors.New("ugnosbench was built with -tags noduckdb: run with -duckdb=false")
}
