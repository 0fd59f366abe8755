package migrate

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/dump"
)

// TestDumpOptions: the run's dump asks for the archive's passphrase (the
// variable Dump.PassphraseEnv, LAMIGRATE_PASSPHRASE by default) once, when
// the archive is encrypted, before the dump starts, and hands the dump a
// function that answers it without asking again; a plain archive asks
// nothing; a missing or empty one fails with what to set.
func TestDumpOptions(t *testing.T) {
	session := func(env map[string]string, passEnv string, asked *int) *Session {
		return &Session{Config: Config{Dump: DumpOptions{PassphraseEnv: passEnv}}, opt: RunOptions{
			ToolVersion: "test",
			Getenv:      func(k string) string { return env[k] },
			Secret: func(name, prompt string) func() (string, error) {
				return func() (string, error) {
					*asked++
					if v := env[name]; v != "" {
						return v, nil
					}
					return "", errors.New(prompt + " needed: set " + name)
				}
			},
		}}
	}
	for _, tc := range []struct {
		name    string
		passEnv string
		env     map[string]string
		cfg     dump.Config
		archive string
	}{
		{"age name, default variable", "", map[string]string{"LAMIGRATE_PASSPHRASE": "pw"}, dump.Config{}, "db.sql.zst.age"},
		{"Encrypt, configured variable", "ARCHIVE_PW", map[string]string{"ARCHIVE_PW": "pw"}, dump.Config{Encrypt: true}, "db.sql.zst"},
	} {
		var asked int
		s := session(tc.env, tc.passEnv, &asked)
		opt, err := s.dumpOptions(tc.cfg, tc.archive)
		require.NoError(t, err, "%s: dumpOptions", tc.name)
		assert.Equal(t, 1, asked, "%s: asked once, before the dump", tc.name)
		assert.Equal(t, "test", opt.ToolVersion, "%s: the tool version", tc.name)
		assert.NotNil(t, opt.Progress, "%s: the progress", tc.name)
		require.NotNil(t, opt.Passphrase, "%s: the dump gets a passphrase function", tc.name)
		pw, err := opt.Passphrase()
		require.NoError(t, err, "%s: the dump's passphrase function", tc.name)
		assert.Equal(t, "pw", pw, "%s: the passphrase is the variable's", tc.name)
		assert.Equal(t, 1, asked, "%s: the dump's function does not ask again", tc.name)
	}

	var asked int
	_, err := session(map[string]string{"LAMIGRATE_PASSPHRASE": "pw"}, "", &asked).dumpOptions(dump.Config{}, "db.sql.zst")
	require.NoError(t, err, "dumpOptions of a plain archive")
	assert.Zero(t, asked, "a plain archive asks no passphrase")

	asked = 0
	_, err = session(nil, "", &asked).dumpOptions(dump.Config{}, "db.sql.gz.AGE")
	assert.EqualError(t, err, "Archive passphrase needed: set LAMIGRATE_PASSPHRASE", "without the variable the error says what to set")

	// A prompt answered with nothing.
	empty := &Session{opt: RunOptions{Secret: func(string, string) func() (string, error) {
		return func() (string, error) { return "", nil }
	}}}
	_, err = empty.dumpOptions(dump.Config{Encrypt: true}, "db.sql.gz")
	assert.ErrorIs(t, err, dump.ErrNeedPassphrase, "an empty passphrase")

	// Without RunOptions.Secret the session reads the variable itself.
	s := &Session{Config: Config{}, opt: RunOptions{Getenv: func(string) string { return "" }}}
	_, err = s.dumpOptions(dump.Config{}, "db.sql.gz.age")
	assert.ErrorContains(t, err, "set the environment variable LAMIGRATE_PASSPHRASE", "the session's own reader names the variable")
}
