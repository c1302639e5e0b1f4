package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// claimBody is every field POST /v1/claims takes: an operator's claim or
// batch, or a group member's claim (instance_id, claim_key, image_id).
type claimBody struct {
	regapi.ClaimsBody
	ClaimKey string `json:"claim_key,omitempty"`
}

func (s *Server) claim(w http.ResponseWriter, r *http.Request, who caller) (any, error) {
	start := time.Now()
	var body claimBody
	if err := s.decode(w, r, &body); err != nil {
		s.claims.record(who.group(), 0, err, time.Since(start))
		return nil, err
	}
	if who.group() {
		out, err := s.claimInGroup(r, who, body)
		s.claims.record(true, 1, err, time.Since(start))
		return out, err
	}
	out, n, err := s.claimAsOperator(r, body)
	s.claims.record(false, n, err, time.Since(start))
	return out, err
}

// claimAsOperator serves an operator's claim or batch; n is how many
// identities it claimed.
func (s *Server) claimAsOperator(r *http.Request, body claimBody) (out any, n int, err error) {
	if body.ClaimKey != "" {
		return nil, 0, regapi.Errorf(http.StatusBadRequest, regapi.CodeInvalid, "claim_key: is for a group member's claim, made with its group's token")
	}
	if body.Claims == nil {
		nodes, err := s.store.Claim(r.Context(), body.ClaimRequest)
		if err != nil {
			return nil, 0, err
		}
		return nodes[0], 1, nil
	}
	if body.ClaimRequest != (regapi.ClaimRequest{}) {
		return nil, 0, regapi.Errorf(http.StatusBadRequest, regapi.CodeBadJSON, "request body: give either one claim's fields or \"claims\", not both")
	}
	nodes, err := s.store.Claim(r.Context(), body.Claims...)
	if err != nil {
		return nil, 0, err
	}
	return regapi.NodesPage{Nodes: nodes}, len(nodes), nil
}

// claimInGroup serves a group token's claim: the instance, its claim key
// and image, nothing else. The node's credential is minted here and leaves
// the server only in this answer; the registry records its hash.
func (s *Server) claimInGroup(r *http.Request, who caller, body claimBody) (any, error) {
	q := body.ClaimRequest
	var named []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"claims", body.Claims != nil}, {"claim_id", q.ClaimID != ""}, {"shard", q.Shard != ""}, {"role", q.Role != ""},
		{"nickname", q.Nickname != ""}, {"secret_fingerprint", q.SecretFingerprint != ""}, {"new_secret", q.NewSecret},
		{"credential_hash", q.CredentialHash != ""}, {"pending", q.Pending},
	} {
		if f.set {
			named = append(named, f.name)
		}
	}
	if len(named) > 0 {
		return nil, regapi.Errorf(http.StatusForbidden, regapi.CodeForbidden,
			"%s: a group token claims one identity in its own group (send instance_id, claim_key and optionally image_id): the shard, role and nickname come from group %s's record",
			strings.Join(named, ", "), who.p.Group)
	}
	cred, hash := regapi.NewCredential(regapi.CredentialNode)
	n, err := s.store.ClaimInGroup(r.Context(), who.p.GroupID, regapi.GroupClaim{InstanceID: q.InstanceID, ClaimKey: body.ClaimKey, ImageID: q.ImageID}, hash)
	if err != nil {
		return nil, err
	}
	return regapi.ClaimResult{Node: n, Credential: cred}, nil
}
