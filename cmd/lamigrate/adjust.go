package main

type adjustCmd struct {
	connFlags
	Rules  string `name:"rules" required:"" help:"Reviewed rules file of cloud-specific changes." placeholder:"FILE"`
	DryRun bool   `name:"dry-run" help:"Show what would change, change nothing."`
}

func (c *adjustCmd) Run(e *env) error { return notBuilt("adjust") }
