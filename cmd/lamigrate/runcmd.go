package main

type runCmd struct {
	Config string `name:"config" required:"" help:"Migration config file (JSON)." placeholder:"FILE"`
	Resume bool   `name:"resume" help:"Continue a run that stopped, from its journal."`
}

func (c *runCmd) Run(e *env) error { return notBuilt("run") }
