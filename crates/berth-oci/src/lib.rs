//! OCI images and air-gap bundles: image layouts, the registry client (pull/push), release building, signed bundles with deltas, relocation of image references, and a small registry server.
