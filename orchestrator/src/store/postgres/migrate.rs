//! The PostgreSQL schema, as versioned, forward-only migrations applied at start.
//! Each runs once, in order, in one transaction with the version it brings; servers
//! starting at once take an advisory lock so one migrates and the others see it
//! done. A database migrated by a newer Deckle is refused: its tables may hold what
//! this binary would misread.

use tokio_postgres::Client;

use crate::error::{Error, Result};

/// `(version, SQL)`, oldest first. Never edit one that shipped: add the next.
pub(super) const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    r#"
    CREATE TABLE deckle_runs (
        id text COLLATE "C" PRIMARY KEY,
        workflow text COLLATE "C" NOT NULL,
        status text NOT NULL,
        date text COLLATE "C" NOT NULL,
        body json NOT NULL
    );
    CREATE INDEX deckle_runs_by_workflow ON deckle_runs (workflow, id);
    CREATE INDEX deckle_runs_by_status ON deckle_runs (status, id);
    CREATE INDEX deckle_runs_by_date ON deckle_runs (date, id);
    CREATE TABLE deckle_nodes (
        run_id text COLLATE "C" NOT NULL,
        node text COLLATE "C" NOT NULL,
        idx bigint NOT NULL,
        body json NOT NULL,
        PRIMARY KEY (run_id, node, idx)
    );
    CREATE TABLE deckle_leases (id text COLLATE "C" PRIMARY KEY, body json NOT NULL);
    CREATE TABLE deckle_workflows (id text COLLATE "C" PRIMARY KEY, body json NOT NULL);
    CREATE TABLE deckle_docs (
        kind text NOT NULL,
        key text COLLATE "C" NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE TABLE deckle_leader (
        id int PRIMARY KEY CHECK (id = 1),
        epoch bigint NOT NULL,
        holder text,
        url text,
        expires_at timestamptz
    );
    INSERT INTO deckle_leader (id, epoch) VALUES (1, 0);
    "#,
), (
    2,
    // The runs the coordinator works on (not finished, or a hook to call), so
    // resuming and planning read those and not the history.
    r#"
    ALTER TABLE deckle_runs ADD COLUMN open boolean NOT NULL DEFAULT true;
    UPDATE deckle_runs SET open = (status IN ('queued', 'running') OR COALESCE(body->>'hooks_pending' = 'true', false));
    CREATE INDEX deckle_runs_open ON deckle_runs (id) WHERE open;
    "#,
)];

/// The newest schema this binary knows.
pub(super) fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Bring the database to [`latest`], or refuse a newer one.
pub(super) async fn migrate(client: &mut Client) -> Result<i32> {
    let db = |e: tokio_postgres::Error| Error::Store(format!("migrating the schema: {}", crate::error::causes(&e)));
    let tx = client.transaction().await.map_err(db)?;
    // Any constant: serialises servers migrating one database at once.
    tx.execute("SELECT pg_advisory_xact_lock(7226140215)", &[]).await.map_err(db)?;
    tx.execute("CREATE TABLE IF NOT EXISTS deckle_schema (version int NOT NULL)", &[]).await.map_err(db)?;
    let have: i32 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM deckle_schema", &[]).await.map_err(db)?.get(0);
    if have > latest() {
        return Err(Error::Store(format!(
            "the database's schema is version {have}, newer than this deckle knows (up to {}): it was migrated by a newer deckle; run that version, or a newer one",
            latest()
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > have) {
        tx.batch_execute(sql).await.map_err(db)?;
        tx.execute("INSERT INTO deckle_schema (version) VALUES ($1)", &[version]).await.map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(latest())
}
