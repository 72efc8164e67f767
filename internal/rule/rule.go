// Package rule is the vocabulary of the service's domain errors. Every
// refusal names the rule that was broken (an ID from the specification,
// such as D1.TwoVaults), says how to fix it, and has a kind: the kind says
// what sort of failure it is (the request is invalid, the thing does not
// exist, the tenant's keys refused...), and the API alone turns kinds into
// HTTP statuses (internal/api, one function).
//
//	if len(uris) != 2 {
//		return rule.Invalid(client.RuleDEPTwoKeys, "give exactly two key URIs", "a DEP needs two customer keys, %d given", len(uris))
//	}
//
// Domain packages return *Error for what a caller did or can fix, and plain
// wrapped errors for what went wrong inside (a store that failed), which
// the API reports as internal without their text.
package rule

import (
	"errors"
	"fmt"
)

// Kind is the sort of failure a domain error reports.
type Kind uint8

const (
	// KindInternal: something failed inside the service; the caller can
	// only retry or tell the operator.
	KindInternal Kind = iota
	// KindInvalid: the request breaks a rule; the fix says how to change it.
	KindInvalid
	// KindUnauthenticated: no caller could be established.
	KindUnauthenticated
	// KindRefused: the caller may not do this, or a tenant's key refused.
	KindRefused
	// KindNotFound: what the request names does not exist (for this caller).
	KindNotFound
	// KindConflict: the request clashes with the current state.
	KindConflict
	// KindGone: it existed and was destroyed for good (purged).
	KindGone
	// KindUnavailable: something the service depends on cannot be
	// reached now; retrying later may succeed.
	KindUnavailable
	// KindTooLarge: the request's content is over the limit.
	KindTooLarge
	// KindRange: a byte range the content cannot satisfy.
	KindRange
	// KindBusy: the caller has as much work under way as it may; it
	// retries once some of it is done.
	KindBusy
)

var kindNames = [...]string{"internal", "invalid", "unauthenticated", "refused", "not found", "conflict", "gone", "unavailable", "too large", "range not satisfiable", "busy"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is a domain error: the rule broken, its kind, what happened and
// how to fix it. Detail never holds key material or content.
type Error struct {
	Rule   string // e.g. D1.TwoVaults; shared with the client as constants
	Kind   Kind
	Detail string // what happened, for this request
	Fix    string // what to do about it
	// Err is the condition behind it, if callers inside the service
	// branch on it (store.ErrNotFound, say); never shown to clients.
	Err error
}

func (e *Error) Error() string { return e.Detail }

// Unwrap returns the condition behind the error.
func (e *Error) Unwrap() error { return e.Err }

// Because records the condition behind e and returns e.
func (e *Error) Because(err error) *Error {
	e.Err = err
	return e
}

// New makes an Error.
func New(kind Kind, id, fix, format string, args ...any) *Error {
	return &Error{Rule: id, Kind: kind, Fix: fix, Detail: fmt.Sprintf(format, args...)}
}

// Invalid reports a request that breaks rule id.
func Invalid(id, fix, format string, args ...any) *Error {
	return New(KindInvalid, id, fix, format, args...)
}

// Refused reports a caller or key that may not do this.
func Refused(id, fix, format string, args ...any) *Error {
	return New(KindRefused, id, fix, format, args...)
}

// NotFound reports something the request names that does not exist.
func NotFound(id, fix, format string, args ...any) *Error {
	return New(KindNotFound, id, fix, format, args...)
}

// Conflict reports a request that clashes with the current state.
func Conflict(id, fix, format string, args ...any) *Error {
	return New(KindConflict, id, fix, format, args...)
}

// Gone reports something destroyed for good.
func Gone(id, fix, format string, args ...any) *Error {
	return New(KindGone, id, fix, format, args...)
}

// Unavailable reports a dependency that cannot be reached now.
func Unavailable(id, fix, format string, args ...any) *Error {
	return New(KindUnavailable, id, fix, format, args...)
}

// Internal reports a failure inside the service that the caller should
// hear about with a rule (an integrity check that failed, say).
func Internal(id, fix, format string, args ...any) *Error {
	return New(KindInternal, id, fix, format, args...)
}

// Unauthenticated reports a request without a usable credential.
func Unauthenticated(id, fix, format string, args ...any) *Error {
	return New(KindUnauthenticated, id, fix, format, args...)
}

// Is reports whether err is a domain error of kind k.
func Is(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// As returns err's domain error, if it is one.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
