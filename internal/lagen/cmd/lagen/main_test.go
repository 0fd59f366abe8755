package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/lagen"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func TestRunFillsEmptyDatabaseOnce(t *testing.T) {
	db := mysqltest.New(t)
	dsn := db.Config().FormatDSN()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--dsn", dsn, "--size", "1MiB", "--seed", "3"}, &out, &errb); err != nil {
		t.Fatalf("run = %v (stderr %s)", err, errb.String())
	}
	want := fmt.Sprintf("%d tables, ", len(lagen.Tables()))
	if !strings.Contains(out.String(), want) || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("summary = %q; want one line containing %q", out.String(), want)
	}
	err := run(context.Background(), []string{"--dsn", dsn, "--size", "1MiB"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "already has") {
		t.Errorf("second run = %v; want a refusal of the non-empty database", err)
	}
}

func TestRunCreatesDatabase(t *testing.T) {
	admin := mysqltest.Server(t)
	var rnd [6]byte
	rand.Read(rnd[:])
	cfg := admin.Clone()
	cfg.DBName = "lt_lagen_" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() {
		c, _ := mysql.NewConnector(admin)
		db := sql.OpenDB(c)
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS `" + cfg.DBName + "`"); err != nil {
			t.Errorf("dropping %s: %v", cfg.DBName, err)
		}
	})
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--dsn", cfg.FormatDSN(), "--size", "512KiB", "--create"}, &out, &errb); err != nil {
		t.Fatalf("run --create = %v", err)
	}
	if !strings.HasPrefix(out.String(), "lagen: "+cfg.DBName+": ") {
		t.Errorf("summary = %q; want it to name %s", out.String(), cfg.DBName)
	}
}

func TestRunPrintsDataVersion(t *testing.T) {
	var out, errb bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"--data-version"}, &out, &errb), "lagen --data-version")
	if want := fmt.Sprintf("%d\n", lagen.DataVersion); out.String() != want {
		t.Errorf("--data-version printed %q; want %q", out.String(), want)
	}
}

func TestRunRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no dsn", []string{"--size", "1MiB"}, "usage"},
		{"bad size", []string{"--dsn", "root@unix(/x)/db", "--size", "lots"}, "size"},
		{"size too small", []string{"--dsn", "root@unix(/x)/db", "--size", "1KiB"}, "size"},
		{"no database", []string{"--dsn", "root@unix(/x)/"}, "names no database"},
		{"bad dsn", []string{"--dsn", "root@bogus(x"}, "--dsn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v; want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}
