// Package proptest holds property-based tests of the module's state machines; it is a module of its own so that the core module depends on nothing outside the standard library.
package proptest
