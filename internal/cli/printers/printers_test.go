package printers

import (
	"bytes"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTable(t *testing.T) {
	tab := &Table{Header: []string{"NAME", "STATUS"}}
	var b bytes.Buffer
	if err := tab.Write(&b); err != nil || b.Len() != 0 {
		t.Errorf("an empty table printed %q, %v", b.String(), err)
	}
	tab.Append("hello", "Available")
	tab.Append("a-much-longer-name", "ScaledToZero")
	if err := tab.WriteIndented(&b, "  "); err != nil {
		t.Fatal(err)
	}
	want := "  NAME                 STATUS\n  hello                Available\n  a-much-longer-name   ScaledToZero\n"
	if b.String() != want {
		t.Errorf("got:\n%q\nwant:\n%q", b.String(), want)
	}
}

func TestAge(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for d, want := range map[time.Duration]string{5 * time.Second: "5s", 90 * time.Second: "90s", 3 * time.Hour: "3h", 50 * time.Hour: "2d2h"} {
		if got := Age(metav1.NewTime(now.Add(-d)), now); got != want {
			t.Errorf("Age(%s) = %q, want %q", d, got, want)
		}
	}
	if got := Age(metav1.Time{}, now); got != "<unknown>" {
		t.Errorf("Age(zero) = %q", got)
	}
}

func TestWriteObject(t *testing.T) {
	obj := map[string]any{"kind": "Function", "spec": map[string]any{"code": "x"}}
	var j, y bytes.Buffer
	if err := WriteObject(&j, FormatJSON, obj); err != nil {
		t.Fatal(err)
	}
	if err := WriteObject(&y, FormatYAML, obj); err != nil {
		t.Fatal(err)
	}
	if j.String() != "{\n    \"kind\": \"Function\",\n    \"spec\": {\n        \"code\": \"x\"\n    }\n}\n" {
		t.Errorf("json = %q", j.String())
	}
	if y.String() != "kind: Function\nspec:\n  code: x\n" {
		t.Errorf("yaml = %q", y.String())
	}
	for format, wide := range map[string]bool{"": true, "json": false, "yaml": false, "wide": true} {
		if err := ValidateFormat(format, wide); err != nil {
			t.Errorf("ValidateFormat(%q, %v) = %v", format, wide, err)
		}
	}
	if ValidateFormat("wide", false) == nil || ValidateFormat("xml", true) == nil {
		t.Error("a bad format was accepted")
	}
}
