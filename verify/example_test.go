package verify_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/qualityunit/lamigrate/verify"
)

// Check an archive, then the database it was imported into.
func Example() {
	ctx := context.Background()
	rep, err := verify.File(ctx, "dump.sql.gz", verify.Options{})
	switch {
	case errors.Is(err, verify.ErrIncomplete):
		fmt.Println("the dump did not finish:", err)
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Format, rep.Evidence, len(rep.Tables), "tables")

	db, _ := sql.Open("mysql", "root@unix(/run/mysqld/mysqld.sock)/imported")
	m, _ := verify.ReadManifest(verify.ManifestPath("dump.sql.gz"))
	if _, err := verify.Database(ctx, db, m, verify.Options{}); err != nil {
		var d *verify.DiffError
		if errors.As(err, &d) {
			for _, mm := range d.Differences {
				fmt.Println(mm.Table, mm.What)
			}
		}
	}
}
