package mysqltest

import (
	"bufio"
	"compress/gzip"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// SampleDir is the folder of the public sample schemas (sakila, employees,
// world-geo): $LAMIGRATE_SAMPLES, else shared/external beside the checkout
// (looked for from the working folder upwards), else /work/shared/external.
// A test that needs them fails when they are not there.
func SampleDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("LAMIGRATE_SAMPLES"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err == nil {
		for {
			if fi, err := os.Stat(filepath.Join(dir, "shared", "external")); err == nil && fi.IsDir() {
				return filepath.Join(dir, "shared", "external")
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	const fallback = "/work/shared/external"
	if _, err := os.Stat(fallback); err != nil {
		t.Fatalf("the public sample schemas are not here (set LAMIGRATE_SAMPLES to their folder): %v", err)
	}
	return fallback
}

// SampleSQL writes the named gzipped sample files, in order, as one SQL
// file for db: their own DROP/CREATE SCHEMA and USE lines are dropped and
// names qualified with schema (e.g. "sakila.") point at db instead. It
// returns the file's path (in a temp folder of t).
func SampleSQL(t testing.TB, db *DB, schema string, files ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "sample.sql")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	skip := regexp.MustCompile(`(?i)^(DROP SCHEMA|CREATE SCHEMA|DROP DATABASE|CREATE DATABASE|USE )`)
	var qualified *regexp.Regexp
	if schema != "" {
		qualified = regexp.MustCompile(`\b` + regexp.QuoteMeta(schema) + `\.`)
	}
	dir := SampleDir(t)
	for _, name := range files {
		in, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			line := sc.Text()
			if skip.MatchString(line) {
				continue
			}
			if qualified != nil {
				line = qualified.ReplaceAllString(line, "`"+db.Name+"`.")
			}
			w.WriteString(line)
			w.WriteByte('\n')
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		in.Close()
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}
