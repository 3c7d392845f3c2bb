//! Kubernetes API simulator: an HTTP server that real kubectl, the kube crate and Helm accept as a cluster, with simulated controllers, cluster profiles and fault injection.
