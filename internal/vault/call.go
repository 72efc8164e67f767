package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// call is one request in flight: who made it, what it is about, and how it
// ended, for the response and the operation log.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	region *Region
	start  time.Time

	admin     bool
	directory bool // the workload token: reads the directory, mints the service's applications' tokens
	claims    *Claims
	principal string
	tenant    string

	op, vault, key, version string
	status                  int
	code                    string
}

// apiError is an error answered in Azure's JSON shape.
type apiError struct {
	Status  int
	Code    string
	Inner   string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func badParam(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "BadParameter", Message: fmt.Sprintf(format, args...)}
}

// notSupported refuses an Azure Key Vault operation or option this vault
// does not implement: 400 BadParameter, as Azure answers a request a vault
// cannot serve, with innererror NotSupported so clients can tell it from
// bad input.
func notSupported(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "BadParameter", Inner: "NotSupported", Message: fmt.Sprintf(format, args...)}
}

func notFound(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}

func forbidden(inner, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "Forbidden", Inner: inner, Message: fmt.Sprintf(format, args...)}
}

func conflict(inner, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusConflict, Code: "Conflict", Inner: inner, Message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	InnerError *innerError `json:"innererror,omitempty"`
}

type innerError struct {
	Code string `json:"code"`
}

// fail answers err. Errors other than *apiError are internal: they are
// logged and the client sees a generic 500 that leaks nothing.
func (c *call) fail(err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		c.s.cfg.Logger.Error("vault: internal error", "op", c.op, "vault", c.vault, "key", c.key, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: "The vault hit an internal error; the operation was not completed. See the vault server log."}
	}
	body := errorBody{Error: errorDetail{Code: ae.Code, Message: ae.Message}}
	if ae.Inner != "" {
		body.Error.InnerError = &innerError{Code: ae.Inner}
		c.code = ae.Inner
	} else {
		c.code = ae.Code
	}
	c.reply(ae.Status, body)
}

func (c *call) reply(status int, v any) {
	c.status = status
	if v == nil {
		c.w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		c.s.cfg.Logger.Error("vault: encode response", "op", c.op, "err", err)
		c.w.WriteHeader(http.StatusInternalServerError)
		c.status = http.StatusInternalServerError
		return
	}
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(status)
	c.w.Write(b)
}

// decode reads a JSON body into v. An empty body is an error unless
// optional is set.
func (c *call) decode(v any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return badParam("request body is larger than the limit of %d bytes", maxBody)
		}
		return badParam("could not read request body: %v", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return nil
		}
		return badParam("request body is required (JSON)")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badParam("request body: field %q must be a JSON %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return badParam("request body is not valid JSON: %v", err)
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	}
	return "number"
}

// finish records the call in the operation log (SPEC V11) and the server log.
func (c *call) finish() {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	ip, _, _ := net.SplitHostPort(c.r.RemoteAddr)
	principal := c.principal
	if principal == "" {
		principal = "anonymous"
	}
	op := store.Op{Time: c.s.now(), Principal: principal, Tenant: c.tenant, Operation: c.op, Vault: c.vault,
		Key: c.key, Version: c.version, Status: c.status, Code: c.code, ClientIP: ip}
	c.s.ops.add(op)
	c.s.cfg.Logger.Debug("vault request", "region", c.region.Name, "method", c.r.Method, "path", c.r.URL.Path,
		"op", c.op, "vault", c.vault, "key", c.key, "principal", principal, "status", c.status, "code", c.code,
		"duration", time.Since(c.start))
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
