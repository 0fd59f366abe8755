// Command lamigrate moves a self-hosted LiveAgent help desk into LiveAgent's
// cloud. Every verb builds a configuration and calls one library function;
// see the README and `lamigrate --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
