//! Coordinators sharing state on a real PostgreSQL (`deckle server --state`): one
//! leads, the others stand by and forward; killing the leader mid-run hands the run
//! to a standby without running anything twice or losing a notebook; a database
//! that goes away and comes back loses nothing.

use std::time::{Duration, Instant};

use deckle_test_support::postgres;
use serde_json::{json, Value};

use crate::cluster::{node, Server, Worker};
use crate::harness::{deckle, tmp};

fn attempts(detail: &Value, key: &str) -> Vec<Value> {
    node(detail, key)["attempts"].as_array().cloned().unwrap_or_default()
}

/// Poll `server`'s health until its role is `role`; how long that took.
fn wait_role(server: &Server, role: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if server.coordinator()["role"] == role {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{} not {role} within {within:?}: {}\n{}", server.url, server.coordinator(), server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_standby_takes_over_a_run_when_the_leader_is_killed_and_nothing_runs_twice() {
    let dir = tmp();
    let data = dir.path().join("data");
    let db = postgres::database();
    let mut a = Server::start(&data, &["--state", &db]);
    wait_role(&a, "leader", Duration::from_secs(30));
    let b = Server::start_beside(&data, 1, &["--state", &db]);
    wait_role(&b, "standby", Duration::from_secs(30));
    assert_eq!(b.coordinator()["leader_url"], a.url.as_str(), "the standby names the leader");
    // Writes sent to the standby are forwarded: registered and triggered through b.
    b.register("long.yaml");
    b.register("one.yaml");
    let urls = format!("{},{}", a.url, b.url);
    let _w1 = Worker::start_at(&a, &urls, "w1", &["--slots", "1"], &[]);
    let _w2 = Worker::start_at(&a, &urls, "w2", &["--slots", "1"], &[]);
    let run = b.trigger("long", json!({"secs": "12"}));
    let before = b.wait_until(&run, Duration::from_secs(90), "the long node running", |d| node(d, "long")["status"] == "running");
    let epoch = a.coordinator()["epoch"].as_i64().unwrap();
    a.kill9();
    let killed = Instant::now();
    let killed_at = jiff::Timestamp::now();
    // A write through the CLI while no coordinator leads: it waits out the
    // election (503 no_leader) and lands once the standby leads.
    let o = deckle().args(["trigger", "one", "--server", &urls, "--json"]).env_remove("DECKLE_TOKEN").output().unwrap();
    assert!(o.status.success(), "the CLI failed during the takeover: {}", String::from_utf8_lossy(&o.stderr));
    let second: Value = serde_json::from_slice(&o.stdout).unwrap();
    let second = second["id"].as_str().unwrap().to_string();
    // The CLI, given both servers, keeps answering through the takeover.
    let o = deckle().args(["status", &run, "--server", &urls, "--json"]).env_remove("DECKLE_TOKEN").output().unwrap();
    assert!(o.status.success(), "the CLI failed during the takeover: {}", String::from_utf8_lossy(&o.stderr));
    wait_role(&b, "leader", Duration::from_secs(60));
    let took = killed.elapsed();
    eprintln!("takeover: the standby led {:.1} s after the leader was killed", took.as_secs_f64());
    assert!(b.coordinator()["epoch"].as_i64().unwrap() > epoch, "a takeover raises the epoch");
    assert!(took < Duration::from_secs(20), "took {took:?} to take over (term 5 s)");
    // The new leader's first lease: the run triggered during the takeover starts.
    let started = b.wait_until(&second, Duration::from_secs(60), "the run triggered during the takeover started", |d| node(d, "only")["attempts"][0]["started_at"].is_string());
    let granted: jiff::Timestamp = node(&started, "only")["attempts"][0]["started_at"].as_str().unwrap().parse().unwrap();
    let grant_secs = granted.duration_since(killed_at).as_secs_f64();
    eprintln!("takeover: first lease granted {grant_secs:.1} s after the leader was killed");
    assert!(grant_secs < 20.0, "first grant {grant_secs:.1} s after the kill");
    assert_eq!(b.wait_finished(&second, Duration::from_secs(60))["run"]["status"], "succeeded");
    let detail = b.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}\n{}", b.log());
    assert_eq!(node(&detail, "first")["outputs"], node(&before, "first")["outputs"]);
    for n in ["first", "long", "last"] {
        let att = attempts(&detail, n);
        assert_eq!(att.len(), 1, "{n} ran once: {detail:#}");
        let (status, _) = b.client().get(&format!("/api/v1/runs/{run}/nodes/{n}/attempts/1/notebook"));
        assert_eq!(status, 200, "{n}'s notebook is kept");
    }
    assert_eq!(node(&detail, "last")["outputs"]["done"], "long", "the adopted node's output flowed on");
    assert!(b.log().contains("resumed 1 run"), "{}", b.log());
}

