package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// ExportRequest selects a signed tenant export (POST /exports). Since and
// Until are RFC 3339 times on received_at ("" means unbounded).
type ExportRequest struct {
	Tenant string
	Since  string
	Until  string
}

// ExportInfo is the server's answer to POST /exports.
type ExportInfo struct {
	ID             string `json:"id"`
	Href           string `json:"href"`
	Bytes          int64  `json:"bytes"`
	Entries        uint64 `json:"entries"`
	CheckpointSize uint64 `json:"checkpoint_size"`
}

// CreateExport asks the server to write an export bundle and returns where
// it is. The server answers when the bundle is complete, which for a large
// tenant takes a while: bound it with ctx, not with a client timeout.
func (c *Client) CreateExport(ctx context.Context, r ExportRequest) (ExportInfo, error) {
	body := map[string]any{"tenant": r.Tenant}
	for k, v := range map[string]string{"since": r.Since, "until": r.Until} {
		if v != "" {
			body[k] = v
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return ExportInfo{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(nil, "exports"), bytes.NewReader(b))
	if err != nil {
		return ExportInfo{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.do(req, "export", http.StatusCreated)
	if err != nil {
		return ExportInfo{}, err
	}
	defer resp.Body.Close()
	var info ExportInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxVerifyBytes)).Decode(&info); err != nil {
		if isConnBroken(err) {
			return ExportInfo{}, &ConnError{Op: "export", URL: c.BaseURL(), Err: err}
		}
		return ExportInfo{}, fmt.Errorf("export: malformed response: %w", err)
	}
	if info.ID == "" {
		return ExportInfo{}, fmt.Errorf("export: the server named no export")
	}
	return info, nil
}

// OpenExport starts the download of export id (GET /exports/{id}) and
// returns its body and size (-1 when the server did not say). The caller
// closes the body; a read error while copying it means the connection
// broke (retry the download, the bundle stays on the server).
func (c *Client) OpenExport(ctx context.Context, id string) (io.ReadCloser, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(nil, "exports", id), nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.do(req, "export download", http.StatusOK)
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}
