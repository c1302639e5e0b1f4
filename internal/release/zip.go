package release

import (
	"archive/zip"
	"compress/flate"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Epoch is the modification time of every zip entry unless the caller
// gives another (mkrelease takes SOURCE_DATE_EPOCH): 1980-01-01 00:00 UTC,
// the earliest time a zip's MS-DOS date can hold, so that the zip depends
// on the binary alone.
var Epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// binaryMode is the zip entry's mode: Packer installs the binary with its
// own mode (0755), unzip keeps this one.
const binaryMode = 0o755

// WriteZip writes a zip holding one file, name, with content data: deflated
// at the best level, modified at mtime, mode 0755, no other metadata. The
// same arguments give the same bytes (with the same Go version).
func WriteZip(w io.Writer, name string, data []byte, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mtime.UTC()}
	h.SetMode(binaryMode)
	f, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("write zip entry %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write zip entry %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	return nil
}

// ExtractBinary takes the entry name out of the zip at zipPath (as Packer
// does: by exact name) and writes it to dir/name, mode 0755. It fails when
// the zip lacks that entry.
func ExtractBinary(zipPath, name, dir string) (string, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return "", fmt.Errorf("open zip %s: %w", zipPath, err)
	}
	defer zr.Close()
	var entries []string
	for _, f := range zr.File {
		if f.Name != name {
			entries = append(entries, f.Name)
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return "", fmt.Errorf("open %s in %s: %w", name, zipPath, err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc) // checks the entry's CRC-32 at EOF
		if err != nil {
			return "", fmt.Errorf("read %s in %s: %w", name, zipPath, err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, binaryMode); err != nil {
			return "", fmt.Errorf("extract %s: %w", name, err)
		}
		return path, nil
	}
	return "", fmt.Errorf("extract %s: %s holds no such entry (it holds %q): Packer would refuse it", name, zipPath, entries)
}
