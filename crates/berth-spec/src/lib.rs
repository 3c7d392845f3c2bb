//! berth.yaml
