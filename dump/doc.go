// Package dump writes one consistent, streaming SQL dump of a database that
// the stock mariadb/mysql client loads into exactly the source data, and the
// manifest that proves the dump is complete.
package dump
