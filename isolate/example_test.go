package isolate_test

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/qualityunit/lamigrate/isolate"
)

func ExampleDefaultProfile() {
	p := isolate.DefaultProfile()
	for _, s := range p.Sources[:2] {
		fmt.Printf("%s: %s.%s := %q where %s [%s]\n", s.Name, s.Table, s.Column, s.Write, s.ActiveWhere, s.Confidence)
	}
	// Output:
	// mail accounts: qu_la_mail_accounts.status := "I" where status IN ('A','P','S') AND fetch_type <> 'P' [inferred]
	// mail pipe: qu_la_mail_accounts.status := "I" where status IN ('A','P','S') AND fetch_type = 'P' [inferred]
}

func ExampleDisableCronLines() {
	crontab := "MAILTO=root\n* * * * * php -q /var/www/la/scripts/jobs.php\n"
	out, lines := isolate.DisableCronLines([]byte(crontab), []string{"jobs.php"})
	fmt.Print(string(out))
	back, _ := isolate.EnableCronLines(out, lines)
	fmt.Println(string(back) == crontab)
	// Output:
	// MAILTO=root
	// #lamigrate-disabled# * * * * * php -q /var/www/la/scripts/jobs.php
	// true
}

// Isolate, wait for the background jobs, and later put everything back.
func ExampleIsolate() {
	var db *sql.DB // connected to the LiveAgent database
	ctx := context.Background()
	res, err := isolate.Isolate(ctx, db, isolate.DefaultProfile(), "isolate-state.json", isolate.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range res.Sources {
		fmt.Println(s.Name, s.Status, s.Changed)
	}
	if _, err := isolate.Drain(ctx, db, isolate.DrainOptions{Timeout: 30 * time.Minute}); err != nil {
		fmt.Println(err)
	}
	rr, err := isolate.Restore(ctx, db, "isolate-state.json", isolate.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rr.Restored(), "rows restored,", rr.Conflicts(), "conflicts")
}
