//go:build unix

package migrate

import "syscall"

// writable reports why the folder dir is not writable by this process
// (access(2) with W_OK|X_OK: it sees permissions and read-only mounts).
func writable(dir string) error {
	const wOK, xOK = 0x2, 0x1
	return syscall.Access(dir, wOK|xOK)
}
