package main

import "time"

type drainCmd struct {
	connFlags
	Timeout  time.Duration `name:"timeout" default:"30m" help:"Give up after this long."`
	Interval time.Duration `name:"interval" default:"5s" help:"Poll this often."`
}

func (c *drainCmd) Run(e *env) error { return notBuilt("drain") }
