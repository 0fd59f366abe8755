package dbconn

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Settings is what lamigrate reads from LiveAgent's accounts/settings.php.
type Settings struct {
	Hostname, Username, Password, Database string
	HasPassword                            bool
	// EncryptionKey protects mail passwords, tokens and API keys in the
	// database. Never print it.
	EncryptionKey    string
	HasEncryptionKey bool
	TimeZone         string
	// Other holds every other KEY=value line.
	Other map[string]string
}

// SettingsPath is where LiveAgent keeps its database settings.
func SettingsPath(installDir string) string {
	return filepath.Join(installDir, "accounts", "settings.php")
}

// ReadSettings reads a LiveAgent settings.php.
func ReadSettings(path string) (*Settings, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dbconn: cannot read LiveAgent settings: %w (is --install-dir the LiveAgent folder?)", err)
	}
	defer f.Close()
	s, err := ParseSettings(f)
	if err != nil {
		return nil, fmt.Errorf("dbconn: %s: %w", path, err)
	}
	return s, nil
}

// ParseSettings reads KEY=value lines from inside the PHP comment block
// (<?php /* ... */ ?>). Lines end in LF or CRLF; the key is split at the first
// '=' and the value's right end is trimmed.
func ParseSettings(r io.Reader) (*Settings, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	start := bytes.Index(b, []byte("/*"))
	if start < 0 {
		return nil, fmt.Errorf("no /* ... */ settings block (not a LiveAgent settings.php?)")
	}
	body := b[start+2:]
	end := bytes.Index(body, []byte("*/"))
	if end < 0 {
		return nil, fmt.Errorf("settings block /* is never closed with */")
	}
	body = body[:end]
	s := &Settings{Other: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		v = strings.TrimRight(v, " \t\r")
		switch k {
		case "DB_HOSTNAME":
			s.Hostname = v
		case "DB_USERNAME":
			s.Username = v
		case "DB_PASSWORD":
			s.Password, s.HasPassword = v, true
		case "DB_DATABASE":
			s.Database = v
		case "ENCRYPTION_KEY":
			s.EncryptionKey, s.HasEncryptionKey = v, v != ""
		case "TIMEZONE":
			s.TimeZone = v
		case "":
			continue
		default:
			s.Other[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if s.Username == "" && s.Database == "" && s.Hostname == "" {
		return nil, fmt.Errorf("no DB_HOSTNAME, DB_USERNAME or DB_DATABASE line in the settings block")
	}
	return s, nil
}
