package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ugnos/ugnos/errs"
)

const (
	segMagic    = "UGWL"
	segVersion  = 1
	headerSize  = 20 // magic[4] | version u32 | base LSN u64 | CRC-32C of bytes 0..16 u32
	recHeadSize = 8  // payload length u32 | CRC-32C of length+payload u32
	segSuffix   = ".wal"
	segNameLen  = 20 + len(segSuffix)
	corruptExt  = ".corrupt"
	lockName    = "LOCK"
	fileMode    = 0o644
	dirMode     = 0o755
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcLength returns the CRC-32C of the 4-byte little-endian encoding of n,
// the start of a record's checksum. It is crc32.Update(0, castagnoli, le(n))
// done by hand, because that call makes a stack buffer escape to the heap.
func crcLength(n uint32) uint32 {
	crc := ^uint32(0)
	for range 4 {
		crc = castagnoli[byte(crc)^byte(n)] ^ (crc >> 8)
		n >>= 8
	}
	return ^crc
}

// segFile is a segment found in the log directory.
type segFile struct {
	base LSN // LSN of the first record byte, from the file name
	path string
	size int64
}

func segName(base LSN) string { return fmt.Sprintf("%020d%s", uint64(base), segSuffix) }

// parseSegName returns the base LSN of a segment file name, or false if name
// is not a segment (lock files, .corrupt files and strangers are ignored).
func parseSegName(name string) (LSN, bool) {
	if len(name) != segNameLen || !strings.HasSuffix(name, segSuffix) {
		return 0, false
	}
	digits := name[:20]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return LSN(v), true
}

// listSegments returns the segments of dir in LSN order.
func listSegments(dir string) ([]segFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, errs.Internal(err, "wal: read directory %s", dir)
	}
	var segs []segFile
	for _, e := range ents {
		base, ok := parseSegName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, errs.Internal(err, "wal: stat segment %s", e.Name())
		}
		segs = append(segs, segFile{base: base, path: filepath.Join(dir, e.Name()), size: fi.Size()})
	}
	slices.SortFunc(segs, func(a, b segFile) int {
		switch {
		case a.base < b.base:
			return -1
		case a.base > b.base:
			return 1
		}
		return 0
	})
	return segs, nil
}

func encodeHeader(base LSN) [headerSize]byte {
	var h [headerSize]byte
	copy(h[0:4], segMagic)
	binary.LittleEndian.PutUint32(h[4:8], segVersion)
	binary.LittleEndian.PutUint64(h[8:16], uint64(base))
	binary.LittleEndian.PutUint32(h[16:20], crc32.Checksum(h[:16], castagnoli))
	return h
}

// checkHeader validates a segment header. It returns a non-empty reason if the
// header is damaged (the segment is then treated as corrupt), and an error if
// the header is intact but of a version this code cannot read (no repair may
// touch such a log).
func checkHeader(h [headerSize]byte, base LSN, path string) (string, error) {
	if string(h[0:4]) != segMagic {
		return "bad segment magic", nil
	}
	if crc32.Checksum(h[:16], castagnoli) != binary.LittleEndian.Uint32(h[16:20]) {
		return "segment header checksum mismatch", nil
	}
	if v := binary.LittleEndian.Uint32(h[4:8]); v != segVersion {
		return "", errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted,
			"wal: segment %s has unsupported version %d (want %d)", path, v, segVersion)
	}
	if got := LSN(binary.LittleEndian.Uint64(h[8:16])); got != base {
		return fmt.Sprintf("segment header base %d does not match file name", got), nil
	}
	return "", nil
}

// createSegment creates (flag O_EXCL) or resets (flag O_TRUNC) the segment
// file for base, writes and fdatasyncs its header, and returns it open for
// appending. The caller fsyncs the directory.
func createSegment(dir string, base LSN, flag int, fsync func(*os.File) error) (*os.File, error) {
	path := filepath.Join(dir, segName(base))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|flag, fileMode)
	if err != nil {
		return nil, errs.Internal(err, "wal: create segment %s", path)
	}
	h := encodeHeader(base)
	if _, err := f.Write(h[:]); err != nil {
		f.Close()
		return nil, errs.Internal(err, "wal: write header of %s", path)
	}
	if err := fsync(f); err != nil {
		f.Close()
		return nil, errs.Internal(err, "wal: fsync segment %s", path)
	}
	return f, nil
}

// moveAside renames a segment to "<name>.corrupt" (or "<name>.N.corrupt" if
// that exists) and returns the new path.
func moveAside(path string) (string, error) {
	to := path + corruptExt
	for n := 1; ; n++ {
		if _, err := os.Lstat(to); os.IsNotExist(err) {
			break
		}
		to = fmt.Sprintf("%s.%d%s", path, n, corruptExt)
	}
	if err := os.Rename(path, to); err != nil {
		return "", errs.Internal(err, "wal: move aside %s", path)
	}
	return to, nil
}

// syncDirPath fsyncs a directory so that created, renamed and removed entries
// survive power loss.
func syncDirPath(dir string) error {
	if err := syncDir(dir); err != nil {
		return errs.Internal(err, "wal: fsync directory %s", dir)
	}
	return nil
}
