// Package jsonfile reads and writes the JSON files lamigrate keeps for
// itself: the run journal, the isolation state file and adjust records.
// Each is one JSON object with a "format" number, the version of its
// layout, which a lamigrate that reads it must know.
//
// [Write] encodes a value (indented, with a final newline) and stores it
// with internal/atomicfile, mode 0600: these files name the customer's
// tables and hold their values.
//
// [Kind.Read], in the order things happen:
//
//  1. reads the file; an error (a missing file: errors.Is fs.ErrNotExist)
//     comes back as "NAME: <the file system's error>";
//  2. reads the "format" number alone, so that a file of another version
//     is reported as such even when the rest of its layout has changed: a
//     file that is not a JSON object, or whose format is not a whole
//     number, is damaged (ErrDamaged); a file without a format, or with
//     one other than Kind.Format, is of an unknown version (ErrFormat),
//     and one with a higher number is said to be newer than this lamigrate;
//  3. decodes the whole file into the value; a failure there is damage
//     (ErrDamaged). Fields this lamigrate does not know are ignored, so a
//     file of the same format written by a later release still reads.
//
// Hand-written files (profiles, rules, run configurations) are not
// versioned and are read strictly: see internal/strictjson.
package jsonfile
