package main

import "errors"

// Workers sort every failure into classes:
//
//   - permanent: the job can never succeed (bad data, row not found,
//     constraint violation). It fails at once with the reason.
//   - unavailable: the results store cannot be reached. The job goes back
//     to the queue without spending an attempt, and the pools wait for the
//     store to answer before claiming again.
//   - anything else is transient: retried with backoff until the attempts
//     run out.

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

type unavailableError struct{ err error }

func (e unavailableError) Error() string { return e.err.Error() }
func (e unavailableError) Unwrap() error { return e.err }

// Unavailable marks err as the results store being unreachable.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return unavailableError{err}
}

// IsUnavailable reports whether err, or an error it wraps, was marked Unavailable.
func IsUnavailable(err error) bool {
	var u unavailableError
	return errors.As(err, &u)
}
