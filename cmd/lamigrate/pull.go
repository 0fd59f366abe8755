package main

import (
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/qualityunit/lamigrate/transfer"
)

type pullCmd struct {
	Source string `arg:"" help:"sftp://USER@HOST[:PORT]/PATH (PATH absolute; /~/PATH for the login folder) or a local path."`
	File   string `arg:"" help:"Where to write it (a folder keeps the remote name)." type:"path"`
	sshFlags
}

func (c *pullCmd) Run(e *env) error {
	var b transfer.Backend
	var name string
	if transfer.IsURL(c.Source) {
		loc, err := transfer.ParseURL(c.Source)
		if err != nil {
			return withStatus(exitUsage, err)
		}
		if loc.IsDir() {
			return usageErr("%s names a folder: give the file's path", c.Source)
		}
		dir, file := loc.Split()
		s, err := c.dial(e, loc, dir)
		if err != nil {
			return err
		}
		b, name = s, file
	} else {
		b, name = transfer.NewLocal(filepath.Dir(c.Source)), filepath.Base(c.Source)
	}
	defer b.Close()
	out := c.File
	if fi, err := os.Stat(out); (err == nil && fi.IsDir()) || strings.HasSuffix(out, string(os.PathSeparator)) {
		out = filepath.Join(out, path.Base(name))
	}
	p := newTransferProgress(e, "pull", name)
	res, err := transfer.Pull(e.ctx, b, name, out, transfer.Options{}, p)
	p.stop()
	if err != nil {
		return transferError(err, b)
	}
	return e.ui.result(res, func(w io.Writer) {
		printTransfer(w, "pulled", b.String()+name, out, res)
	})
}
