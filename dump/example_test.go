package dump_test

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/qualityunit/lamigrate/dump"
)

// File writes a compressed archive and its manifest; the ignore list starts
// from DefaultIgnores.
func ExampleFile() {
	var db *sql.DB // opened with mysql.NewConnector
	if db == nil {
		return
	}
	cfg := dump.Config{Database: "liveagent", IgnoreTables: []string{"qu_la_tmp"}}
	res, err := dump.File(context.Background(), db, "liveagent.sql.gz", cfg, dump.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.File.Path, res.File.Size, len(res.Tables))
}

func ExampleDefaultIgnores() {
	fmt.Println(len(dump.DefaultIgnores()), dump.DefaultIgnores()[0])
	// Output: 20 qu_g_logs
}
