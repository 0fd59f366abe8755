// Package load imports a lamigrate dump or a plain mysqldump file into a
// database, in parallel by table and resumably.
package load
