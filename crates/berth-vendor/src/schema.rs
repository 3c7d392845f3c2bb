//! The database schema as ordered migrations, one set for SQLite and PostgreSQL.
//!
//! Portable DDL only: TEXT ids and JSON, BIGINT unix-millisecond times and 0/1 flags, so the
//! same statements and the same `$1` queries run on both engines.

/// (version, statements). Append only: a released migration never changes.
pub const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE IF NOT EXISTS tokens (
            id TEXT PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            scope TEXT NOT NULL,
            name TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            revoked_at BIGINT
        )",
            "CREATE TABLE IF NOT EXISTS signing_keys (
            id TEXT PRIMARY KEY,
            private_pem TEXT NOT NULL,
            public_pem TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            active BIGINT NOT NULL
        )",
            "CREATE TABLE IF NOT EXISTS apps (
            name TEXT PRIMARY KEY,
            created_at BIGINT NOT NULL
        )",
            "CREATE TABLE IF NOT EXISTS channels (
            app TEXT NOT NULL,
            name TEXT NOT NULL,
            keep_minors BIGINT,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (app, name)
        )",
            "CREATE TABLE IF NOT EXISTS releases (
            app TEXT NOT NULL,
            version TEXT NOT NULL,
            index_digest TEXT NOT NULL,
            notes TEXT NOT NULL,
            required BIGINT NOT NULL,
            eol_at BIGINT,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (app, version)
        )",
            "CREATE TABLE IF NOT EXISTS release_blobs (
            app TEXT NOT NULL,
            version TEXT NOT NULL,
            digest TEXT NOT NULL,
            size BIGINT NOT NULL,
            PRIMARY KEY (app, version, digest)
        )",
            "CREATE TABLE IF NOT EXISTS channel_releases (
            app TEXT NOT NULL,
            channel TEXT NOT NULL,
            version TEXT NOT NULL,
            promoted_at BIGINT NOT NULL,
            PRIMARY KEY (app, channel, version)
        )",
            "CREATE TABLE IF NOT EXISTS customers (
            name TEXT PRIMARY KEY,
            app TEXT NOT NULL,
            channels TEXT NOT NULL,
            license_type TEXT NOT NULL,
            expires_at BIGINT,
            airgap BIGINT NOT NULL,
            snapshots BIGINT NOT NULL,
            support_upload BIGINT NOT NULL,
            cluster_id TEXT,
            entitlements TEXT NOT NULL,
            revoked_at BIGINT,
            created_at BIGINT NOT NULL
        )",
            "CREATE TABLE IF NOT EXISTS licenses (
            id TEXT PRIMARY KEY,
            customer TEXT NOT NULL,
            credential_hash TEXT NOT NULL,
            issued_at BIGINT NOT NULL,
            document TEXT NOT NULL
        )",
            "CREATE TABLE IF NOT EXISTS instances (
            id TEXT PRIMARY KEY,
            license_id TEXT NOT NULL,
            customer TEXT NOT NULL,
            app TEXT NOT NULL,
            app_version TEXT NOT NULL,
            kube_version TEXT NOT NULL,
            distribution TEXT NOT NULL,
            ready TEXT NOT NULL,
            berth_version TEXT NOT NULL,
            first_seen BIGINT NOT NULL,
            last_seen BIGINT NOT NULL
        )",
            "CREATE TABLE IF NOT EXISTS audit (
            id TEXT PRIMARY KEY,
            at BIGINT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL
        )",
        ],
    ),
    (
        2,
        &[
            // Support bundles customers sent with their license (the bytes are in the store,
            // under the id); rows are written once the bytes are stored.
            "CREATE TABLE IF NOT EXISTS support_bundles (
            id TEXT PRIMARY KEY,
            customer TEXT NOT NULL,
            app TEXT NOT NULL,
            license_id TEXT NOT NULL,
            name TEXT NOT NULL,
            size BIGINT NOT NULL,
            sha256 TEXT NOT NULL,
            received_at BIGINT NOT NULL
        )",
            "CREATE INDEX IF NOT EXISTS support_bundles_customer ON support_bundles (customer, received_at)",
        ],
    ),
    (
        // The scans of releases (docs/formats/vendor-server.md, "Kept scans"): one row per
        // release index and scanner key (berth-scan's revision + the advisory files).
        3,
        &["CREATE TABLE IF NOT EXISTS release_scans (
            index_digest TEXT NOT NULL,
            scanner TEXT NOT NULL,
            scanned_at BIGINT NOT NULL,
            report TEXT NOT NULL,
            PRIMARY KEY (index_digest, scanner)
        )"],
    ),
];

#[cfg(test)]
mod tests {
    /// Two branches each appending a migration under the same number would leave one of them
    /// never applied (a version already recorded is skipped): numbers must stay unique and
    /// increasing, so a merge that keeps both entries renumbers one.
    #[test]
    fn migration_versions_are_unique_and_increasing() {
        let versions: Vec<i64> = super::MIGRATIONS.iter().map(|(v, _)| *v).collect();
        for w in versions.windows(2) {
            assert!(
                w[0] < w[1],
                "migration {} follows {}: give the later entry the next free number",
                w[1],
                w[0]
            );
        }
    }
}
