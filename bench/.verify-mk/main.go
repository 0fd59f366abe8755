package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/dump"
)

func main() {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "unix", os.Args[1], os.Args[2]
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		panic(err)
	}
	db := sql.OpenDB(c)
	if _, err := dump.File(context.Background(), db, os.Args[3], dump.Config{Database: os.Args[2]}, dump.Options{ToolVersion: "bench"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
