package config

// Unwrap exposes each KeyError, so errors.As(err, &keyErr) finds the first problem
// whether a function returned one KeyError or several.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}
