package cli

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

var imagesCommand = &command{
	name:    "images",
	summary: "list the role images Packer recorded in the registry",
	run:     runImages,
}

const imagesHelp = `Usage: packer-plugin-jitsi images [--role ROLE] [--os OS] [--sort built|role|os] [--json]

Lists the images the jitsi-registry post-processor recorded when Packer
baked them: artifact id, role, OS, build time and the Jitsi package versions
they hold, oldest build first (--sort role or os groups them, newest last).
--os matches the OS as recorded ("debian-12", "ubuntu-22.04"; "debian 12"
is read the same) or its distribution ("ubuntu").

Images are few (one per bake), so the registry sends them at once; the
output is printed as it is read, like nodes'.

Examples:
  packer-plugin-jitsi images
  packer-plugin-jitsi images --role jvb --os debian-12
  packer-plugin-jitsi images --json --registry https://registry.example.org:8443 --token-file operator.token

Flags:
`

func runImages(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "images", imagesHelp)
	var st storeFlags
	st.register(fs)
	role := fs.String("role", "", "only images of this role: jms or jvb")
	osName := fs.String("os", "", `only images of this OS ("debian-12") or distribution ("ubuntu")`)
	order := fs.String("sort", "built", "order: built, role or os (then build time)")
	asJSON := fs.Bool("json", false, "print JSON (an array of images) instead of a table")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	key := map[string]func(regapi.Image) string{
		"built": func(regapi.Image) string { return "" },
		"role":  func(i regapi.Image) string { return i.Role },
		"os":    func(i regapi.Image) string { return i.OS },
	}[*order]
	if key == nil {
		return usageErrorf("--sort %q: use built, role or os", *order)
	}
	store, err := st.open(ctx, env)
	if err != nil {
		return err
	}
	defer store.Close()
	imgs, err := store.Images(ctx)
	if err != nil {
		return registryError(err)
	}
	// The post-processor records ID-VERSION_ID.
	wantOS := strings.ReplaceAll(*osName, " ", "-")
	var rows []any
	for _, img := range imgs {
		if (*role == "" || img.Role == *role) && (wantOS == "" || img.OS == wantOS || strings.HasPrefix(img.OS, wantOS+"-")) {
			rows = append(rows, img)
		}
	}
	// Stable: build time stays the order within a group.
	sort.SliceStable(rows, func(i, j int) bool { return key(rows[i].(regapi.Image)) < key(rows[j].(regapi.Image)) })
	var out listWriter = newTable(env.Stdout, []string{"ARTIFACT", "ROLE", "OS", "BUILT", "VERSIONS"}, imageCells)
	if *asJSON {
		out = newJSONArray(env.Stdout)
	}
	if err := out.page(rows); err != nil {
		return err
	}
	return out.close()
}

func imageCells(row any) []string {
	img := row.(regapi.Image)
	var versions []string
	for _, p := range jitsi.RepoPackages {
		if v, ok := img.Versions[p]; ok {
			versions = append(versions, p+"="+v)
		}
	}
	for p, v := range img.Versions {
		if !jitsi.IsRepoPackage(p) {
			versions = append(versions, p+"="+v)
		}
	}
	sort.Strings(versions[min(len(versions), countRepo(img)):])
	return []string{img.ArtifactID, img.Role, img.OS, img.Built.UTC().Format(time.RFC3339), orDash(strings.Join(versions, " "))}
}

func countRepo(img regapi.Image) int {
	n := 0
	for p := range img.Versions {
		if jitsi.IsRepoPackage(p) {
			n++
		}
	}
	return n
}
