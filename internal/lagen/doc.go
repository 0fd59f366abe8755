// Package lagen generates a realistic LiveAgent-like database of a chosen
// size: the schema of a self-hosted LiveAgent (InnoDB, utf8 tables, CHAR(8)
// random hex keys, CHAR(1) flags) filled with conversations, multilingual
// messages, binary attachments, mails, contacts, the big log and visit tables
// that lamigrate's default ignore list skips, and the external-source tables
// of the isolate profile with active and inactive rows. Tests use it at a few
// MiB, the README demo at a few dozen, benchmarks at about 1 GiB.
//
// # Determinism
//
// The data depends only on Config.Size and Config.Seed: every table row is a
// function of the seed, the table and the row's unit index (a conversation, a
// file, a log line), drawn from its own PCG stream. Parallel and BatchBytes
// change how fast the data loads, never what is loaded. Two databases
// generated with the same Size and Seed have identical rowhash digests.
//
// # Size
//
// Config.Size is the approximate footprint on disk (information_schema
// DATA_LENGTH + INDEX_LENGTH on MariaDB 10.11): about 35% attachments
// (qu_g_filecontents, LONGBLOB, random and compressible bytes, a few KiB to
// 1 MiB, some NULL and empty), 28% conversations with their messages, 30% logs
// and visits. The data bytes themselves (Stats.Bytes) are about 70% of it,
// and a mysqldump --hex-blob of the database is about 10% larger than Size.
//
// # What it contains
//
// Tables lists every table. Fixed facts tests can rely on:
//   - the installed version (qu_g_versions) is VersionName;
//   - qu_la_mail_accounts has every status (A, I, P, S) and fetch type
//     (I, 3, P, B, F) and exactly one active piping account;
//   - Facebook pages, Twitter accounts, contact widgets (rstatus) and chat
//     invitation rules (qu_g_rules rtype 'I', rstatus E/D) each have active
//     and inactive rows; widgets' status (online presence) is always 'N';
//   - qu_g_settings has allowed_ips with a non-empty value;
//   - qu_g_queued_jobs has a few rows whose status is not 'F';
//   - zero dates ('0000-00-00 00:00:00'), NULL next to empty strings, DECIMAL,
//     FLOAT, INT and BIGINT UNSIGNED (up to 2^64-1), a TIMESTAMP column, and emoji
//     only in the utf8mb4 column qu_la_messages.message;
//   - qu_la_conversations_search is MyISAM; everything else InnoDB.
//
// # Loading
//
// Generate runs Session on each of Config.Parallel connections (zero dates
// need a sql_mode without NO_ZERO_DATE) and sends batches of about
// BatchBytes, each table cut into chunks that the connections take in turn:
// LOAD DATA LOCAL INFILE from memory (go-sql-driver's RegisterReaderHandler)
// when the server allows local_infile, else multi-row INSERT statements.
// A 1 GiB database loads in about 30 s on two cores (LOAD DATA 26 s,
// INSERT 29 s, measured back to back); the server's InnoDB writes are the
// bottleneck, generating the data takes a few seconds of CPU.
package lagen
