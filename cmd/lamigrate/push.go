package main

type pushCmd struct {
	File       string `arg:"" help:"File to send (its manifest travels with it)." type:"path"`
	Dest       string `arg:"" help:"sftp://USER@HOST[:PORT]/DIR/ or a local folder."`
	Identity   string `name:"identity" help:"SSH private key file (passphrase from LAMIGRATE_SSH_PASSPHRASE or a prompt)." placeholder:"KEY"`
	KnownHosts string `name:"known-hosts" help:"known_hosts file (default ~/.ssh/known_hosts)." placeholder:"FILE"`
}

func (c *pushCmd) Run(e *env) error { return notBuilt("push") }
