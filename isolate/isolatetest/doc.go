// Package isolatetest gives tests of the packages above isolate (migrate,
// migrate/check) the machine isolate works on, built in a temp folder.
package isolatetest
