package main

type checkCmd struct {
	connFlags
	OutDir string `name:"out-dir" help:"Folder the dump will be written to (free space is checked against the estimate)." placeholder:"DIR"`
}

func (c *checkCmd) Run(e *env) error { return notBuilt("check") }
