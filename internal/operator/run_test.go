package operator

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTrimForCache(t *testing.T) {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:          "fn-hello-code",
			Annotations:   map[string]string{lastAppliedAnnotation: `{"big":"copy"}`, "keep": "me"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "faas-operator"}},
		},
		Data: map[string]string{"handler.py": "code"},
	}
	annotations := cm.Annotations
	out, err := trimForCache(cm)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.ConfigMap)
	if got.ManagedFields != nil {
		t.Errorf("managedFields kept: %v", got.ManagedFields)
	}
	if len(got.Annotations) != 1 || got.Annotations["keep"] != "me" {
		t.Errorf("annotations = %v, want only keep: me", got.Annotations)
	}
	if got.Data["handler.py"] != "code" {
		t.Errorf("data changed: %v", got.Data)
	}
	if _, ok := annotations[lastAppliedAnnotation]; !ok {
		t.Error("the caller's annotation map was changed in place")
	}
	if out, err := trimForCache("not an object"); err != nil || out != "not an object" {
		t.Errorf("trimForCache(non-object) = %v, %v", out, err)
	}
}

func TestValidateRateAndConcurrency(t *testing.T) {
	ok := Config{PythonImage: "p", NodeJSImage: "n", QPS: DefaultQPS, Burst: DefaultBurst,
		FunctionConcurrency: DefaultFunctionConcurrency, PoolConcurrency: DefaultPoolConcurrency}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, mut := range map[string]func(*Config){
		"zero qps":         func(c *Config) { c.QPS = 0 },
		"zero burst":       func(c *Config) { c.Burst = 0 },
		"zero concurrency": func(c *Config) { c.FunctionConcurrency = 0 },
		"zero pool":        func(c *Config) { c.PoolConcurrency = 0 },
	} {
		c := ok
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}
