package regapi

import (
	"context"
	"fmt"
	"net/http"
)

// Confirm implements Store.
func (c *Client) Confirm(ctx context.Context, ids ...int64) ([]Node, error) {
	var out NodesPage
	if err := c.do(ctx, http.MethodPost, "/v1/confirm", nil, IDsBody{IDs: ids}, &out); err != nil {
		return nil, fmt.Errorf("confirm nodes: %w", err)
	}
	return out.Nodes, nil
}

// RecordGroup implements Store.
func (c *Client) RecordGroup(ctx context.Context, req GroupRequest) (Group, error) {
	var g Group
	if err := c.do(ctx, http.MethodPost, "/v1/groups", nil, req, &g); err != nil {
		return Group{}, fmt.Errorf("record group: %w", err)
	}
	return g, nil
}

// Groups implements Store.
func (c *Client) Groups(ctx context.Context) ([]Group, error) {
	var out GroupsBody
	if err := c.do(ctx, http.MethodGet, "/v1/groups", nil, nil, &out); err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return out.Groups, nil
}

// RetireGroup implements Store.
func (c *Client) RetireGroup(ctx context.Context, name string) (Group, error) {
	var g Group
	if err := c.do(ctx, http.MethodPost, "/v1/groups/retire", nil, GroupNameBody{Name: name}, &g); err != nil {
		return Group{}, fmt.Errorf("retire group: %w", err)
	}
	return g, nil
}

// RevokeGroupTokens implements Store.
func (c *Client) RevokeGroupTokens(ctx context.Context, name string, keepNewest bool) (int, error) {
	var out RevokedBody
	if err := c.do(ctx, http.MethodPost, "/v1/groups/revoke", nil, RevokeBody{Name: name, KeepNewest: keepNewest}, &out); err != nil {
		return 0, fmt.Errorf("revoke group tokens: %w", err)
	}
	return out.Revoked, nil
}
