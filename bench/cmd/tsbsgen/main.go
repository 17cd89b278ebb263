// Command tsbsgen writes TSBS's devops "cpu-only" data set, byte for byte as
// TSBS generates it, as CSV or InfluxDB line protocol.
//
//	tsbsgen -hosts 100 -start 2016-01-01T00:00:00Z -duration 24h -seed 123 -format csv -out cpu.csv
//
// The data goes to -out, or to stdout when -out is empty; a summary goes to stderr.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ugnos/ugnos/bench/tsbs"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tsbsgen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tsbsgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hosts := fs.Int("hosts", 100, "number of hosts (TSBS scale)")
	start := fs.String("start", tsbs.DefaultStart.Format(time.RFC3339), "first timestamp, RFC 3339")
	duration := fs.Duration("duration", 24*time.Hour, "time span; rows are strictly before start+duration")
	seed := fs.Int64("seed", tsbs.DefaultSeed, "math/rand seed")
	format := fs.String("format", "csv", "output format: csv or influx")
	out := fs.String("out", "", "output file (default stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return fmt.Errorf("parse -start: %w", err)
	}
	if *hosts < 0 {
		return fmt.Errorf("-hosts must not be negative, got %d", *hosts)
	}
	var write func(io.Writer, *tsbs.Generator) (int64, error)
	switch *format {
	case "csv":
		write = tsbs.WriteCSV
	case "influx":
		write = tsbs.WriteLineProtocol
	default:
		return fmt.Errorf("unknown -format %q (want csv or influx)", *format)
	}

	w, closeOut := stdout, func() error { return nil }
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("create output: %w", err)
		}
		defer f.Close() // after an error; the success path closes and checks below
		w, closeOut = f, f.Close
	}

	began := time.Now()
	g := tsbs.New(tsbs.Config{Hosts: *hosts, Start: t0, End: t0.Add(*duration), Seed: *seed})
	n, err := write(w, g)
	if err != nil {
		return fmt.Errorf("write %s: %w", *format, err)
	}
	if err := closeOut(); err != nil {
		return fmt.Errorf("close output: %w", err)
	}
	elapsed := time.Since(began)
	fmt.Fprintf(stderr, "tsbsgen: %d rows, %d bytes, %s (%.0f rows/s)\n",
		g.Rows(), n, elapsed.Round(time.Millisecond), float64(g.Rows())/elapsed.Seconds())
	return nil
}
