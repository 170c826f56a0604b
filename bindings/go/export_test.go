package tollgate

// AllErrors exposes the sentinel list to the external tests.
var AllErrors = allErrors
