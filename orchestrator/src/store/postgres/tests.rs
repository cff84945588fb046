//! The PgStore against a real PostgreSQL (deckle_test_support::postgres): the
//! shared conformance suite, the schema's versioning, and fenced leadership.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::store::conformance;
use deckle_test_support::postgres;

fn open(url: &str) -> PgStore {
    PgStore::open(url, Arc::default()).unwrap()
}

fn me(id: &str) -> Candidate {
    Candidate { id: id.into(), url: format!("http://{id}.invalid") }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_the_state_store_contract() {
    let url = postgres::database();
    conformance::semantics(&open(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_what_was_flushed_across_reopen() {
    let url = postgres::database();
    conformance::durability(|| Arc::new(open(&url)) as Arc<dyn StateStore>).await;
}

#[tokio::test]
async fn a_current_thread_runtime_can_read_and_flush() {
    // Reads block on the store's own runtime: they must not need the caller's.
    let url = postgres::database();
    let s = open(&url);
    s.put_run(&conformance::run("r1")).unwrap();
    s.flush().await.unwrap();
    assert_eq!(open(&url).get_run("r1").unwrap().unwrap().id, "r1");
}

#[test]
fn a_newer_schema_is_refused_with_both_versions_named() {
    let url = postgres::database();
    assert_eq!(open(&url).schema_version().unwrap(), migrate::latest());
    postgres::psql(&url, &format!("INSERT INTO deckle_schema VALUES ({})", migrate::latest() + 1)).unwrap();
    let e = PgStore::open(&url, Arc::default()).unwrap_err().to_string();
    assert!(e.contains(&format!("version {}", migrate::latest() + 1)) && e.contains(&format!("up to {}", migrate::latest())), "{e}");
}

#[test]
fn migrating_twice_changes_nothing() {
    let url = postgres::database();
    drop(open(&url));
    drop(open(&url));
    assert_eq!(postgres::psql(&url, "SELECT count(*) FROM deckle_schema").unwrap(), migrate::MIGRATIONS.len().to_string());
}

#[test]
fn an_unreachable_database_names_the_url_masked_and_the_cause() {
    // The tests' cluster trusts every loopback login, so a wrong password is
    // accepted there: an unreachable port stands in for the refusal.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = PgStore::open(&format!("postgres://u:s3cret@127.0.0.1:{port}/db"), Arc::default()).unwrap_err().to_string();
    assert!(e.contains(&format!("postgres://u:***@127.0.0.1:{port}/db")), "{e}");
    assert!(!e.contains("s3cret"), "the password leaked: {e}");
    assert!(e.to_lowercase().contains("refused") || e.contains("connect"), "no cause: {e}");
}

#[test]
fn a_wrong_password_is_refused_with_the_url_masked() {
    // A cluster of its own: logins on a server named by DECKLE_TEST_POSTGRES are
    // not the tests' to set up.
    let c = postgres::Cluster::start();
    let url = c.create_database();
    postgres::psql(&url, "DO $$ BEGIN CREATE ROLE deckle_pw LOGIN PASSWORD 'right'; EXCEPTION WHEN duplicate_object THEN NULL; END $$").unwrap();
    let db = url.rsplit('/').next().unwrap();
    let ok = PgStore::open(&format!("postgres://deckle_pw:right@127.0.0.1:{}/{db}", c.port()), Arc::default());
    assert!(ok.is_err_and(|e| e.to_string().contains("permission denied")), "the right password logs in (then may not create tables)");
    let e = PgStore::open(&format!("postgres://deckle_pw:wrong@127.0.0.1:{}/{db}", c.port()), Arc::default()).unwrap_err().to_string();
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(e.contains(&format!("postgres://deckle_pw:***@127.0.0.1:{}/{db}", c.port())) && !e.contains("wrong"), "{e}");
}

#[test]
fn passwords_are_masked_in_every_url_form() {
    assert_eq!(mask_password("postgres://u:p@h:5432/db"), "postgres://u:***@h:5432/db");
    assert_eq!(mask_password("postgresql://u@h/db"), "postgresql://u@h/db");
    assert_eq!(mask_password("postgres://u@h/db?password=p&sslmode=disable"), "postgres://u@h/db?password=***&sslmode=disable");
    assert_eq!(mask_password("host=h user=u password=p dbname=d"), "host=h user=u password=*** dbname=d");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_candidate_leads_and_the_other_waits_for_its_term_to_end() {
    let url = postgres::database();
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    let (a, b) = (open(&url).with_clock(clock.clone()), open(&url).with_clock(clock.clone()));
    let ttl = Duration::from_secs(5);
    let ea = a.campaign(&me("a"), ttl).await.unwrap().expect("a leads");
    assert_eq!(b.campaign(&me("b"), ttl).await.unwrap(), None, "b must wait");
    assert_eq!(b.fence(), Fence::Standby);
    // Renewing keeps the term.
    clock.advance(Duration::from_secs(4));
    assert_eq!(a.campaign(&me("a"), ttl).await.unwrap(), Some(ea));
    clock.advance(Duration::from_secs(4));
    assert_eq!(b.campaign(&me("b"), ttl).await.unwrap(), None, "a renewed 4 s ago");
    let info = b.leader().await.unwrap().unwrap();
    assert_eq!((info.id.as_str(), info.url.as_str(), info.epoch), ("a", "http://a.invalid", ea));
    // a stops renewing: once its term ends, b takes over in a later epoch.
    clock.advance(Duration::from_secs(2));
    let eb = b.campaign(&me("b"), ttl).await.unwrap().expect("b takes over");
    assert!(eb > ea, "epochs only rise: {ea} then {eb}");
    assert_eq!(a.campaign(&me("a"), ttl).await.unwrap(), None, "a lost its term");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ex_leader_cannot_commit_after_a_takeover() {
    let url = postgres::database();
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    let (a, b) = (open(&url).with_clock(clock.clone()), open(&url).with_clock(clock.clone()));
    let ttl = Duration::from_secs(5);
    a.campaign(&me("a"), ttl).await.unwrap().unwrap();
    a.put_run(&conformance::run("before")).unwrap();
    a.flush().await.unwrap();
    // a pauses past its term (it still believes it leads); b takes over.
    clock.advance(Duration::from_secs(6));
    b.campaign(&me("b"), ttl).await.unwrap().unwrap();
    a.put_run(&conformance::run("after")).unwrap();
    let e = a.flush().await.unwrap_err();
    assert!(matches!(e, Error::Fenced(_)), "{e}");
    assert_eq!(a.fence(), Fence::Standby, "a fenced store stops writing");
    let fresh = open(&url);
    assert!(fresh.get_run("before").unwrap().is_some());
    assert!(fresh.get_run("after").unwrap().is_none(), "the ex-leader's write landed");
    // The new leader's writes land.
    b.put_run(&conformance::run("by-b")).unwrap();
    b.flush().await.unwrap();
    assert!(fresh.get_run("by-b").unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_never_writes() {
    let url = postgres::database();
    let s = open(&url);
    s.set_fence(Fence::Standby);
    s.put_run(&conformance::run("r")).unwrap();
    assert!(matches!(s.flush().await, Err(Error::Fenced(_))));
    assert!(open(&url).get_run("r").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resigning_hands_over_without_waiting_for_the_term() {
    let url = postgres::database();
    let (a, b) = (open(&url), open(&url));
    let ttl = Duration::from_secs(60);
    a.campaign(&me("a"), ttl).await.unwrap().unwrap();
    assert_eq!(b.campaign(&me("b"), ttl).await.unwrap(), None);
    a.resign(&me("a")).await.unwrap();
    assert!(b.campaign(&me("b"), ttl).await.unwrap().is_some(), "b leads at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_pending_during_a_database_restart_land_after_it() {
    let cluster = Arc::new(postgres::Cluster::start());
    let url = cluster.create_database();
    let s = Arc::new(open(&url).with_retry_for(Duration::from_secs(60)));
    s.put_run(&conformance::run("early")).unwrap();
    s.flush().await.unwrap();
    cluster.stop();
    s.put_run(&conformance::run("during")).unwrap();
    assert!(s.get_run("during").unwrap().is_some(), "reads see pending writes");
    let flushing = tokio::spawn({
        let s = s.clone();
        async move { s.flush().await }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!flushing.is_finished(), "the flush must wait for the database, not fail");
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.resume()).await.unwrap();
    flushing.await.unwrap().unwrap();
    let fresh = open(&url);
    assert!(fresh.get_run("early").unwrap().is_some() && fresh.get_run("during").unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_is_replaced() {
    let url = postgres::database();
    let s = open(&url);
    s.put_run(&conformance::run("a")).unwrap();
    s.flush().await.unwrap();
    postgres::shared().terminate_connections(&url);
    s.put_run(&conformance::run("b")).unwrap();
    s.flush().await.unwrap();
    assert!(open(&url).get_run("b").unwrap().is_some());
}

#[test]
fn a_database_at_an_older_schema_is_migrated_forward_keeping_its_runs() {
    let url = postgres::database();
    // The database as the first schema left it, with a run in flight and one done.
    postgres::psql(&url, migrate::MIGRATIONS[0].1).unwrap();
    postgres::psql(&url, "CREATE TABLE deckle_schema (version int NOT NULL); INSERT INTO deckle_schema VALUES (1)").unwrap();
    for (id, status) in [("old-running", "running"), ("old-done", "succeeded")] {
        let mut r = conformance::run(id);
        r.status = if status == "running" { deckle_protocol::record::RunStatus::Running } else { deckle_protocol::record::RunStatus::Succeeded };
        let body = String::from_utf8(crate::store::encode(&r).unwrap()).unwrap().replace('\'', "''");
        postgres::psql(&url, &format!("INSERT INTO deckle_runs (id, workflow, status, date, body) VALUES ('{id}', 'w', '{status}', '2026-01-01', '{body}')")).unwrap();
    }
    let s = open(&url);
    assert_eq!(s.schema_version().unwrap(), migrate::latest());
    let open_ids: Vec<String> = s.open_runs().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(open_ids, ["old-running"], "the migration marked which runs are open");
    assert_eq!(s.run_page(&crate::store::RunQuery::newest(10)).unwrap().len(), 2, "no run lost");
}

#[test]
fn a_nul_in_a_lookup_finds_nothing_instead_of_failing() {
    // Query strings reach the store as they came (`?workflow=%00`); PostgreSQL
    // text cannot hold a NUL, so nothing matches.
    let s = open(&postgres::database());
    assert!(s.get_run("a\0b").unwrap().is_none());
    assert!(s.nodes("a\0b").unwrap().is_empty());
    let q = crate::store::RunQuery { before: Some("\0".into()), ..crate::store::RunQuery::of_workflow("w\0", 10) };
    assert!(s.run_page(&q).unwrap().is_empty());
    assert!(s.doc_page(DocKind::Backfill, Some("b\0"), 10).unwrap().is_empty());
}
