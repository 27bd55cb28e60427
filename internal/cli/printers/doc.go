// Package printers writes what the CLI shows: aligned tables with
// kubectl's look, ages, and objects as JSON or YAML for -o.
//
// It knows no commands and no clients; callers pass rows and objects.
package printers
