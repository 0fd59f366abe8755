package dump

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// WriteArchive dumps cfg.Database into w as the archive named name: the
// same bytes File writes into name (compression from Config.Compression or
// name's extension, age encryption with the passphrase opt.Passphrase
// yields, asked first, when Config.Encrypt or name ends in .age, the
// completion marker last), for a destination that is not a local file,
// such as transfer.NewUpload's remote file.
//
// It returns the Result with File set: Path is name, Size and SHA256 are
// those of the bytes w accepted, Manifest is manifest.PathFor(name). It
// writes no manifest and renames nothing: the caller commits w (and puts
// ManifestJSON beside it) only when WriteArchive returned nil; after an
// error what w received has no completion marker and must be discarded.
//
// Nothing is written to this machine's disk except the spill files of extra
// reading connections (Config.Connections > 1 with the LOCK TABLES
// privilege), which go to os.TempDir(); with Connections 1 the archive
// exists only in w and a few MB of buffers.
func WriteArchive(ctx context.Context, db *sql.DB, w io.Writer, name string, cfg Config, opt Options) (*Result, error) {
	a, err := cfg.archive(name, opt)
	if err != nil {
		return nil, err
	}
	return a.write(ctx, db, w, cfg, opt, os.TempDir(), name)
}

// ManifestJSON returns the manifest of the dump (Manifest) as the bytes
// File writes into FILE.manifest.json: indented JSON and a newline.
func (r *Result) ManifestJSON(toolVersion string) ([]byte, error) {
	b, err := json.MarshalIndent(r.Manifest(toolVersion), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dump: manifest: %w", err)
	}
	return append(b, '\n'), nil
}
