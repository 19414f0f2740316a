//! Worker Versioning: each worker binary is one version (`<deployment>:<build id>`) of a Temporal
//! Worker Deployment. `worker` polls as that version and, when the deployment has no current
//! version yet, makes itself current; `deploy` makes a build current or ramping; `versions`
//! shows every version with its open runs, so an operator knows when an old worker can stop.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use temporalio_client::tonic::{Code, Request};
use temporalio_client::{Client, NamespacedClient, WorkflowCountOptions};
use temporalio_common::protos::temporal::api::deployment::v1::WorkerDeploymentInfo;
use temporalio_common::protos::temporal::api::enums::v1::WorkerDeploymentVersionStatus;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeWorkerDeploymentRequest, SetWorkerDeploymentCurrentVersionRequest, SetWorkerDeploymentRampingVersionRequest,
};
use temporalio_common::worker::{VersioningBehavior, WorkerDeploymentOptions, WorkerDeploymentVersion};

/// This build as a version of its Worker Deployment, decided by wfc at compile time.
#[derive(Debug, Clone, Copy)]
pub struct Deployment {
    /// The deployment: the flow's name unless `settings.deployment` names another.
    pub name: &'static str,
    /// A digest of the generated code and the wfc version: identical for identical builds.
    pub build_id: &'static str,
    /// `settings.versioning` of the flow.
    pub versioning: Versioning,
}

/// Whether a run stays on the build that started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioning {
    /// A run finishes on the build that started it (the default).
    Pinned,
    /// A run moves to the deployment's current build at its next workflow task.
    AutoUpgrade,
}

impl Deployment {
    /// `<deployment>:<build id>`, as Temporal names a version.
    pub fn version(&self) -> String {
        format!("{}:{}", self.name, self.build_id)
    }

    /// The worker options that make a worker poll as this version.
    pub(crate) fn worker_options(&self) -> WorkerDeploymentOptions {
        let behavior = match self.versioning {
            Versioning::Pinned => VersioningBehavior::Pinned,
            Versioning::AutoUpgrade => VersioningBehavior::AutoUpgrade,
        };
        let version = WorkerDeploymentVersion::builder().deployment_name(self.name).build_id(self.build_id).build();
        WorkerDeploymentOptions::new(version).use_worker_versioning(true).default_versioning_behavior(behavior).build()
    }
}

/// How long `deploy` and a first worker wait for the server to know this build.
pub(crate) const KNOWN_WITHIN: Duration = Duration::from_secs(60);

/// The deployment as the server describes it, with the token that guards a routing change;
/// `None` when no worker of it has polled yet.
async fn describe(client: &Client, name: &str) -> anyhow::Result<Option<(WorkerDeploymentInfo, Vec<u8>)>> {
    let request = DescribeWorkerDeploymentRequest { namespace: client.options().namespace.clone(), deployment_name: name.to_string() };
    match client.connection().workflow_service().describe_worker_deployment(Request::new(request)).await {
        Ok(response) => {
            let response = response.into_inner();
            Ok(response.worker_deployment_info.map(|info| (info, response.conflict_token)))
        }
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(anyhow!("cannot describe deployment `{name}`: {}", status.message())),
    }
}

fn knows(info: &WorkerDeploymentInfo, build_id: &str) -> bool {
    info.version_summaries.iter().any(|v| v.deployment_version.as_ref().is_some_and(|d| d.build_id == build_id))
}

fn current_build(info: &WorkerDeploymentInfo) -> Option<&str> {
    info.routing_config.as_ref()?.current_deployment_version.as_ref().map(|v| v.build_id.as_str())
}

