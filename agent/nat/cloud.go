package nat

import (
	"os"
	"path/filepath"
	"strings"
)

// Cloud is where the node runs, as far as local facts tell.
type Cloud string

// Clouds Discover knows.
const (
	EC2       Cloud = "ec2"
	GCE       Cloud = "gce"
	Azure     Cloud = "azure"
	OCI       Cloud = "oci"
	OpenStack Cloud = "openstack"
	Unknown   Cloud = "unknown"
)

// DMI facts (the same ds-identify reads) and their marks per cloud.
const (
	dmiDir          = "/sys/class/dmi/id"
	hypervisorUUID  = "/sys/hypervisor/uuid"
	azureAssetTag   = "7783-7084-3265-9085-8269-3286-77"
	oracleAssetTag  = "OracleCloud.com"
	amazonSysVendor = "Amazon EC2"
)

var openStackNames = []string{"OpenStack Nova", "OpenStack Compute"}

var openStackAssetTags = []string{"OpenStack Nova", "OpenStack Compute", "OpenTelekomCloud", "SAP CCloud VM",
	"HUAWEICLOUD", "Samsung Cloud Platform"}

// DetectCloud tells the cloud from the files under root (no network).
func DetectCloud(root string) Cloud {
	read := func(p string) string {
		b, _ := os.ReadFile(filepath.Join(root, p))
		return strings.TrimSpace(string(b))
	}
	dmi := func(name string) string { return read(dmiDir + "/" + name) }
	switch {
	case strings.HasPrefix(strings.ToLower(read(hypervisorUUID)), "ec2"),
		isEC2UUID(dmi("product_uuid")), dmi("sys_vendor") == amazonSysVendor:
		return EC2
	case dmi("product_name") == "Google Compute Engine" || dmi("product_name") == "Google" ||
		strings.HasPrefix(dmi("product_serial"), "GoogleCloud-"):
		return GCE
	case dmi("chassis_asset_tag") == azureAssetTag:
		return Azure
	case dmi("chassis_asset_tag") == oracleAssetTag:
		return OCI
	case contains(openStackNames, dmi("product_name")) || contains(openStackAssetTags, dmi("chassis_asset_tag")):
		return OpenStack
	}
	return Unknown
}

// isEC2UUID: EC2 product UUIDs start with "ec2", or with its byte-swapped
// form on some firmware (the first group is little-endian).
func isEC2UUID(u string) bool {
	u = strings.ToLower(u)
	if strings.HasPrefix(u, "ec2") {
		return true
	}
	return len(u) >= 8 && strings.HasPrefix(u[6:8]+u[4:6]+u[2:4]+u[0:2], "ec2")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s && s != "" {
			return true
		}
	}
	return false
}
