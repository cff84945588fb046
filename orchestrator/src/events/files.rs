//! `files:` triggers: each is listed every `poll`; a file or object not seen before
//! (by path and signature: size, and modification time for local files) is an
//! event starting one run. What a trigger has seen is stored after its events are,
//! and each file's event is deduplicated by trigger, path and signature, so a crash
//! between the two starts nothing twice. Files present at a trigger's first poll
//! are its baseline unless it says `catchup: true`. A folder that cannot be read is
//! the trigger's `problem` (workflow page, `deckle workflows`, `/health`), polled
//! again next time; the planner carries on.

use std::collections::BTreeMap;
use std::sync::Arc;

use deckle_dsl::TriggerOn;
use deckle_protocol::event::EventKind;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::warn;

use crate::glob::{self, Pattern};
use super::{trigger_key, Incoming, TriggerDoc};
use crate::coordinator::Coordinator;
use crate::error::Result;
use crate::store::{get_doc, put_doc, DocKind};

/// What a files trigger has seen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Seen {
    /// The pattern it was seen for: a new pattern starts afresh.
    pub pattern: String,
    pub polled_at: Option<Timestamp>,
    /// When it last listed successfully: files seen after the first listing are new
    /// (a first poll that fails is no baseline).
    #[serde(default)]
    pub listed_at: Option<Timestamp>,
    /// Path → signature.
    pub files: BTreeMap<String, String>,
}

impl Coordinator {
    /// Poll every files trigger that is due. Returns when the next poll is due.
    pub(crate) async fn poll_files(self: &Arc<Self>) -> Result<Option<Timestamp>> {
        let mut next: Option<Timestamp> = None;
        for entry in self.registry.entries()? {
            let Some(v) = entry.versions.last() else { continue };
            let Ok(wf) = self.registry.load(&entry.id, v.version) else { continue };
            for (i, t) in wf.triggers.iter().enumerate() {
                let TriggerOn::Files(spec) = &t.on else { continue };
                let key = trigger_key(&entry.id, i);
                let mut doc = get_doc::<TriggerDoc>(self.store.as_ref(), DocKind::TriggerState, &key)?.unwrap_or_default();
                let seen = doc.files.take().filter(|s| s.pattern == spec.path);
                let now = self.clock.now();
                let poll = jiff::SignedDuration::try_from(spec.poll).unwrap_or(jiff::SignedDuration::from_secs(60));
                if let Some(due) = seen.as_ref().and_then(|s| s.polled_at).and_then(|t| t.checked_add(poll).ok()) {
                    if due > now {
                        next = Some(next.map_or(due, |n| n.min(due)));
                        doc.files = seen;
                        continue;
                    }
                }
                let first = !seen.as_ref().is_some_and(|s| s.listed_at.is_some());
                let mut seen = seen.unwrap_or_else(|| Seen { pattern: spec.path.clone(), ..Seen::default() });
                let listed = match Pattern::parse(&spec.path) {
                    Ok(p) => glob::list(&p).await,
                    Err(e) => Err(e),
                };
                match listed {
                    Err(problem) => {
                        if doc.problem.as_deref() != Some(problem.as_str()) {
                            warn!(workflow = %entry.id, trigger = %spec.path, problem = %problem, "a files trigger cannot list");
                        }
                        doc.problem = Some(problem);
                    }
                    Ok(found) => {
                        doc.problem = None;
                        let mut now_seen = BTreeMap::new();
                        for f in found {
                            let new = seen.files.get(&f.path) != Some(&f.signature);
                            if new && (!first || spec.catchup) {
                                let inc = Incoming {
                                    kind: EventKind::Files,
                                    name: f.path.clone(),
                                    dedup: Some(format!("file/{key}/{}/{}", f.path, f.signature)),
                                    key: None,
                                    date: f.date.clone(),
                                    context: json!({"kind": "files", "path": f.path, "size": f.size, "date": f.date}),
                                    only: Some((entry.id.clone(), v.version, i)),
                                    keep_unmatched: false,
                                };
                                self.accept(inc).await?;
                            }
                            now_seen.insert(f.path, f.signature);
                        }
                        seen.files = now_seen;
                        seen.listed_at = Some(now);
                    }
                }
                // Re-read: accepting events updated the trigger's last event.
                let fresh = get_doc::<TriggerDoc>(self.store.as_ref(), DocKind::TriggerState, &key)?.unwrap_or_default();
                seen.polled_at = Some(now);
                let doc = TriggerDoc { files: Some(seen), problem: doc.problem, ..fresh };
                put_doc(self.store.as_ref(), DocKind::TriggerState, &key, &doc)?;
                self.store.flush().await?;
                let due = now.checked_add(poll).unwrap_or(now);
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        Ok(next)
    }
}