/// Waits until the server lists this build in its deployment (a worker of it has polled).
async fn known(client: &Client, deployment: &Deployment, within: Duration) -> anyhow::Result<(WorkerDeploymentInfo, Vec<u8>)> {
    let deadline = Instant::now() + within;
    loop {
        if let Some((info, token)) = describe(client, deployment.name).await?
            && knows(&info, deployment.build_id)
        {
            return Ok((info, token));
        }
        if Instant::now() >= deadline {
            return Err(anyhow!(
                "the server does not know build `{}` of deployment `{}` after {}s: start a worker of this build (`worker`) first",
                deployment.build_id,
                deployment.name,
                within.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn set_current(client: &Client, deployment: &Deployment, token: Vec<u8>) -> Result<(), temporalio_client::tonic::Status> {
    let request = SetWorkerDeploymentCurrentVersionRequest {
        namespace: client.options().namespace.clone(),
        deployment_name: deployment.name.to_string(),
        build_id: deployment.build_id.to_string(),
        conflict_token: token,
        identity: client.identity(),
        ..Default::default()
    };
    client.connection().workflow_service().set_worker_deployment_current_version(Request::new(request)).await.map(|_| ())
}

/// Run by a starting worker: when its deployment has no current version yet, this build becomes
/// current, so a first deploy (and every single-build test or demo) needs no extra step. A
/// deployment that already has a current version is left alone: a new build takes new runs
/// only once it is deployed.
pub(crate) async fn adopt_if_first(client: Client, deployment: Deployment) {
    let outcome = async {
        let (info, token) = known(&client, &deployment, KNOWN_WITHIN).await?;
        match current_build(&info) {
            Some(current) if current == deployment.build_id => Ok(()),
            Some(current) => {
                tracing::info!(target: "wfc::worker", current, build = deployment.build_id, "another build is current; run `deploy` to make this one current");
                Ok(())
            }
            None => match set_current(&client, &deployment, token).await {
                Ok(()) => {
                    tracing::info!(target: "wfc::worker", version = deployment.version(), "first version of the deployment: made current");
                    Ok(())
                }
                // Another worker changed the routing meanwhile (a concurrent first start): its
                // choice stands.
                Err(status) if matches!(status.code(), Code::FailedPrecondition | Code::Aborted | Code::AlreadyExists) => Ok(()),
                Err(status) => Err(anyhow!("cannot make this build current: {}", status.message())),
            },
        }
    };
    if let Err(e) = outcome.await {
        tracing::warn!(target: "wfc::worker", error = %format!("{e:#}"), "versioning");
    }
}

/// `deploy [--ramp PERCENT]`: makes this build the current version, or the ramping one with
/// `percent` of new runs. The server refuses a build that does not yet poll every task queue of
/// the current one; a worker that just started registers its queues within moments, so that
/// refusal is retried until `within` has passed.
pub(crate) async fn deploy(client: &Client, deployment: &Deployment, ramp: Option<f32>, within: Duration) -> anyhow::Result<ExitCode> {
    let deadline = Instant::now() + within;
    let version = deployment.version();
    loop {
        let (_, token) = known(client, deployment, deadline.saturating_duration_since(Instant::now())).await?;
        let outcome = match ramp {
            None => set_current(client, deployment, token).await,
            Some(percentage) => {
                let request = SetWorkerDeploymentRampingVersionRequest {
                    namespace: client.options().namespace.clone(),
                    deployment_name: deployment.name.to_string(),
                    build_id: deployment.build_id.to_string(),
                    percentage,
                    conflict_token: token,
                    identity: client.identity(),
                    ..Default::default()
                };
                client.connection().workflow_service().set_worker_deployment_ramping_version(Request::new(request)).await.map(|_| ())
            }
        };
        match outcome {
            Ok(()) => break,
            Err(status) if status.code() == Code::FailedPrecondition && Instant::now() < deadline => {
                tracing::debug!(target: "wfc::deploy", reason = status.message(), "not yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(status) => return Err(anyhow!("cannot deploy `{version}`: {}", status.message())),
        }
    }
    match ramp {
        None => println!("`{version}` is now the current version: new runs start on it"),
        Some(percentage) => println!("`{version}` is now ramping: {percentage}% of new runs start on it"),
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of `versions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    pub build_id: String,
    /// `current`, `ramping N%`, `draining`, `drained` or `inactive`.
    pub role: String,
    pub open_runs: usize,
}

/// `versions`: every version of the deployment, its role, and its open runs.
pub(crate) async fn versions(client: &Client, deployment: &Deployment) -> anyhow::Result<ExitCode> {
    let Some((info, _)) = describe(client, deployment.name).await? else {
        println!("deployment `{}` has no versions yet: start a worker", deployment.name);
        return Ok(ExitCode::SUCCESS);
    };
    let ramp = info.routing_config.as_ref().map_or(0.0, |r| r.ramping_version_percentage);
    let mut rows = Vec::new();
    for summary in &info.version_summaries {
        let Some(version) = &summary.deployment_version else { continue };
        let role = match WorkerDeploymentVersionStatus::try_from(summary.status).unwrap_or(WorkerDeploymentVersionStatus::Unspecified) {
            WorkerDeploymentVersionStatus::Current => "current".to_string(),
            WorkerDeploymentVersionStatus::Ramping => format!("ramping {ramp}%"),
            WorkerDeploymentVersionStatus::Draining => "draining".to_string(),
            WorkerDeploymentVersionStatus::Drained => "drained".to_string(),
            _ => "inactive".to_string(),
        };
        let query = format!(
            "TemporalWorkerDeploymentVersion = '{}:{}' AND ExecutionStatus = 'Running'",
            version.deployment_name.replace('\'', "\\'"),
            version.build_id.replace('\'', "\\'")
        );
        let open = client.count_workflows(query, WorkflowCountOptions::default()).await.map_err(|e| anyhow!("cannot count the runs of `{}`: {e}", version.build_id))?;
        rows.push(VersionRow { build_id: version.build_id.clone(), role, open_runs: open.count() });
    }
    rows.sort_by(|a, b| a.build_id.cmp(&b.build_id));
    println!("deployment `{}` (this binary is build `{}`)", deployment.name, deployment.build_id);
    let width = rows.iter().map(|r| r.build_id.len()).max().unwrap_or(8).max(8);
    println!("{:<width$}  {:<12}  open runs", "build id", "role");
    for row in rows {
        println!("{:<width$}  {:<12}  {}", row.build_id, row.role, row.open_runs);
    }
    Ok(ExitCode::SUCCESS)
}
