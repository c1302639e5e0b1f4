package release

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNames(t *testing.T) {
	p := Platform{"linux", "arm64"}
	if got, want := ZipName("1.2.3", "x5.0", p), "packer-plugin-jitsi_v1.2.3_x5.0_linux_arm64.zip"; got != want {
		t.Errorf("ZipName = %q, want %q", got, want)
	}
	if got, want := BinaryName("1.2.3", "x5.0", p), "packer-plugin-jitsi_v1.2.3_x5.0_linux_arm64"; got != want {
		t.Errorf("BinaryName = %q, want %q", got, want)
	}
	if got, want := SumsName("1.2.3"), "packer-plugin-jitsi_v1.2.3_SHA256SUMS"; got != want {
		t.Errorf("SumsName = %q, want %q", got, want)
	}
	for _, v := range []string{"0.2.0", "1.10.0", "10.0.1"} {
		if err := CheckVersion(v); err != nil {
			t.Errorf("CheckVersion(%q): %v", v, err)
		}
	}
	for _, v := range []string{"", "v1.2.3", "1.2", "1.2.3-dev", "1.02.3", "1.2.3+meta", "1.2.3 "} {
		if err := CheckVersion(v); err == nil {
			t.Errorf("CheckVersion(%q) = nil, want an error", v)
		}
	}
	if _, err := ParsePlatform("linux/arm64"); err != nil {
		t.Error(err)
	}
	if _, err := ParsePlatform("darwin/arm64"); err == nil || !strings.Contains(err.Error(), "linux/amd64 or linux/arm64") {
		t.Errorf("ParsePlatform(darwin/arm64): %v", err)
	}
}

// TestZipDeterministic: the same binary gives the same zip bytes, one entry
// named as Packer looks it up, mode 0755, the fixed time; ExtractBinary
// gives the binary back.
func TestZipDeterministic(t *testing.T) {
	data := bytes.Repeat([]byte("\x7fELF not really, but compressible "), 4096)
	name := BinaryName("1.2.3", "x5.0", Platform{"linux", "amd64"})
	var a, b bytes.Buffer
	if err := WriteZip(&a, name, data, Epoch); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a zip writer taking the clock would differ now
	if err := WriteZip(&b, name, data, Epoch); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two zips of the same binary differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(a.Bytes()), int64(a.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 {
		t.Fatalf("zip holds %d entries, want 1", len(zr.File))
	}
	f := zr.File[0]
	if f.Name != name || f.Mode() != 0o755 || !f.Modified.Equal(Epoch) || f.Method != zip.Deflate {
		t.Errorf("entry %q mode %v modified %v method %d", f.Name, f.Mode(), f.Modified, f.Method)
	}
	if a.Len() >= len(data)/10 {
		t.Errorf("zip is %d bytes for %d compressible bytes: not deflated", a.Len(), len(data))
	}

	dir := t.TempDir()
	zipPath := filepath.Join(dir, name+".zip")
	if err := os.WriteFile(zipPath, a.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	bin, err := ExtractBinary(zipPath, name, out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(bin)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("extracted binary differs (err %v)", err)
	}
	if fi, _ := os.Stat(bin); fi.Mode().Perm() != 0o755 {
		t.Errorf("extracted binary mode %v", fi.Mode())
	}
	if _, err := ExtractBinary(zipPath, BinaryName("1.2.4", "x5.0", Platform{"linux", "amd64"}), out); err == nil ||
		!strings.Contains(err.Error(), "no such entry") {
		t.Errorf("ExtractBinary of a missing entry: %v", err)
	}
}

func TestSumsFormatAndParse(t *testing.T) {
	sums := []Sum{
		{SHA256: strings.Repeat("b", 64), File: "packer-plugin-jitsi_v1.2.3_x5.0_linux_arm64.zip"},
		{SHA256: strings.Repeat("a", 64), File: "packer-plugin-jitsi_v1.2.3_x5.0_linux_amd64.zip"},
	}
	text := string(FormatSums(sums))
	want := strings.Repeat("a", 64) + "  packer-plugin-jitsi_v1.2.3_x5.0_linux_amd64.zip\n" +
		strings.Repeat("b", 64) + "  packer-plugin-jitsi_v1.2.3_x5.0_linux_arm64.zip\n"
	if text != want {
		t.Fatalf("FormatSums:\n%s\nwant\n%s", text, want)
	}
	parsed, err := ParseSums([]byte(text))
	if err != nil || len(parsed) != 2 || parsed[0].File != sums[1].File {
		t.Fatalf("ParseSums = %v, %v", parsed, err)
	}
	// Every bad line is reported, and a missing final newline (Packer's
	// getter would drop that line).
	bad := "xyz  a.zip\n" + strings.Repeat("a", 64) + "  ../a.zip\n" + strings.Repeat("a", 64) + "  one two\n" +
		strings.Repeat("c", 64) + "  b.zip\n" + strings.Repeat("c", 64) + "  b.zip"
	_, err = ParseSums([]byte(bad))
	if err == nil {
		t.Fatal("ParseSums accepted bad lines")
	}
	for _, w := range []string{"line 1:", "line 2:", "line 3:", "line 5: b.zip is listed twice", "does not end in a newline"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("ParseSums error lacks %q:\n%v", w, err)
		}
	}
	if _, err := ParseSums(nil); err == nil {
		t.Error("ParseSums(empty) = nil error")
	}
}

// TestVerifySums: a release directory passes; a changed zip, a listed file
// that is missing and an unlisted zip are all reported.
func TestVerifySums(t *testing.T) {
	dir := t.TempDir()
	var sums []Sum
	for _, arch := range []string{"amd64", "arm64"} {
		p := Platform{"linux", arch}
		var b bytes.Buffer
		if err := WriteZip(&b, BinaryName("1.2.3", "x5.0", p), []byte("binary for "+arch), Epoch); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, ZipName("1.2.3", "x5.0", p))
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		sum, err := SumFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, Sum{SHA256: sum, File: filepath.Base(path)})
	}
	sumsPath := filepath.Join(dir, SumsName("1.2.3"))
	if err := os.WriteFile(sumsPath, FormatSums(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := VerifySums(sumsPath); err != nil || len(got) != 2 {
		t.Fatalf("VerifySums = %v, %v", got, err)
	}

	amd64 := filepath.Join(dir, sums[0].File)
	data, _ := os.ReadFile(amd64)
	data[len(data)/2] ^= 1
	if err := os.WriteFile(amd64, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, sums[1].File)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "packer-plugin-jitsi_v1.2.3_x5.0_linux_riscv64.zip"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := VerifySums(sumsPath)
	if err == nil {
		t.Fatal("VerifySums passed a changed, a missing and an unlisted zip")
	}
	for _, w := range []string{
		sums[0].File + ": sha256 ",
		sums[1].File + ": no such file",
		"linux_riscv64.zip: not listed",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("VerifySums error lacks %q:\n%v", w, err)
		}
	}
}
