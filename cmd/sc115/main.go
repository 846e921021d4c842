// Command sc115 is the one binary of the sc115 telephony service for German
// 115 service centers: serve, check-config and version. It reads the config,
// builds each package with its section, wires their interfaces and runs;
// business logic lives in the packages.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		keepSysmonAwake()
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "serve":
		return serveCmd(args[1:])
	case "check-config":
		return checkConfigCmd(args[1:])
	case "billing":
		return billingCmd(args[1:])
	case "cdr":
		return cdrCmd(args[1:])
	case "staffing":
		return staffingCmd(args[1:])
	case "simulate":
		return simulateCmd(args[1:])
	case "hash-password":
		return hashPasswordCmd(args[1:])
	case "new-token":
		return newTokenCmd(args[1:])
	case "version", "--version", "-v":
		fmt.Println("sc115", version)
		return 0
	case "help", "-h", "--help":
		usage()
		return 0
	default:
		fmt.Fprintf(os.Stderr, "sc115: unknown command %q\n\n", args[0])
		usage()
		return 2
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: sc115 <command> [flags]

commands:
  serve          run the service (sc115 serve --help for flags)
  check-config   validate a config file: sc115 check-config FILE
  billing        invoices for a period: sc115 billing --config FILE --cdr-dir DIR --period 2026-10 --out DIR
  billing estimate  yearly cost under each financing model:
                 sc115 billing estimate --config FILE --population N --calls-per-resident X --aht-s Y
                 (or --municipality KEY --from-cdrs DIR)
  staffing       agents for the 75/30 promise (Erlang C), FTE, staff cost vs each financing model:
                 sc115 staffing --config FILE [--calls-per-resident-year 0.3 --aht 4m] [--from-cdrs DIR]
                 [--add municipality=NAME,population=N] [--csv FILE] [--html FILE]
  simulate       drive a running sc115 with virtual agents and callers (SIP + RTP), SL vs Erlang C:
                 sc115 simulate --config FILE --rate 0.5 --calls 60 --talk 20s [--patience 60s]
  cdr purge      delete CDRs past retention, keep daily aggregates: sc115 cdr purge --cdr-dir DIR --older-than 180d
  hash-password  bcrypt hash of the password on stdin, for web.users[].password_hash
  new-token      a fresh API token and its web.users[].token_hash
  version        print the version
`)
}
