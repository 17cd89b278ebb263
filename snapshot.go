package ugnos

import "github.com/ugnos/ugnos/arrowstore/engine"

// VerifySnapshot checks the snapshot at path without restoring it or
// opening a database: its SNAPSHOT file, the manifest's checksum, and the
// size and checksum of every file the manifest lists. A damaged or
// incomplete snapshot gives an error of kind ErrCorrupt (SQLSTATE XX001).
func VerifySnapshot(path string) error {
	_, err := engine.VerifySnapshot(path)
	return err
}
