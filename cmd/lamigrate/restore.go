package main

type restoreCmd struct {
	connFlags
	State string `name:"state" required:"" help:"State file written by isolate." placeholder:"FILE"`
}

func (c *restoreCmd) Run(e *env) error { return notBuilt("restore") }
