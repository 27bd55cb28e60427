package fnspec

import (
	"encoding/json"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// Spec fields that hold a Function's code; exactly one is set.
const (
	FieldCode    = "code"
	FieldPackage = "package"
)

// OtherOwners are the field managers of fn, besides faas's own apply,
// that own spec.<field>, as "manager (operation)". Server-side apply
// removes a field that faas no longer applies only when no one else owns
// it, so a Function once applied by kubectl, or edited, keeps its
// spec.code when faas applies a package, and the API server then refuses
// it for having both.
func OtherOwners(fn *faasv1.Function, field string) []string {
	if fn == nil {
		return nil
	}
	var owners []string
	for _, m := range fn.ManagedFields {
		if (m.Manager == FieldManager && m.Operation == metav1.ManagedFieldsOperationApply) || m.FieldsV1 == nil {
			continue
		}
		var set struct {
			Spec map[string]json.RawMessage `json:"f:spec"`
		}
		if err := json.Unmarshal(m.FieldsV1.Raw, &set); err != nil {
			continue
		}
		if _, ok := set.Spec["f:"+field]; ok {
			owners = append(owners, fmt.Sprintf("%s (%s)", m.Manager, m.Operation))
		}
	}
	sort.Strings(owners)
	return owners
}

// SwitchPatch is a JSON patch of the Function resourceVersion rv that
// replaces the field drop with the code or package of the apply
// configuration u, in one request: the API server refuses a Function with
// both or neither. Deploy sends it before the apply when OtherOwners of
// drop is not empty; the apply that follows sets everything else.
func SwitchPatch(rv string, u *unstructured.Unstructured, drop string) ([]byte, error) {
	keep := FieldPackage
	if drop == FieldPackage {
		keep = FieldCode
	}
	v, ok, err := unstructured.NestedFieldNoCopy(u.Object, "spec", keep)
	if err != nil || !ok {
		return nil, fmt.Errorf("the Function to apply has no spec.%s", keep)
	}
	return json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": rv},
		{"op": "remove", "path": "/spec/" + drop},
		{"op": "add", "path": "/spec/" + keep, "value": v},
	})
}