#[test]
fn two_servers_started_at_once_elect_exactly_one_leader() {
    let dir = tmp();
    let data = dir.path().join("data");
    let db = postgres::database();
    let (a, b) = std::thread::scope(|s| {
        // A long term: a handover within it can only come from a resignation.
        let a = s.spawn(|| Server::start(&data, &["--state", &db, "--leader-term", "30"]));
        let b = s.spawn(|| Server::start_beside(&data, 1, &["--state", &db, "--leader-term", "30"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let roles = loop {
        let roles = [a.coordinator(), b.coordinator()];
        if roles.iter().any(|r| r["role"] == "leader") && roles.iter().all(|r| r["leader_url"].is_string()) {
            break roles;
        }
        assert!(Instant::now() < deadline, "no leader: {roles:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let leaders = roles.iter().filter(|r| r["role"] == "leader").count();
    assert_eq!(leaders, 1, "{roles:?}");
    let leader = if roles[0]["role"] == "leader" { &a } else { &b };
    assert!(roles.iter().all(|r| r["leader_url"] == leader.url.as_str()), "both name the same leader: {roles:?}");
    // The standby forwards a write rather than act on it: the workflow is registered once.
    let standby = if roles[0]["role"] == "leader" { &b } else { &a };
    standby.register("one.yaml");
    let (status, list) = leader.client().get("/api/v1/workflows");
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // Every page says who leads.
    let page = reqwest::blocking::get(format!("{}/", standby.url)).unwrap().text().unwrap();
    assert!(page.contains(&format!("the leader</a> is {}", leader.url)), "{page}");
    let page = reqwest::blocking::get(format!("{}/", leader.url)).unwrap().text().unwrap();
    assert!(page.contains("this coordinator leads (epoch"), "{page}");
    let m = reqwest::blocking::get(format!("{}/metrics", leader.url)).unwrap().text().unwrap();
    assert!(m.contains("deckle_coordinator_leader 1"), "{m}");
    let m = reqwest::blocking::get(format!("{}/metrics", standby.url)).unwrap().text().unwrap();
    assert!(m.contains("deckle_coordinator_leader 0"), "{m}");
    // A clean stop hands over at once: the standby need not wait out the term.
    let leader_is_a = roles[0]["role"] == "leader";
    let (mut leader, standby) = if leader_is_a { (a, b) } else { (b, a) };
    assert_eq!(leader.terminate(Duration::from_secs(20)), Some(0), "a leader stops cleanly on SIGTERM");
    let took = wait_role(&standby, "leader", Duration::from_secs(30));
    eprintln!("handover after SIGTERM: {:.1} s", took.as_secs_f64());
    assert!(took < Duration::from_secs(20), "the standby waited {took:?}: the leader did not resign (term 30 s)");
}

#[test]
fn a_bad_state_url_exits_3_naming_it_with_the_password_masked() {
    let dir = tmp();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://deckle:hunter2@127.0.0.1:{port}/state");
    let o = deckle().args(["server", "--listen", "127.0.0.1:0", "--data"]).arg(dir.path()).args(["--state", &url]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("postgres://deckle:***@127.0.0.1:{port}/state")), "{err}");
    assert!(!err.contains("hunter2"), "the password leaked: {err}");
    assert!(err.to_lowercase().contains("refused"), "the cause is named: {err}");
    let o = deckle().args(["server", "--listen", "127.0.0.1:0", "--data"]).arg(dir.path()).args(["--state", "postgres://[bad"]).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_leader_that_loses_its_database_steps_down_and_the_run_completes_once_it_is_back() {
    let cluster = postgres::Cluster::start();
    let db = cluster.create_database();
    let dir = tmp();
    let data = dir.path().join("data");
    let a = Server::start(&data, &["--state", &db]);
    wait_role(&a, "leader", Duration::from_secs(30));
    a.register("long.yaml");
    let _w = Worker::start(&a, "w1", &["--slots", "1"]);
    let run = a.trigger("long", json!({"secs": "14"}));
    a.wait_until(&run, Duration::from_secs(90), "the long node running", |d| node(d, "long")["status"] == "running");
    // Longer than a term: the leader cannot renew, steps down and starts over.
    cluster.stop();
    let until = Instant::now() + Duration::from_secs(30);
    while !a.log().contains("stepping down") {
        assert!(Instant::now() < until, "the leader did not step down:\n{}", a.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    cluster.resume();
    wait_role(&a, "leader", Duration::from_secs(60));
    let detail = a.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}\n{}", a.log());
    assert_eq!(attempts(&detail, "long").len(), 1, "the node in flight was not lost: {detail:#}");
    assert_eq!(node(&detail, "last")["outputs"]["done"], "long");
}
