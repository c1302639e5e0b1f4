package httpapi

import (
	"net/http"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// Operator endpoints for pending nodes and groups.

func (s *Server) confirm(w http.ResponseWriter, r *http.Request, _ caller) (any, error) {
	var body regapi.IDsBody
	if err := s.decode(w, r, &body); err != nil {
		return nil, err
	}
	nodes, err := s.store.Confirm(r.Context(), body.IDs...)
	if err != nil {
		return nil, err
	}
	return regapi.NodesPage{Nodes: nodes}, nil
}

func (s *Server) recordGroup(w http.ResponseWriter, r *http.Request, _ caller) (any, error) {
	var req regapi.GroupRequest
	if err := s.decode(w, r, &req); err != nil {
		return nil, err
	}
	return s.store.RecordGroup(r.Context(), req)
}

func (s *Server) groups(_ http.ResponseWriter, r *http.Request, _ caller) (any, error) {
	gs, err := s.store.Groups(r.Context())
	if gs == nil {
		gs = []regapi.Group{}
	}
	return regapi.GroupsBody{Groups: gs}, err
}

func (s *Server) retireGroup(w http.ResponseWriter, r *http.Request, _ caller) (any, error) {
	var body regapi.GroupNameBody
	if err := s.decode(w, r, &body); err != nil {
		return nil, err
	}
	return s.store.RetireGroup(r.Context(), body.Name)
}

func (s *Server) revokeGroupTokens(w http.ResponseWriter, r *http.Request, _ caller) (any, error) {
	var body regapi.RevokeBody
	if err := s.decode(w, r, &body); err != nil {
		return nil, err
	}
	n, err := s.store.RevokeGroupTokens(r.Context(), body.Name, body.KeepNewest)
	if err != nil {
		return nil, err
	}
	return regapi.RevokedBody{Revoked: n}, nil
}
