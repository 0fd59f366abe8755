package mysqltest

import "testing"

func TestNewGivesEmptyPrivateDatabase(t *testing.T) {
	a := New(t)
	b := New(t)
	if a.Name == b.Name {
		t.Fatalf("New twice gave the same database %s", a.Name)
	}
	a.MustExec(t, "CREATE TABLE x (id INT)", "INSERT INTO x VALUES (1)")
	var n int
	if err := b.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("fresh database has %d tables; want 0", n)
	}
	if a.Config().DBName != a.Name {
		t.Errorf("Config().DBName = %q; want %q", a.Config().DBName, a.Name)
	}
}

// The fallback used on machines without a running server must itself work.
func TestThrowawayServer(t *testing.T) {
	if _, err := lookSbin("mariadbd", "mysqld"); err != nil {
		Unavailable(t, "mariadbd: %v", err)
	}
	cfg, err := startThrowaway()
	if err != nil {
		t.Fatal(err)
	}
	db, err := open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}
