package lagen_test

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/lagen"
)

// Generate a small LiveAgent-like database into an empty database.
func ExampleGenerate() {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "unix", "/run/mysqld/mysqld.sock", "lagen_demo"
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	st, err := lagen.Generate(context.Background(), db, lagen.Config{Size: 64 << 20, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d tables, %d rows\n", len(st.Tables), st.Rows)
}
