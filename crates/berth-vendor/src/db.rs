//! The vendor server's database: SQLite in the data directory by default, PostgreSQL when a
//! URL is given. One set of `$1` queries serves both (sqlx's `Any` driver).

use crate::schema::MIGRATIONS;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::path::Path;

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("database error while {op}: {source}")]
pub struct DbError {
    pub op: String,
    #[source]
    pub source: sqlx::Error,
}

/// Whether an error is a unique-key conflict (the row exists already).
pub fn is_conflict(e: &DbError) -> bool {
    match &e.source {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.code()
                    .is_some_and(|c| c == "23505" || c == "1555" || c == "2067")
        }
        _ => false,
    }
}

/// Result of a database step.
pub type DbResult<T> = Result<T, DbError>;

/// Attach what was being done to a sqlx error.
pub fn ctx<T>(op: &str, r: Result<T, sqlx::Error>) -> DbResult<T> {
    r.map_err(|source| DbError {
        op: op.to_string(),
        source,
    })
}

/// A pool over either engine.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    /// Which engine ("sqlite" or "postgres").
    pub engine: &'static str,
}

impl Db {
    /// Connect: `url` when given (postgres://…), else SQLite at `data_dir/vendor.db`.
    pub async fn connect(url: Option<&str>, data_dir: &Path) -> DbResult<Db> {
        sqlx::any::install_default_drivers();
        // PostgreSQL sessions cost a process fork and a SCRAM exchange each: a few are kept
        // open from the start, so a burst of requests after start (or after connections
        // expired) does not wait for many new sessions at once.
        let (url, engine, max, min) = match url {
            Some(u) => (u.to_string(), "postgres", 16, 4),
            None => (
                format!("sqlite://{}?mode=rwc", data_dir.join("vendor.db").display()),
                "sqlite",
                8,
                0,
            ),
        };
        let pool = ctx(
            "connecting",
            AnyPoolOptions::new()
                .max_connections(max)
                .min_connections(min)
                .acquire_timeout(std::time::Duration::from_secs(5))
                .connect(&url)
                .await,
        )?;
        let db = Db { pool, engine };
        if engine == "sqlite" {
            // WAL lets readers run beside the writer; busy_timeout waits instead of failing.
            db.exec("PRAGMA journal_mode=WAL", &[]).await?;
        }
        Ok(db)
    }

    /// The pool, for transactions.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Run every migration not applied yet. Safe when several servers start at once: a
    /// migration that loses the race is retried after re-reading what is applied.
    pub async fn migrate(&self) -> DbResult<()> {
        self.exec(
            "CREATE TABLE IF NOT EXISTS berth_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            &[],
        )
        .await
        .or_else(|e| if is_conflict(&e) { Ok(0) } else { Err(e) })?;
        for attempt in 0..5 {
            match self.migrate_once().await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 4 => {
                    tracing::debug!("migration raced another server, retrying: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * (attempt + 1))).await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn migrate_once(&self) -> DbResult<()> {
        let applied: Vec<i64> = ctx(
            "reading the schema version",
            sqlx::query("SELECT version FROM berth_schema")
                .fetch_all(&self.pool)
                .await,
        )?
        .iter()
        .filter_map(|r| r.try_get::<i64, _>(0).ok())
        .collect();
        for (version, statements) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            let mut tx = ctx("starting a migration", self.pool.begin().await)?;
            for s in *statements {
                ctx(
                    &format!("migration {version}"),
                    sqlx::query(sqlx::AssertSqlSafe(*s)).execute(&mut *tx).await,
                )?;
            }
            ctx(
                "recording a migration",
                sqlx::query("INSERT INTO berth_schema (version, applied_at) VALUES ($1, $2)")
                    .bind(*version)
                    .bind(now_ms())
                    .execute(&mut *tx)
                    .await,
            )?;
            ctx("committing a migration", tx.commit().await)?;
        }
        Ok(())
    }

    /// Execute a statement with text/integer parameters; returns rows affected.
    pub async fn exec(&self, sql: &str, params: &[Param<'_>]) -> DbResult<u64> {
        let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
        Ok(ctx(sql, q.execute(&self.pool).await)?.rows_affected())
    }

    /// Fetch rows.
    pub async fn rows(&self, sql: &str, params: &[Param<'_>]) -> DbResult<Vec<AnyRow>> {
        let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
        ctx(sql, q.fetch_all(&self.pool).await)
    }

    /// Fetch at most one row.
    pub async fn row(&self, sql: &str, params: &[Param<'_>]) -> DbResult<Option<AnyRow>> {
        let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
        ctx(sql, q.fetch_optional(&self.pool).await)
    }
}

/// A query parameter.
#[derive(Debug, Clone)]
pub enum Param<'a> {
    Text(&'a str),
    Int(i64),
    OptText(Option<&'a str>),
    OptInt(Option<i64>),
}

/// Bind parameters in order.
pub fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    params: &[Param<'q>],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for p in params {
        q = match p {
            Param::Text(s) => q.bind(*s),
            Param::Int(i) => q.bind(*i),
            Param::OptText(s) => q.bind(*s),
            Param::OptInt(i) => q.bind(*i),
        };
    }
    q
}

/// Read a text column.
pub fn text(r: &AnyRow, col: &str) -> String {
    r.try_get::<String, _>(col).unwrap_or_default()
}

/// Read an optional text column.
pub fn opt_text(r: &AnyRow, col: &str) -> Option<String> {
    r.try_get::<Option<String>, _>(col).ok().flatten()
}

/// Read an integer column.
pub fn int(r: &AnyRow, col: &str) -> i64 {
    r.try_get::<i64, _>(col).unwrap_or_default()
}

/// Read an optional integer column.
pub fn opt_int(r: &AnyRow, col: &str) -> Option<i64> {
    r.try_get::<Option<i64>, _>(col).ok().flatten()
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Unix milliseconds as RFC 3339.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ms.to_string())
}
