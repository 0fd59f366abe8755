package transfer_test

import (
	"context"
	"fmt"
	"log"

	"github.com/qualityunit/lamigrate/transfer"
)

// Push a dump and its manifest to an SSH server, checking the host key
// against known_hosts and logging in with a key file.
func ExamplePush() {
	ctx := context.Background()
	dst, err := transfer.DialSFTP(ctx, transfer.SFTPConfig{
		User: "migrate", Host: "upload.example.com", Dir: "/srv/incoming",
		IdentityFile:   "/home/me/.ssh/id_ed25519",
		KnownHostsFile: "/home/me/.ssh/known_hosts",
	}, transfer.Secrets{})
	if err != nil {
		log.Fatal(err)
	}
	defer dst.Close()
	res, err := transfer.Push(ctx, dst, "dump.sql.gz", transfer.Options{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Name, res.SHA256, res.Verified)
}

func ExampleParseURL() {
	loc, err := transfer.ParseURL("sftp://migrate@upload.example.com:2222/~/incoming/")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(loc.User, loc.Host, loc.Port, loc.Path, loc.IsDir())
	// Output: migrate upload.example.com 2222 incoming/ true
}
