// Package defaults holds the one helper behind every Config's "a zero field
// means its documented default".
package defaults

// Or returns v, or def if v is the zero value.
func Or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
