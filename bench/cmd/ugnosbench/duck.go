//go:build !noduckdb

package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the peer: DuckDB in process

	"github.com/ugnos/ugnos/bench/tsbs"
)

// duckDB loads the same data set into an in-memory DuckDB with as many
// threads as ugnos has cores (GOMAXPROCS).
type duckDB struct {
	db *sql.DB
}

func openDuck(cfg tsbs.Config) (*duckDB, error) {
	tmp, err := os.MkdirTemp("", "ugnosbench-duck")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	csvPath := filepath.Join(tmp, "cpu.csv")
	f, err := os.Create(csvPath)
	if err != nil {
		return nil, err
	}
	if _, err := tsbs.WriteCSV(f, tsbs.New(cfg)); err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(fmt.Sprintf("SET threads = %d", runtime.GOMAXPROCS(0))); err != nil {
		return nil, err
	}
	cols := "time TIMESTAMP"
	for _, t := range tsbs.TagNames {
		cols += ", " + t + " VARCHAR"
	}
	for _, fn := range tsbs.FieldNames {
		cols += ", " + fn + " DOUBLE"
	}
	if _, err := db.Exec("CREATE TABLE cpu (" + cols + ")"); err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := db.Exec(fmt.Sprintf("COPY cpu FROM '%s' (HEADER, TIMESTAMPFORMAT '%%Y-%%m-%%dT%%H:%%M:%%SZ')", csvPath)); err != nil {
		return nil, err
	}
	fmt.Printf("DuckDB: loaded in %v\n", time.Since(start).Round(time.Millisecond))
	return &duckDB{db: db}, nil
}

// tzSuffix matches the "+0000" offsets of TSBS literals, which DuckDB's
// plain TIMESTAMP does not take (all data is UTC).
var tzSuffix = regexp.MustCompile(`(\d) \+0000'`)

func (d *duckDB) run(q string) (int, error) {
	rows, err := d.db.Query(tzSuffix.ReplaceAllString(q, "$1'"))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
		n++
	}
	return n, rows.Err()
}
