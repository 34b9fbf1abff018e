// Package testdata holds golden files and fixtures shared by the tests of
// other packages (rewrite/*.sql and *.golden). It contains no code. Fuzz seed
// corpora live beside their fuzz targets, in each package's testdata/fuzz/,
// where go test finds them.
package testdata
