package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/verify"
)

func main() {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "unix", "/run/mysqld/mysqld.sock", "lamigrate_bench"
	c, _ := mysql.NewConnector(cfg)
	db := sql.OpenDB(c)
	m, err := verify.ReadManifest(os.Args[1])
	if err != nil {
		panic(err)
	}
	f, _ := os.Create("/tmp/verify-db.prof")
	pprof.StartCPUProfile(f)
	t := time.Now()
	rep, err := verify.Database(context.Background(), db, m, verify.Options{})
	pprof.StopCPUProfile()
	fmt.Println(time.Since(t), err)
	for _, r := range rep.Tables {
		if r.Seconds > 0.2 {
			fmt.Println(r.Name, r.Rows, r.Seconds)
		}
	}
}
