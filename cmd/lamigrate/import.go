package main

type importCmd struct {
	connFlags
	File    string `arg:"" help:"Archive to load (ours or a plain mysqldump file, any codec)." type:"path"`
	Threads int    `name:"threads" default:"0" help:"Parallel connections (0: number of CPUs)."`
}

func (c *importCmd) Run(e *env) error { return notBuilt("import") }
