package main

type pullCmd struct {
	Source     string `arg:"" help:"sftp://USER@HOST[:PORT]/PATH or a local path."`
	File       string `arg:"" help:"Where to write it." type:"path"`
	Identity   string `name:"identity" help:"SSH private key file (passphrase from LAMIGRATE_SSH_PASSPHRASE or a prompt)." placeholder:"KEY"`
	KnownHosts string `name:"known-hosts" help:"known_hosts file (default ~/.ssh/known_hosts)." placeholder:"FILE"`
}

func (c *pullCmd) Run(e *env) error { return notBuilt("pull") }
