package engine

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zeebo/xxh3"

	"github.com/ugnos/ugnos/errs"
)

// Side files: state the layer above keeps in its own files of the data
// directory (rules, continuous aggregates, …) travels in a snapshot as
// files/<name>, listed in the MANIFEST with size and checksum like every
// other file, verified before a restore and put back into the data
// directory by it.

// SideFile is a file of the data directory carried by a snapshot.
type SideFile struct {
	Name string // a plain file name, e.g. "rules.json"
	Data []byte
}

const sideDir = "files"

// reservedNames are the engine's own entries of a data or snapshot
// directory; side files may not take them.
var reservedNames = []string{"wal", "segments", "catalog", sideDir, manifestName, snapshotName, restoreMarker, "LOCK"}

func validSideName(name string) bool {
	return name != "" && filepath.IsLocal(name) && filepath.Base(name) == name && !strings.ContainsAny(name, `/\`) &&
		!strings.HasPrefix(name, ".") && !strings.HasSuffix(name, ".tmp") && !slices.Contains(reservedNames, name)
}

func checkSideFiles(side []SideFile) error {
	seen := map[string]bool{}
	for _, f := range side {
		if !validSideName(f.Name) || seen[f.Name] {
			return errs.Invalid("snapshot side file name %q is not usable", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// sideFileName is the name of a side file from its path in a manifest.
func sideFileName(p string) (string, bool) {
	dir, name := path.Split(p)
	return name, dir == sideDir+"/" && validSideName(name)
}

// writeSideFiles writes the side files under root/files, synced, and
// returns their references.
func writeSideFiles(root string, side []SideFile) ([]fileRef, error) {
	if len(side) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Join(root, sideDir), 0o755); err != nil {
		return nil, errs.Internal(err, "create %s", sideDir)
	}
	refs := make([]fileRef, 0, len(side))
	for _, f := range side {
		rel := sideDir + "/" + f.Name
		if err := writeSynced(filepath.Join(root, sideDir, f.Name), f.Data); err != nil {
			return nil, err
		}
		refs = append(refs, fileRef{Path: rel, Size: int64(len(f.Data)), Sum: xxh3.Hash(f.Data)})
	}
	return refs, syncDirs(root, filepath.Join(root, sideDir))
}

// finishSideFiles moves the staged side files of a restore into the data
// directory, the files they replace aside into old. Like finishRestore it
// can be run again after a crash at any step.
func finishSideFiles(dataDir, staging, old string) error {
	ents, err := os.ReadDir(filepath.Join(staging, sideDir))
	if err != nil {
		return nil // none, or moved already
	}
	for _, ent := range ents {
		name := ent.Name()
		if !validSideName(name) {
			continue
		}
		dst := filepath.Join(dataDir, name)
		if _, err := os.Lstat(dst); err == nil {
			if err := os.Rename(dst, filepath.Join(old, name)); err != nil {
				return errs.Internal(err, "restore: move %s aside", name)
			}
		}
		if err := os.Rename(filepath.Join(staging, sideDir, name), dst); err != nil {
			return errs.Internal(err, "restore: move %s into place", name)
		}
	}
	return nil
}
