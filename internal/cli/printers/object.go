package printers

import (
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// Output formats for -o.
const (
	FormatTable = ""
	FormatWide  = "wide"
	FormatJSON  = "json"
	FormatYAML  = "yaml"
)

// Formats are the values -o accepts, for completion.
func Formats(allowWide bool) []string {
	if allowWide {
		return []string{FormatJSON, FormatYAML, FormatWide}
	}
	return []string{FormatJSON, FormatYAML}
}

// ValidateFormat checks an -o value; allowWide is false where there is no
// table to widen.
func ValidateFormat(format string, allowWide bool) error {
	switch format {
	case FormatTable, FormatJSON, FormatYAML:
		return nil
	case FormatWide:
		if allowWide {
			return nil
		}
	}
	if allowWide {
		return fmt.Errorf("unknown output format %q: use json, yaml or wide", format)
	}
	return fmt.Errorf("unknown output format %q: use json or yaml", format)
}

// WriteObject prints obj as indented JSON or as YAML.
func WriteObject(w io.Writer, format string, obj any) error {
	b, err := json.MarshalIndent(obj, "", "    ")
	if err != nil {
		return fmt.Errorf("encode as JSON: %w", err)
	}
	if format == FormatYAML {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return fmt.Errorf("encode as YAML: %w", err)
		}
	} else {
		b = append(b, '\n')
	}
	_, err = w.Write(b)
	return err
}
