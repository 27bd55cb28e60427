package packages

// The artifacts of a function package. Both are OCI image manifests pushed
// untagged, addressed by digest only, with tar+gzip layers titled by the
// directory they unpack into.
const (
	// ArtifactTypeSource is a package as its author pushed it: a LayerCode
	// layer (the folder) and, when the folder has a RequirementsFile, a
	// LayerRequirements layer holding only that file, whose digest keys
	// the dependency build.
	ArtifactTypeSource = "application/vnd.minifaas.package.source.v1"
	// ArtifactTypeBuilt is what runners load: the source's LayerCode blob
	// and, when it has requirements, a LayerDeps layer of what they
	// installed.
	ArtifactTypeBuilt = "application/vnd.minifaas.package.v1"

	LayerCode         = "code"
	LayerRequirements = "requirements"
	LayerDeps         = "deps"

	// RequirementsFile is the name, at the folder's top, of the pip
	// requirements.
	RequirementsFile = "requirements.txt"
)

// Repository is the repository, under a registry, of the packages of the
// function name in namespace: faas/<namespace>/<name>. Both are DNS labels,
// so the result is a valid repository name.
func Repository(namespace, name string) string {
	return "faas/" + namespace + "/" + name
}
