package main

type dumpCmd struct {
	connFlags
	Output           string   `name:"output" short:"o" required:"" help:"Archive to write (.sql.gz, .sql.zst, .sql.lz4, .sql; add .age to encrypt)." placeholder:"FILE"`
	Compress         string   `name:"compress" enum:",gzip,zstd,lz4,none" default:"" help:"Compression (default: from the file extension)."`
	Level            int      `name:"level" help:"Compression level (0: the codec's default)."`
	IgnoreTable      []string `name:"ignore-table" help:"Also skip this table (repeatable)." placeholder:"NAME"`
	NoDefaultIgnores bool     `name:"no-default-ignores" help:"Do not skip LiveAgent's transient tables."`
}

func (c *dumpCmd) Run(e *env) error { return notBuilt("dump") }
