//! Trigger rules: what a node does once every upstream node has settled.
//!
//! | rule | runs when | otherwise |
//! |---|---|---|
//! | `all_success` | every upstream succeeded | `upstream_failed` if any failed/upstream_failed/cancelled, else `skipped` |
//! | `all_done` | always | — |
//! | `one_success` | at least one upstream succeeded | `upstream_failed` if any failed…, else `skipped` |
//! | `none_failed` | no upstream failed (skips are fine) | `upstream_failed` |
//!
//! So the join after a branch (`publish` or `alert` ran, the other was skipped) runs
//! with `one_success` or `none_failed` and is skipped with `all_success` — the
//! Airflow semantics users know, minus the surprise: a rule is applied only once all
//! upstream nodes have settled, never on a partial picture.

use deckle_dsl::TriggerRule;

use crate::record::NodeStatus;
/// What a node does once its upstream has (or has not) settled.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Some upstream has not settled yet.
    Wait,
    /// Run it.
    Run,
    /// Skip it (its rule does not fire).
    Skip,
    /// It cannot run: something it needs failed.
    UpstreamFailed,
}

fn is_failure(s: NodeStatus) -> bool {
    matches!(s, NodeStatus::Failed | NodeStatus::UpstreamFailed | NodeStatus::Cancelled)
}

/// Apply `rule` to the statuses of a node's upstream nodes.
pub fn decide(rule: TriggerRule, upstream: &[NodeStatus]) -> Decision {
    if upstream.iter().any(|s| !s.is_terminal()) {
        return Decision::Wait;
    }
    let any_failed = upstream.iter().any(|&s| is_failure(s));
    let all_ok = upstream.iter().all(|&s| s == NodeStatus::Succeeded);
    let any_ok = upstream.contains(&NodeStatus::Succeeded);
    match rule {
        TriggerRule::AllDone => Decision::Run,
        TriggerRule::AllSuccess if all_ok => Decision::Run,
        TriggerRule::OneSuccess if any_ok || upstream.is_empty() => Decision::Run,
        TriggerRule::NoneFailed if !any_failed => Decision::Run,
        TriggerRule::NoneFailed => Decision::UpstreamFailed,
        _ if any_failed => Decision::UpstreamFailed,
        _ => Decision::Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use NodeStatus::*;

    #[test]
    fn join_after_a_branch() {
        let branch = [Succeeded, Skipped];
        assert_eq!(decide(TriggerRule::OneSuccess, &branch), Decision::Run);
        assert_eq!(decide(TriggerRule::NoneFailed, &branch), Decision::Run);
        assert_eq!(decide(TriggerRule::AllSuccess, &branch), Decision::Skip);
        assert_eq!(decide(TriggerRule::AllDone, &branch), Decision::Run);
    }

    #[test]
    fn failures_propagate_except_through_all_done() {
        let up = [Succeeded, Failed];
        assert_eq!(decide(TriggerRule::AllSuccess, &up), Decision::UpstreamFailed);
        assert_eq!(decide(TriggerRule::NoneFailed, &up), Decision::UpstreamFailed);
        assert_eq!(decide(TriggerRule::OneSuccess, &up), Decision::Run);
        assert_eq!(decide(TriggerRule::AllDone, &up), Decision::Run);
        assert_eq!(decide(TriggerRule::AllSuccess, &[Running, Failed]), Decision::Wait);
    }

    fn status() -> impl Strategy<Value = NodeStatus> {
        prop_oneof![
            Just(Pending), Just(Running), Just(Retrying), Just(Succeeded), Just(Failed),
            Just(Skipped), Just(UpstreamFailed), Just(Cancelled), Just(Waiting)
        ]
    }

    fn rule() -> impl Strategy<Value = TriggerRule> {
        prop_oneof![Just(TriggerRule::AllSuccess), Just(TriggerRule::AllDone), Just(TriggerRule::OneSuccess), Just(TriggerRule::NoneFailed)]
    }

    /// The rules written the long way, one upstream at a time.
    fn reference(rule: TriggerRule, up: &[NodeStatus]) -> Decision {
        let mut succeeded = 0;
        let mut failed = 0;
        let mut skipped = 0;
        for s in up {
            match s {
                Pending | Ready | Running | Retrying | Waiting => return Decision::Wait,
                Succeeded => succeeded += 1,
                Failed | UpstreamFailed | Cancelled => failed += 1,
                Skipped => skipped += 1,
            }
        }
        match rule {
            TriggerRule::AllDone => Decision::Run,
            TriggerRule::AllSuccess => {
                if succeeded == up.len() {
                    Decision::Run
                } else if failed > 0 {
                    Decision::UpstreamFailed
                } else {
                    Decision::Skip
                }
            }
            TriggerRule::OneSuccess => {
                if succeeded > 0 || up.is_empty() {
                    Decision::Run
                } else if failed > 0 {
                    Decision::UpstreamFailed
                } else {
                    Decision::Skip
                }
            }
            TriggerRule::NoneFailed => {
                if failed == 0 {
                    let _ = skipped;
                    Decision::Run
                } else {
                    Decision::UpstreamFailed
                }
            }
        }
    }

    proptest! {
        #[test]
        fn decide_matches_the_reference_model(rule in rule(), up in proptest::collection::vec(status(), 0..6)) {
            prop_assert_eq!(decide(rule, &up), reference(rule, &up));
        }

        #[test]
        fn order_of_upstream_does_not_matter(rule in rule(), mut up in proptest::collection::vec(status(), 0..6)) {
            let d = decide(rule, &up);
            up.reverse();
            prop_assert_eq!(decide(rule, &up), d);
        }
    }
}
