// Package rest sends the JSON requests of customerkey's Go clients (the
// service SDK in client, the vault's management client in vaultclient)
// and turns their answers into values or errors, in one place: bearer
// token, body encoding, fail-over to other servers when one is not
// reachable, a bounded read of the answer, and an error built from a
// non-2xx answer by the caller's decoder. Standard library only.
package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// MaxAnswer bounds what is read of an answer.
const MaxAnswer = 64 << 20

// Client sends requests to one server, or to the first of several that
// answers.
type Client struct {
	HTTP *http.Client
	// Bases are the servers' base URLs (scheme, host, port), tried in
	// order: the next one only when the request certainly did not reach
	// the previous (connection refused), or was idempotent and lost its
	// connection.
	Bases []string
	Token string // sent as a bearer token, if not empty
	// Problem makes the error of a non-2xx answer from its status and body.
	Problem func(status int, body []byte) error
	// Unreachable makes the error when no server answered, from the first
	// base and the last transport error.
	Unreachable func(base string, err error) error
}

// Body is what a request sends: JSON or raw bytes with their content type.
type Body struct {
	ContentType string
	Data        []byte
}

// JSON encodes v as a request body; nil gives no body.
func JSON(v any) (*Body, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &Body{ContentType: "application/json", Data: b}, nil
}

// Path joins segments into a path, each escaped as one segment:
// Path("v1", "tenants", "a/b") is "/v1/tenants/a%2Fb".
func Path(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// Send sends method path (which may carry a query) with body, and returns
// the answer's body when its status is 2xx; otherwise the error Problem
// makes of it.
func (c *Client) Send(ctx context.Context, method, path string, body *Body) ([]byte, error) {
	var resp *http.Response
	var err error
	for _, base := range c.Bases {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body.Data)
		}
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, rd)
		if err != nil {
			return nil, err
		}
		if body != nil && body.ContentType != "" {
			req.Header.Set("Content-Type", body.ContentType)
		}
		if c.Token != "" {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
		resp, err = c.HTTP.Do(req)
		if err == nil || !retryElsewhere(err, method) || ctx.Err() != nil {
			break
		}
	}
	if len(c.Bases) == 0 {
		err = errors.New("no server URL")
	}
	if err != nil {
		first := ""
		if len(c.Bases) > 0 {
			first = c.Bases[0]
		}
		if c.Unreachable != nil && ctx.Err() == nil {
			return nil, c.Unreachable(first, err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		if c.Problem != nil {
			return nil, c.Problem(resp.StatusCode, data)
		}
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	return data, nil
}

// Do sends in as JSON (none if nil) and decodes the JSON answer into out
// (if not nil; a *json.RawMessage gets the answer as it came).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	body, err := JSON(in)
	if err != nil {
		return err
	}
	data, err := c.Send(ctx, method, path, body)
	if err != nil {
		return err
	}
	return Decode(data, out)
}

// Decode decodes a JSON answer into out: nothing if out is nil or the
// answer empty; a *json.RawMessage gets the bytes as they are.
func Decode(data []byte, out any) error {
	if out == nil || len(data) == 0 {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	return json.Unmarshal(data, out)
}

// retryElsewhere reports whether a request certainly did not reach the
// server (connection refused), or may be sent again elsewhere because it
// is idempotent and its connection dropped.
func retryElsewhere(err error, method string) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	idempotent := method == http.MethodGet || method == http.MethodPut || method == http.MethodDelete
	return idempotent && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET))
}
