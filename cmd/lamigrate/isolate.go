package main

type isolateCmd struct {
	connFlags
	State   string `name:"state" required:"" help:"State file recording every original value (JSON, mode 0600)." placeholder:"FILE"`
	Profile string `name:"profile" help:"Profile of external sources (JSON) instead of the built-in LiveAgent one." placeholder:"FILE"`
	DryRun  bool   `name:"dry-run" help:"Print the plan, change nothing."`
}

func (c *isolateCmd) Run(e *env) error { return notBuilt("isolate") }
