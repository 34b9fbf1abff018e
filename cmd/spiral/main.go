// Command spiral is the spiral daemon: a PostgreSQL wire proxy that answers
// aggregate queries from rollup tiers, and the operator commands around it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `spiral: fast aggregate queries over PostgreSQL time-series tables

Usage:
  spiral serve --upstream DSN [flags]   run the proxy against an existing PostgreSQL
  spiral demo [flags]                   run a throw-away PostgreSQL with demo data behind the proxy
  spiral refresh TABLE [--scope PRED]   recompute a tracked table's dirty buckets now
  spiral status [--scopes]              show how far each tracked table's tiers trail it
  spiral help [command]                 show help

Every flag can also be set as an environment variable: --max-message-size is
SPIRAL_MAX_MESSAGE_SIZE. Flags on the command line win.
Run 'spiral COMMAND -h' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:])
	case "demo":
		err = runDemo(ctx, args[1:])
	case "refresh":
		err = runRefresh(ctx, args[1:])
	case "status":
		err = runStatus(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "spiral: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "spiral %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
