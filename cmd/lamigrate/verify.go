package main

type verifyCmd struct {
	File string `arg:"" help:"Archive to check." type:"path"`
	DSN  string `name:"dsn" help:"Also check that this database matches the archive's manifest row for row."`
}

func (c *verifyCmd) Run(e *env) error { return notBuilt("verify") }
