package vm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// writeSeed writes the NoCloud seed ISO (volume label cidata) of cfg.
func writeSeed(cfg Config) (string, error) {
	dir := filepath.Join(cfg.Dir, "seed")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create seed folder: %w", err)
	}
	meta, err := yaml.Marshal(map[string]string{"instance-id": cfg.InstanceID, "local-hostname": cfg.Hostname})
	if err != nil {
		return "", fmt.Errorf("meta-data: %w", err)
	}
	files := []string{"user-data", "meta-data"}
	contents := map[string][]byte{"user-data": cfg.UserData, "meta-data": meta}
	if len(cfg.VendorData) > 0 {
		files = append(files, "vendor-data")
		contents["vendor-data"] = cfg.VendorData
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), contents[f], 0o600); err != nil {
			return "", fmt.Errorf("write seed %s: %w", f, err)
		}
	}
	iso := filepath.Join(cfg.Dir, "seed.iso")
	args := append([]string{"-quiet", "-V", "cidata", "-J", "-r", "-o", iso}, files...)
	cmd := exec.Command("genisoimage", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make NoCloud seed with genisoimage (Debian package genisoimage): %v: %s", err, out)
	}
	return iso, nil
}
