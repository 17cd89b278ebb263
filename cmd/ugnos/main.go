// Command ugnos is the ugnos time-series database server and its tools.
//
//	ugnos serve [flags]                  run the server
//	ugnos snapshot [flags] PATH          snapshot a running server (or --data-dir)
//	ugnos restore --data-dir DIR PATH    restore a snapshot (server stopped)
//	ugnos verify-snapshot PATH           check a snapshot
//	ugnos import [flags] FILE...         import CSV, line protocol, Parquet
//	ugnos export [flags] -o FILE         export a table or query to CSV, Parquet
//	ugnos version                        print the version
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usageText = `ugnos is a time-series database.

Usage:

	ugnos <command> [flags]

Commands:

	serve             run the server (ugnos serve -h for its flags)
	snapshot          take a snapshot of a running server into a directory:
	                  ugnos snapshot [--pg-addr host:port] PATH
	                  or offline, with no server on the data directory:
	                  ugnos snapshot --data-dir DIR PATH
	restore           restore a snapshot into a stopped server's data directory:
	                  ugnos restore --data-dir DIR PATH
	verify-snapshot   check a snapshot's files and checksums:
	                  ugnos verify-snapshot PATH
	import            import CSV, InfluxDB line protocol or Parquet files into
	                  a running server or a data directory:
	                  ugnos import [--db NAME] [--table T] FILE...
	                  ugnos import --data-dir DIR [--db NAME] FILE...
	export            export a table or a query's result to CSV or Parquet:
	                  ugnos export [--db NAME] (--table T | --query SQL) -o FILE
	version           print the version
	help              show this text

Run ugnos <command> -h for a command's flags and environment variables.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes a command line and returns the process exit code:
// 0 success, 1 runtime failure, 2 bad usage or refused configuration.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(rest, stderr)
	case "snapshot":
		return snapshotCmd(rest, os.Getenv, stdout, stderr)
	case "restore":
		return restoreCmd(rest, os.Getenv, stdout, stderr)
	case "verify-snapshot":
		return verifyCmd(rest, os.Getenv, stdout, stderr)
	case "import":
		return importCmd(rest, os.Getenv, stdout, stderr)
	case "export":
		return exportCmd(rest, os.Getenv, stdout, stderr)
	case "version":
		return printVersion(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stderr, usageText)
		return 2
	default:
		fmt.Fprintf(stderr, "ugnos: unknown command %q\n\n%s", cmd, usageText)
		return 2
	}
}

func printVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "ugnos version: unexpected arguments %q\n", args)
		return 2
	}
	fmt.Fprintf(stdout, "ugnos %s\n", version)
	return 0
}
