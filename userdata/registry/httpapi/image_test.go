package httpapi

import (
	"strconv"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// TestAPINodesAreLinkedToTheirImage: the post-processor records an image
// with the build id of its stamp; a group member sends that build id with
// its claim, an issued node with its report; both nodes are then linked to
// the image (Image.Names), whichever id they carry. A node's report cannot
// set another node's image, and a bad image id is refused.
func TestAPINodesAreLinkedToTheirImage(t *testing.T) {
	s := startAPI(t, Config{}, false)
	ctx := testCtx(t, 60*time.Second)
	op := s.client(t, opToken)
	const buildID = "b-20261129t080000z-0123456789abcdef"
	img, err := op.RecordImage(ctx, regapi.Image{ArtifactID: "eu-west-1:ami-0abc", Role: "jvb", OS: "debian-12",
		Versions: map[string]string{"jitsi-videobridge2": "2.3-174-g1"}, Built: time.Now(), BuildID: buildID, Arch: "amd64", AgentVersion: "0.3.0"})
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := op.Images(ctx)
	if err != nil || len(imgs) != 1 || imgs[0].BuildID != buildID || imgs[0].Arch != "amd64" || imgs[0].AgentVersion != "0.3.0" {
		t.Fatalf("images over the API: %+v, %v", imgs, err)
	}

	res, err := s.client(t, s.group(t, "edge", 5)).ClaimInGroup(ctx, regapi.GroupClaim{InstanceID: "i-1", ClaimKey: claimKey("i-1"), ImageID: buildID})
	if err != nil || res.Node.ImageID != buildID || !img.Names(res.Node.ImageID) {
		t.Fatalf("group claim with the stamp: %+v, %v", res.Node, err)
	}

	// An issued node, recorded without an image (or with another), reports its stamp.
	issuedCred, issuedHash := regapi.NewCredential(regapi.CredentialNode)
	issued, err := op.Claim(ctx, regapi.ClaimRequest{Shard: shard, Role: "jvb", Nickname: "jvb-100", ImageID: "ami-wrong", CredentialHash: issuedHash})
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.client(t, issuedCred).SendReport(ctx, regapi.Report{State: regapi.StateActive, ImageID: buildID})
	if err != nil || n.ImageID != buildID || n.State != regapi.StateActive {
		t.Fatalf("report with the stamp: %+v, %v", n, err)
	}
	// The same report again changes nothing; a report without an image keeps it.
	if n, err := s.client(t, issuedCred).SendReport(ctx, regapi.Report{State: regapi.StateActive}); err != nil || n.ImageID != buildID {
		t.Errorf("report without image: %+v, %v", n, err)
	}
	all, err := op.Nodes(ctx, regapi.Filter{})
	if err != nil || len(all) != 2 {
		t.Fatal(all, err)
	}
	for _, n := range all {
		if !img.Names(n.ImageID) {
			t.Errorf("node %s: image_id %q is not linked to the image", n.Nickname, n.ImageID)
		}
	}
	// A node names only itself; a bad id is refused naming the field.
	status, _, e := s.raw(t, "POST", "/v1/state", issuedCred, `{"id": `+itoa(res.Node.ID)+`, "state": "active", "image_id": "ami-evil"}`)
	if status != 403 {
		t.Errorf("a node set another node's image: status %d %+v", status, e)
	}
	status, _, e = s.raw(t, "POST", "/v1/state", issuedCred, `{"state": "active", "image_id": "has space"}`)
	if status != 400 || e == nil || e.Code != regapi.CodeInvalid {
		t.Errorf("bad image id: status %d %+v", status, e)
	}
	if after, _ := op.Nodes(ctx, regapi.Filter{}); after[0].ImageID != buildID || after[1].ImageID != buildID || issued[0].ImageID != "ami-wrong" {
		t.Errorf("images after refused reports: %+v", after)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
