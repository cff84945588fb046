//! The remote commands' argument parsers under test, as `deckle` wires them.

use clap::Parser;

use super::backfill::{BackfillArgs, BackfillsArgs};
use super::logs::LogsArgs;
use super::diff::DiffArgs;
use super::outputs::OutputsArgs;
use super::runs::RerunArgs;
use super::signal::{EventsArgs, SignalArgs};
use super::trigger::TriggerArgs;
use super::workflows::{PauseArgs, WorkflowsArgs};

#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    Trigger(TriggerArgs),
    Rerun(RerunArgs),
    Logs(LogsArgs),
    Backfill(BackfillArgs),
    Backfills(BackfillsArgs),
    Workflows(WorkflowsArgs),
    Pause(PauseArgs),
    Signal(SignalArgs),
    Events(EventsArgs),
    Outputs(OutputsArgs),
    Diff(DiffArgs),
}

/// `deckle ARGS…`, parsed.
pub fn parse(args: &[&str]) -> Result<Cmd, clap::Error> {
    Cli::try_parse_from(std::iter::once("deckle").chain(args.iter().copied())).map(|c| c.cmd)
}
