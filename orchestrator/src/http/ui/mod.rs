//! The web UI, served by the coordinator with no build step: pages rendered on the
//! server from templates ([`templates`], [`pages`], [`run_page`]), output notebooks
//! rendered safely ([`notebook`]), DAGs laid out as SVG ([`dag`]), one HTML escape
//! for all of them ([`escape`]), recorded outputs shown as people read them
//! ([`values`]), and its routes ([`routes`]).

pub mod dag;
pub mod escape;
pub mod frames;
pub mod notebook;
pub mod pages;
pub mod routes;
pub mod run_page;
pub mod templates;
pub mod values;
pub mod trend;
#[cfg(test)]
mod pages_tests;
