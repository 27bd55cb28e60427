package packagebuild_test

import (
	"errors"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/packages"
)

func TestShapeCheck(t *testing.T) {
	manifest := func(artifactType string, titles ...string) ocispec.Manifest {
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: artifactType}
		for _, title := range titles {
			m.Layers = append(m.Layers, ocispec.Descriptor{Annotations: map[string]string{ocispec.AnnotationTitle: title}})
		}
		return m
	}
	built, source := packagebuild.BuiltShape(), packagebuild.SourceShape()
	tests := []struct {
		name  string
		shape packagebuild.Shape
		m     ocispec.Manifest
		ok    bool
	}{
		{"built code", built, manifest(packages.ArtifactTypeBuilt, "code"), true},
		{"built code deps", built, manifest(packages.ArtifactTypeBuilt, "code", "deps"), true},
		{"built deps code", built, manifest(packages.ArtifactTypeBuilt, "deps", "code"), true},
		{"built without code", built, manifest(packages.ArtifactTypeBuilt, "deps"), false},
		{"built with requirements", built, manifest(packages.ArtifactTypeBuilt, "code", "requirements"), false},
		{"built with an extra layer", built, manifest(packages.ArtifactTypeBuilt, "code", "deps", "more"), false},
		{"built twice code", built, manifest(packages.ArtifactTypeBuilt, "code", "code"), false},
		{"source as built", built, manifest(packages.ArtifactTypeSource, "code"), false},
		{"source", source, manifest(packages.ArtifactTypeSource, "code", "requirements"), true},
		{"source with deps", source, manifest(packages.ArtifactTypeSource, "code", "deps"), false},
		{"no type", source, manifest("", "code"), false},
		{"index", source, ocispec.Manifest{MediaType: ocispec.MediaTypeImageIndex, ArtifactType: packages.ArtifactTypeSource}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.shape.Check(tc.m)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, packages.ErrInvalidArtifact)) {
				t.Errorf("Check = %v, want ok=%v (or ErrInvalidArtifact)", err, tc.ok)
			}
		})
	}
}
