package main

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

// secret returns a function that yields a secret from the environment
// variable name or, failing that, from a prompt on the controlling terminal.
// Secrets never come from argv. Without a terminal and without the variable
// the function returns an error that names the variable.
func (e *env) secret(name, prompt string) func() (string, error) {
	return func() (string, error) {
		if v := e.getenv(name); v != "" {
			return v, nil
		}
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return "", usageErr("%s needed: set %s (no terminal to ask on)", strings.ToLower(prompt), name)
		}
		defer tty.Close()
		fmt.Fprintf(tty, "%s: ", prompt)
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", strings.ToLower(prompt), err)
		}
		return string(b), nil
	}
}
