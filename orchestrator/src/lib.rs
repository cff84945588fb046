//! deckle-orchestrator: the coordinator — durable state, scheduling, the HTTP API
//! and the web UI.
//!
//! Lands with the workflows and coordinator issues; today it only holds its place
//! in the workspace layout of `shared/DESIGN.md`.
