// Package sqlvalue is one recorded SQL column value: NULL, or bytes. It is
// the value isolate's state file keeps (keys, original values, crontabs)
// and the one adjust's rules and records keep (set and where values, keys,
// values before and after), so both files write and read values alike.
//
// In JSON a Value is written as null, as a string when its bytes are valid
// UTF-8, or as {"base64": "..."} otherwise. Read back, it accepts those
// three, and also a number (kept as its text: 1.50 is "1.50") and a
// boolean (true is "1", false is "0"), as rules written by hand use them.
//
// For people (String) it is NULL, the text quoted as Go quotes it, or 0x
// and lowercase hex for bytes that are not UTF-8. As a query parameter
// (Arg) it is nil, a string, or a []byte for bytes that are not UTF-8, so
// the driver sends them as binary.
package sqlvalue
