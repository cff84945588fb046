//! The web UI, served by the coordinator with no build step: pages rendered on the
//! server ([`pages`], [`run_page`]), output notebooks rendered safely
//! ([`notebook`]), DAGs laid out as SVG ([`dag`]), and its routes ([`routes`]).

pub mod dag;
pub mod frames;
pub mod notebook;
#[cfg(test)]
mod notebook_tests;
pub mod pages;
pub mod routes;
pub mod run_page;
