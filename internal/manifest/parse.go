package manifest

import (
	"encoding/json"
	"fmt"
)

// Parse reads a manifest from b, as Read does from a file; where names it
// in errors (a path, or a URL for one read over SFTP).
func Parse(b []byte, where string) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %s is not a valid manifest: %w", where, err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("manifest: %s has format %d; this lamigrate reads %d", where, m.Format, FormatVersion)
	}
	return &m, nil
}
