//! `deckle trigger WORKFLOW [-p k=v]… [--date D] [--version N] [--wait]`.

use clap::Args;
use deckle_protocol::api::TriggerRun;
use deckle_protocol::record::RunRecord;

use super::{announce, params_map, parse_param, wait_and_report, EXIT_CODES_WAIT};
use crate::client::{Client, RemoteArgs};

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_WAIT)]
pub struct TriggerArgs {
    /// The registered workflow's id.
    pub workflow: String,
    /// A workflow parameter, `name=value` (typed by its declaration).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// The logical date (`run.date`), YYYY-MM-DD; default: today in the schedule's time zone.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// Run this registered version; default: the latest.
    #[arg(long, value_name = "N")]
    pub version: Option<u32>,
    /// Wait for the run to finish, showing progress, then print its status (exit 1 unless it succeeded).
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

pub async fn trigger(args: TriggerArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let req = TriggerRun { params: params_map(&args.params), date: args.date.clone(), version: args.version };
    let reply = match client.post::<_, RunRecord>(&["workflows", &args.workflow, "runs"], &req).await {
        Ok(r) => r,
        Err(e) => return e.report(),
    };
    let r = &reply.body;
    let line = format!("triggered run {} (workflow {} v{}, date {})", r.id, r.workflow, r.version, r.date);
    announce(&line, &reply.json, args.remote.json, args.wait);
    if args.wait {
        return wait_and_report(&client, &r.id, args.remote.json).await;
    }
    0
}
