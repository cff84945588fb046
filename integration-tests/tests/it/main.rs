//! Deckle's end-to-end tests: one test binary, real processes, real kernels.
//!
//! Everything runs against the Python venv that `scripts/setup.sh --test` builds
//! (`.venv`: ipykernel, papermill, scrapbook, bash_kernel from PyPI). A missing venv
//! fails the tests with instructions rather than skipping them.

mod cluster;
mod harness;
mod stores;

mod backfills;
mod bad_input;
mod cli_remote;
mod execute_compat;
mod execute_behaviour;
mod recorded_outputs;
mod secrets;
mod translators;
mod languages;
mod workflows;
mod sql_nodes;
mod server_faults;
mod hostile_paths;
mod storage_faults;
mod ui;
mod api_fuzz;
mod stopped_records;
mod lost_attempts;
mod bare_paths;
mod papermill_cli;
mod real_notebooks;
mod kernelspecs;
mod timers;
mod trends;
mod triggers;
mod shared_state;
mod object_storage;
mod azure_storage;
mod contents;
