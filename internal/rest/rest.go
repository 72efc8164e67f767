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
	// Problem makes the error of a non-2xx answer from its status, headers
	// (e.g. Retry-After) and body.
	Problem func(status int, header http.Header, body []byte) error
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
	var r Request
	if body != nil {
		r.Body, r.Length, r.Replay = bytes.NewReader(body.Data), int64(len(body.Data)), true
		r.Header = http.Header{"Content-Type": {body.ContentType}}
	}
	resp, err := c.Stream(ctx, method, path, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err == nil && len(data) > MaxAnswer {
		return nil, fmt.Errorf("rest: %s %s answered more than %d MiB: read it as a stream", method, path, MaxAnswer>>20)
	}
	return data, err
}

// Request is a streamed request's body and headers.
type Request struct {
	Body   io.Reader // nil: none
	Length int64     // the body's length; -1 if not known
	Header http.Header
	// Replay: Body is an io.Seeker the request may be sent again from
	// (to another server); a stream is sent once, to the first server.
	Replay bool
}

// Stream sends method path with r's body and headers and returns the
// answer, its body unread (the caller closes it), when its status is 2xx;
// otherwise the error Problem makes of it. Neither side is held in memory.
func (c *Client) Stream(ctx context.Context, method, path string, r Request) (*http.Response, error) {
	var resp *http.Response
	var err error
	for i, base := range c.Bases {
		if i > 0 && r.Body != nil {
			s, ok := r.Body.(io.Seeker)
			if !r.Replay || !ok {
				break
			}
			if _, err := s.Seek(0, io.SeekStart); err != nil {
				break
			}
		}
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, r.Body)
		if err != nil {
			return nil, err
		}
		if r.Body != nil && r.Length >= 0 {
			req.ContentLength = r.Length
			if r.Length == 0 {
				req.Body = http.NoBody
			}
		}
		for k, v := range r.Header {
			req.Header[k] = v
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
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
		if err != nil {
			return nil, err
		}
		if c.Problem != nil {
			return nil, c.Problem(resp.StatusCode, resp.Header, data)
		}
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	return resp, nil
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
