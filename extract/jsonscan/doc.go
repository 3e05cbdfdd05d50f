// Package jsonscan is the JSON scanner of the extractors' hot paths (sign-in and audit pages): it walks a page once,
// hands back sub-slices of the body for the values a table keeps and skips everything else, so a page is decoded
// without reflection and without a copy.
//
// Contracts:
//   - A Scanner only reads its body; the slices it returns point into it and live as long as the body does.
//   - Anything the scanner does not accept is ErrSyntax; callers report it as a malformed page (pages.Bad).
//   - New scans leniently (raw control characters in strings and any nesting are let through, as the sign-in
//     decoder has always done); NewStrict refuses what encoding/json and goccy/go-json refuse as well: control
//     characters in strings and nesting deeper than MaxDepth.
//   - Decode turns a string's raw bytes into its value as encoding/json does (escapes decoded, invalid UTF-8 and
//     lone surrogates replaced by U+FFFD); Unescape decodes the escapes only.
package jsonscan
