package tollgate

/*
#include <tollgate.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Error is every failure this package returns: a Tollgate status (docs/errors.md) with its
// stable name and number, the HTTP status that goes with it, and a message for logs (never key
// material). Read it with errors.As; compare it with a sentinel (ErrExpired, …) with errors.Is.
type Error struct {
	// Code is the stable snake_case name: "expired", "invalid_signature", "invalid_policy", …
	Code string
	// Number is the stable number (below 2000: Tollgate's codes; 2000 and above: the C ABI's own).
	Number uint32
	// HTTPStatus is the HTTP status that goes with the code (401 for "expired", 500 for the ABI's
	// own codes).
	HTTPStatus int
	// Message says what went wrong, naming the place (a kid, the times compared, a policy path)
	// when the library knows it.
	Message string
}

// Error implements error: "tollgate: <code>: <message>".
func (e *Error) Error() string {
	if e.Message == "" {
		return "tollgate: " + e.Code
	}
	return "tollgate: " + e.Code + ": " + e.Message
}

// Is reports whether target is a *Error with the same Number, so that
// errors.Is(err, tollgate.ErrExpired) holds for any expired-token error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Number == e.Number
}

// ErrorName is the stable name of a status or reason number ("expired"), "unknown" for a number
// no status has.
func ErrorName(number uint32) string {
	return C.GoString(C.tg_error_name(C.uint32_t(number)))
}

// ErrorMessage is the one-line description of a status number ("token has expired").
func ErrorMessage(number uint32) string {
	return C.GoString(C.tg_error_message(C.uint32_t(number)))
}

// ErrorHTTPStatus is the HTTP status that goes with a status number (0 for an unknown number).
func ErrorHTTPStatus(number uint32) int {
	return int(C.tg_error_http_status(C.uint32_t(number)))
}

func sentinel(number uint32, code string) *Error {
	return &Error{Code: code, Number: number, HTTPStatus: ErrorHTTPStatus(number),
		Message: ErrorMessage(number)}
}

// newError makes the *Error for a failed call, taking (and freeing) the library's message when
// it wrote one.
func newError(st C.tg_status, message *C.char) *Error {
	n := uint32(st)
	e := &Error{Code: ErrorName(n), Number: n, HTTPStatus: ErrorHTTPStatus(n)}
	if message != nil {
		e.Message = C.GoString(message)
		C.tg_string_free(message)
	} else {
		e.Message = ErrorMessage(n)
	}
	return e
}

// errClosed is returned by calls on a handle after Close.
func errClosed(what string) *Error {
	n := uint32(C.TG_STATUS_NULL_PARAMETER)
	return &Error{Code: ErrorName(n), Number: n, HTTPStatus: ErrorHTTPStatus(n),
		Message: fmt.Sprintf("the %s is closed", what)}
}

// goString copies a borrowed (pointer, length) string out of C memory; "" for NULL.
func goString(p *C.char, n C.size_t) string {
	if p == nil {
		return ""
	}
	return C.GoStringN(p, C.int(n))
}

// goBytes copies borrowed bytes out of C memory; nil for NULL.
func goBytes(p unsafe.Pointer, n C.size_t) []byte {
	if p == nil {
		return nil
	}
	return C.GoBytes(p, C.int(n))
}

// errorWith is sentinel s with a message of this package's own (a Go-side failure).
func errorWith(s *Error, message string) *Error {
	return &Error{Code: s.Code, Number: s.Number, HTTPStatus: s.HTTPStatus, Message: message}
}
