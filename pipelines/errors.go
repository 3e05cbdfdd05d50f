package pipelines

// invalid marks err as a configuration to fix (errors.Is(err, ErrInvalidConfig)) without adding to its message:
// for the messages that already say what is wrong and what to do.
func invalid(err error) error { return invalidError{err} }

type invalidError struct{ error }

func (e invalidError) Is(target error) bool { return target == ErrInvalidConfig }
func (e invalidError) Unwrap() error        { return e.error }
