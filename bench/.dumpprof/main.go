package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/qualityunit/lamigrate/dump"
)

func main() {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "unix", "/run/mysqld/mysqld.sock", "lamigrate_bench"
	c, _ := mysql.NewConnector(cfg)
	db := sql.OpenDB(c)
	f, _ := os.Create("/tmp/bd/cpu.prof")
	pprof.StartCPUProfile(f)
	t := time.Now()
	dc := dump.Config{Database: "lamigrate_bench", Compression: os.Args[2]}
	fmt.Sscan(os.Args[3], &dc.Level)
	res, err := dump.File(context.Background(), db, os.Args[1], dc, dump.Options{})
	pprof.StopCPUProfile()
	if err != nil {
		panic(err)
	}
	fmt.Println(time.Since(t), res.File.Size, res.SQL.Bytes)
}
