//! Preflight checks and support bundles: reads troubleshoot.sh/v1beta2 specs, runs host and cluster collectors concurrently, redacts secrets, and analyses the results.
