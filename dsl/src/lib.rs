//! deckle-dsl: workflow files → a validated DAG.
//!
//! Pure: no async runtime, no I/O beyond reading the workflow and its notebooks.
//! The workflow format is specified in `shared/DESIGN.md`; parsing and validation
//! land with the workflows issue. Until then this crate only reserves its place in
//! the workspace so the dependency graph (`dsl` ← `orchestrator`) is fixed early.
