//! Activities served by "other teams' workers": an SDK worker in this process, on its own task
//! queues, for flows whose `Activity` nodes call activities by name.

use std::sync::mpsc;
use std::thread::JoinHandle;

use serde_json::{Value, json};
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};
use temporalio_common::error::ApplicationFailure;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

/// The remote activities the samples and the benchmark call.
pub struct RemoteActivities;

#[activities]
impl RemoteActivities {
    /// Charges a card: `{orderId, amount}` → `{chargeId, amount}`; amounts over 10,000 are declined.
    #[activity(name = "charge-card")]
    pub async fn charge_card(_ctx: ActivityContext, input: Value) -> Result<Value, ActivityError> {
        let amount = input["amount"].as_f64().unwrap_or_default();
        if amount > 10_000.0 {
            let failure = ApplicationFailure::builder("card declined").type_name("CardDeclined".to_string()).non_retryable(true).build();
            return Err(ActivityError::Application(Box::new(failure)));
        }
        Ok(json!({ "chargeId": format!("ch_{}", input["orderId"].as_str().unwrap_or("?")), "amount": amount }))
    }

    /// Reserves stock: `{orderId, sku, quantity}` → `{reservationId}`.
    #[activity(name = "reserve-stock")]
    pub async fn reserve_stock(_ctx: ActivityContext, input: Value) -> Result<Value, ActivityError> {
        let id = format!("rs_{}_{}", input["orderId"].as_str().unwrap_or("?"), input["sku"].as_str().unwrap_or("?"));
        Ok(json!({ "reservationId": id, "quantity": input["quantity"] }))
    }

    /// Works for `input.ms` milliseconds, then returns its input: the makespan benchmark's step.
    #[activity(name = "work")]
    pub async fn work(_ctx: ActivityContext, input: Value) -> Result<Value, ActivityError> {
        tokio::time::sleep(std::time::Duration::from_millis(input["ms"].as_u64().unwrap_or_default())).await;
        Ok(input)
    }

    /// Does nothing and returns its input: the benchmark's unit of work.
    #[activity(name = "noop")]
    pub async fn noop(_ctx: ActivityContext, input: Value) -> Result<Value, ActivityError> {
        Ok(input)
    }
}

/// Connects a client to `address`.
pub async fn connect(address: &str) -> anyhow::Result<Client> {
    let (_, options) = ClientOptions::load_from_config(LoadClientConfigProfileOptions::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let url = Url::parse(&format!("http://{address}"))?;
    let connection = Connection::connect(ConnectionOptions::new(url).build()).await?;
    Ok(Client::new(connection, options)?)
}

/// Workers serving [`RemoteActivities`] on several task queues; stopped when dropped.
pub struct RemoteWorkers {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RemoteWorkers {
    pub fn start(address: &str, task_queues: &[&str]) -> RemoteWorkers {
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let address = address.to_string();
        let queues: Vec<String> = task_queues.iter().map(|q| q.to_string()).collect();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
            rt.block_on(async move {
                let started = async {
                    let runtime = Runtime::from_current_tokio(Default::default()).map_err(|e| e.to_string())?;
                    let client = connect(&address).await.map_err(|e| e.to_string())?;
                    let mut workers = Vec::new();
                    for queue in &queues {
                        let options = WorkerOptions::new(queue.clone()).register_activities(RemoteActivities).build();
                        workers.push(Worker::new(&runtime, client.clone(), options).map_err(|e| e.to_string())?);
                    }
                    Ok::<_, String>((runtime, workers))
                }
                .await;
                let (_runtime, mut workers) = match started {
                    Ok(w) => w,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let stops: Vec<_> = workers.iter().map(|w| w.shutdown_handle()).collect();
                tokio::task::spawn_blocking(move || {
                    let _ = stop_rx.recv();
                    stops.iter().for_each(|stop| stop());
                });
                futures::future::join_all(workers.iter_mut().map(|w| w.run())).await;
            });
        });
        ready_rx.recv().expect("the remote worker thread died").expect("cannot start remote workers");
        RemoteWorkers { stop: Some(stop_tx), thread: Some(thread) }
    }
}

impl Drop for RemoteWorkers {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
