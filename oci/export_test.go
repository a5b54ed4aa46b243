package oci

// Manifest is manifest for the external tests (the manifest bytes are an
// implementation detail of Push, not API).
var Manifest = manifest
