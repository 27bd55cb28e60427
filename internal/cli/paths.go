package cli

// invokePath is a function's path on the gateway, as a user would type
// it: /invoke/<name> in the default namespace, /invoke/<name>.<namespace>
// elsewhere.
func invokePath(name, namespace string) string {
	if namespace == "" || namespace == "default" {
		return "/invoke/" + name
	}
	return "/invoke/" + name + "." + namespace
}

// qualifiedInvokePath always names the namespace, so a call reaches the
// function whatever default namespace the gateway was started with.
func qualifiedInvokePath(name, namespace string) string {
	return "/invoke/" + name + "." + namespace
}

// nsFlag is " -n <namespace>" for a namespace other than default.
func nsFlag(namespace string) string {
	if namespace == "" || namespace == "default" {
		return ""
	}
	return " -n " + namespace
}
