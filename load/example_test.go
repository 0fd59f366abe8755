package load_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/load"
)

func ExampleSplitter() {
	dump := "/*!40101 SET NAMES utf8mb4 */;\n-- a comment\nINSERT INTO `t` VALUES (1,'a;b');\n" +
		"DELIMITER ;;\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; END ;;\nDELIMITER ;\n"
	s := load.NewSplitter(strings.NewReader(dump))
	for {
		st, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d: %s\n", st.Offset, st.Text)
	}
	// Output:
	// 0: /*!40101 SET NAMES utf8mb4 */
	// 44: INSERT INTO `t` VALUES (1,'a;b')
	// 91: CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; END
}

// progress prints every status it gets.
type progress struct{}

func (progress) Update(s load.Status) {
	fmt.Printf("%d/%d tables, %d rows\n", s.TablesDone, s.Tables, s.Rows)
}

func ExampleLoad() {
	f, err := os.Open("dump.sql.gz")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "unix", "/run/mysqld/mysqld.sock", "liveagent"
	res, err := load.Load(context.Background(), cfg, f, load.Config{Threads: 2}, load.WithProgress(progress{}))
	if err != nil {
		log.Fatal(err) // a *load.StatementError names the table and byte offset
	}
	fmt.Printf("%d tables, %d rows in %s\n", res.Tables, res.Rows, res.Duration)
}
