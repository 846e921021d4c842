package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/sc115/sc115/acd/web"
)

// hashPasswordCmd reads a password (one line on stdin, so that it is in
// no shell history or process list) and prints the bcrypt hash for
// web.users[].password_hash.
func hashPasswordCmd(args []string) int {
	if len(args) != 0 {
		fmt.Fprintln(os.Stderr, "usage: sc115 hash-password < password-file   (or type it, then Enter)")
		return 2
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	password := strings.TrimRight(line, "\r\n")
	if err != nil && password == "" {
		fmt.Fprintln(os.Stderr, "sc115 hash-password: no password on stdin")
		return 2
	}
	if len(password) < 8 {
		fmt.Fprintln(os.Stderr, "sc115 hash-password: use at least 8 characters")
		return 2
	}
	h, err := web.HashPassword(password)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sc115 hash-password:", err)
		return 1
	}
	fmt.Println(h)
	return 0
}

// newTokenCmd prints a fresh API token (give it to the program) and the
// token_hash line for the config (the token itself is never stored).
func newTokenCmd(args []string) int {
	if len(args) != 0 {
		fmt.Fprintln(os.Stderr, "usage: sc115 new-token")
		return 2
	}
	tok := web.NewToken()
	fmt.Printf("token:      %s\ntoken_hash: %s\n", tok, web.HashToken(tok))
	return 0
}
