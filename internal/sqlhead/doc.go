// Package sqlhead reads the head of one SQL statement: the tokens before
// its body, as dumps and SHOW CREATE write them. The importer classifies a
// statement by them (Lexer), and the DEFINER clause of a CREATE is found
// and removed here for every caller (FindDefiner, Definer.Strip): load,
// for the statements of an archive, and manifest, for SHOW CREATE's, which
// dump and verify digest.
//
// A statement is read from its first token. Blanks and the markers of
// executable comments (/*!NNNNN, /*M!NNNNNN and */) are skipped, so
// mysqldump's `/*!50003 CREATE*/ /*!50017 DEFINER=…*/ /*!50003 TRIGGER …*/`
// reads as `CREATE DEFINER=… TRIGGER …`; plain comments must be removed
// before (load.StripComments). Only the head is read, up to the keyword of
// the object a CREATE creates: a DEFINER written in a string, a body or row
// data is never taken for the clause.
package sqlhead
