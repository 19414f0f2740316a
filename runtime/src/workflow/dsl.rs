//! The Serverless Workflow form in workflow code: the data its tasks hand on, and the steps jq
//! computes (`set`, `emit`, `raise`, a `switch`'s cases, a `try`'s error filter).
//!
//! Every task reads the data the task before it left (`.`) and leaves its own output for the
//! next; each branch of a `fork` has its own copy (`Cx::own_branch`). jq programs are compiled once
//! per worker thread, on first use; `wfc check` compiled each of them already, with the same `$`
//! names, so a program that fails to compile here is a bug in wfc, reported as a failure.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use temporalio_common::ActivityDefinition;
use temporalio_sdk::ActivityExecutionError;
use wfc_expr::Scope as _;

use super::cx::{Cx, Flow, IntoOutput};
use crate::values::{ActivityPolicy, BuiltinInput, Failure, NodeInfo, NodeResult};

/// A jq program as generated code names it: its text and the `$` names it reads.
#[derive(Debug, Clone, Copy)]
pub struct Jq {
    pub source: &'static str,
    pub vars: &'static [&'static str],
}

/// A value whose `Expr` leaves jq computes; every other leaf is a literal.
#[derive(Debug, Clone, Copy)]
pub enum JqValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(&'static str),
    Expr(Jq),
    /// A `call` request's leaf that reads `$secrets`: the activity computes it.
    Secret(Jq),
    List(&'static [JqValue]),
    Map(&'static [(&'static str, JqValue)]),
}

/// A task's name, JSON pointer and data flow: `input.from`, `output.as`, `export.as`.
#[derive(Debug, Clone, Copy)]
pub struct Task {
    pub name: &'static str,
    pub reference: &'static str,
    pub input: Option<JqValue>,
    pub output: Option<JqValue>,
    pub export: Option<JqValue>,
    /// JSON Schemas (as JSON text) the raw input, the transformed output and the exported
    /// context must fit.
    pub input_schema: Option<&'static str>,
    pub output_schema: Option<&'static str>,
    pub export_schema: Option<&'static str>,
    pub result: TaskResult,
}

/// What a task produced, before `output.as`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskResult {
    /// Its body's result.
    Body,
    /// The data its subtasks left.
    Data,
    /// Its input, unchanged.
    Input,
    /// The output of the branch that finished first, from the branches' list.
    Winner,
}

/// A `listen`: which events it consumes, until when, and what of each it outputs.
#[derive(Debug, Clone, Copy)]
pub struct Listen {
    pub consume: Consume,
    pub filters: &'static [EventFilter],
    pub until: Option<Until>,
    pub read: EventRead,
    /// The signals events arrive as: one per event type named, and [`EVENT_SIGNAL`].
    pub signals: &'static [&'static str],
}

/// The signal any CloudEvent may be sent as, its type in the payload (for a `listen` to any
/// event at all, or to events of types no filter names).
pub const EVENT_SIGNAL: &str = "cloudevent";

/// How many of its filters' events a `listen` consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consume {
    /// One event for each filter.
    All,
    /// Events of any filter (the first, unless `until` says more); no filter: any event.
    Any,
    /// One event of its one filter.
    One,
}

/// When a `listen` to `any` stops: a condition on the events consumed so far, or events.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    Condition(Jq),
    Events(Consume, &'static [EventFilter]),
}

/// An event filter: its CloudEvent `type`, and other attributes (`data` among them) it must
/// equal or jq conditions that must hold on them.
#[derive(Debug, Clone, Copy)]
pub struct EventFilter {
    pub kind: Option<&'static str>,
    pub with: &'static [(&'static str, JqValue)],
}

/// What a `listen` outputs of each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRead {
    /// Its `data`.
    Data,
    /// The whole CloudEvent.
    Envelope,
    /// Its data as received (`data_base64` for binary data).
    Raw,
}

/// What a `call: http` task outputs (`with.output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutput {
    /// The response body, parsed by its content type.
    Content,
    /// `{request: {method, uri, headers}, statusCode, headers, content}`.
    Response,
    /// The response body as received, base64-encoded.
    Raw,
}

/// The document's own data flow: `input.from` and `output.as`.
#[derive(Debug, Clone, Copy)]
pub struct Document {
    pub input: Option<JqValue>,
    pub output: Option<JqValue>,
    /// The document as JSON text.
    pub definition: &'static str,
}

/// Which errors a `try` catches.
#[derive(Debug, Clone, Copy)]
pub struct ErrorFilter {
    /// Fields of the error that must be equal; a `type` compares by its last path segment.
    pub with: &'static [(&'static str, JqValue)],
    pub when: Option<Jq>,
    pub except_when: Option<Jq>,
}

/// The data of one branch of the run: what the next task reads (`.`), and the current task's
/// transformed input (`$input`), name and pointer (`$task`).
#[derive(Debug, Clone, Default)]
pub struct Data {
    current: Value,
    input: Value,
    task: Option<(&'static str, &'static str)>,
    /// The document as JSON text (`$workflow.definition`), read only when an expression asks.
    definition: &'static str,
    /// The input of each task still running, by node id: what a run that continues as new
    /// needs to finish them.
    entered: BTreeMap<String, Value>,
    /// A continued run's `entered`, each taken back by its task as the run finds its place.
    restored: BTreeMap<String, Value>,
}

/// What a run that continues as new carries of its data: the data at the loop it stops in,
/// and the inputs of the tasks around that loop.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Carried {
    current: Value,
    entered: BTreeMap<String, Value>,
}

impl Data {
    /// Whether a Serverless Workflow document runs (other flows leave the data unused).
    pub(crate) fn is_document(&self) -> bool {
        !self.definition.is_empty()
    }

    /// What the next run needs to go on with this data (the flow state carries it).
    pub(crate) fn carried(&self) -> Value {
        serde_json::to_value(Carried { current: self.current.clone(), entered: self.entered.clone() }).unwrap_or_default()
    }
}

/// The standard error types of the specification (`…/errors/<kind>`).
const ERRORS: &str = "https://serverlessworkflow.io/spec/1.0.0/errors";

/// An RFC 7807 problem of one of the standard types.
pub fn problem(kind: &str, status: u16, title: impl Into<String>, detail: Option<String>, instance: &str) -> Failure {
    let title = title.into();
    let mut problem = json!({ "type": format!("{ERRORS}/{kind}"), "status": status, "title": title, "instance": instance });
    if let Some(detail) = &detail {
        problem["detail"] = json!(detail);
    }
    Failure { problem: Some(Box::new(problem)), ..Failure::new(detail.map_or(title.clone(), |d| format!("{title}: {d}"))) }
}

/// `schedule.on`: the input of the run an event starts, `[event]` read as `read` says; `None`
/// when no filter takes it. Computed by the command line, outside any run, so its filters read
/// nothing but the event.
pub fn starts_on(trigger: &Listen, event: &Value) -> Result<Option<Value>, String> {
    let mut takes = trigger.filters.is_empty();
    for filter in trigger.filters {
        takes = takes || standalone_match(filter, event)?;
    }
    Ok(takes.then(|| json!([read(trigger.read, event.clone())])))
}

fn standalone_match(filter: &EventFilter, event: &Value) -> Result<bool, String> {
    if filter.kind.is_some_and(|kind| event.get("type").and_then(Value::as_str) != Some(kind)) {
        return Ok(false);
    }
    for (attribute, want) in filter.with {
        let got = event.get(*attribute).cloned().unwrap_or(Value::Null);
        let holds = match want {
            JqValue::Expr(condition) => truthy(&standalone(condition, &got)?),
            literal => standalone_value(literal)? == got,
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A jq program run on `input` with no `$` names bound.
fn standalone(jq: &Jq, input: &Value) -> Result<Value, String> {
    let program = compiled(jq).map_err(|f| f.message)?;
    let mut results = program.run(input, &[]).map_err(|e| format!("`{}`: {e}", jq.source))?;
    if results.len() == 1 { Ok(results.remove(0)) } else { Err(format!("`{}` gave {} values where one is needed", jq.source, results.len())) }
}

fn standalone_value(value: &JqValue) -> Result<Value, String> {
    value.computed(&mut |jq, _| standalone(jq, &Value::Null))
}

impl JqValue {
    /// This value with each jq leaf computed by `leaf` (told whether the leaf reads `$secrets`).
    fn computed<E, F: FnMut(&Jq, bool) -> Result<Value, E>>(&self, leaf: &mut F) -> Result<Value, E> {
        Ok(match self {
            JqValue::Null => Value::Null,
            JqValue::Bool(b) => Value::Bool(*b),
            JqValue::Int(n) => Value::from(*n),
            JqValue::Float(f) => Value::from(*f),
            JqValue::Text(text) => Value::String((*text).to_string()),
            JqValue::Expr(jq) => leaf(jq, false)?,
            JqValue::Secret(jq) => leaf(jq, true)?,
            JqValue::List(items) => Value::Array(items.iter().map(|item| item.computed(leaf)).collect::<Result<_, _>>()?),
            JqValue::Map(entries) => Value::Object(entries.iter().map(|(k, v)| Ok(((*k).to_string(), v.computed(leaf)?))).collect::<Result<Map<_, _>, E>>()?),
        })
    }
}

/// What takes a queued event: a filter of `until`, or one of the listen's own.
enum Taker {
    Until(usize),
    Filter(usize),
}

/// Records that filter `i` took an event; whether the strategy is now met.
fn met(consume: Consume, matched: &mut [bool], i: usize) -> bool {
    if let Some(m) = matched.get_mut(i) {
        *m = true;
    }
    consume != Consume::All || matched.iter().all(|m| *m)
}

/// What a `listen` outputs of an event.
fn read(read: EventRead, event: Value) -> Value {
    match read {
        EventRead::Envelope => event,
        EventRead::Data => event.get("data").cloned().unwrap_or(Value::Null),
        EventRead::Raw => event.get("data_base64").or_else(|| event.get("data")).cloned().unwrap_or(Value::Null),
    }
}

/// An activity's failure as a problem: an application failure keeps its type (`CardDeclined`),
/// a timeout is the specification's `timeout`, anything else a `runtime` error.
fn activity_problem(error: ActivityExecutionError) -> Failure {
    use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
    let info = error.failure().and_then(|f| f.cause.as_deref()).and_then(|cause| cause.failure_info.as_ref());
    let (kind, status, title) = match info {
        Some(FailureInfo::ApplicationFailureInfo(app)) if !app.r#type.is_empty() => (app.r#type.clone(), 500, app.r#type.clone()),
        Some(FailureInfo::TimeoutFailureInfo(_)) => (format!("{ERRORS}/timeout"), 408, "Timeout".to_string()),
        _ => (format!("{ERRORS}/runtime"), 500, "Runtime Error".to_string()),
    };
    let failure = super::cx::activity_failure(error);
    if failure.cancelled {
        return failure;
    }
    let problem = json!({ "type": kind, "status": status, "title": title, "detail": failure.message });
    Failure { problem: Some(Box::new(problem)), ..failure }
}

thread_local! {
    /// Compiled programs by the address of their text: generated code's `&'static str`s.
    static COMPILED: RefCell<HashMap<(usize, usize), Rc<wfc_expr::jq::Jq>>> = RefCell::new(HashMap::new());
}

fn compiled(jq: &Jq) -> Result<Rc<wfc_expr::jq::Jq>, Failure> {
    let key = (jq.source.as_ptr() as usize, jq.source.len());
    if let Some(found) = COMPILED.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(found);
    }
    let program = wfc_expr::jq::compile(jq.source, jq.vars).map_err(|errors| {
        let reason = errors.first().map_or_else(String::new, |e| e.message.clone());
        problem("expression", 400, "Expression Error", Some(format!("`{}` does not compile: {reason}", jq.source)), "")
    })?;
    let program = Rc::new(program);
    COMPILED.with(|c| c.borrow_mut().insert(key, program.clone()));
    Ok(program)
}

/// jq's truth: everything but `false` and `null`.
fn truthy(value: &Value) -> bool {
    !matches!(value, Value::Null | Value::Bool(false))
}

impl<'a, W: Flow> Cx<'a, W> {
    /// The value of `$name` here: the run's (`$input`, `$context`, `$workflow`, `$task`,
    /// `$runtime`), else a name a loop or a `catch` binds (`$item`, `$error`).
    fn var(&self, name: &str, output: Option<&Value>) -> Value {
        let data = self.data.borrow();
        match name {
            "$input" => data.input.clone(),
            "$output" => output.cloned().unwrap_or(Value::Null),
            "$context" => self.ctx.state(|w| w.flow().variable("$context").cloned()).unwrap_or_else(|| json!({})),
            "$task" => {
                let (task, reference) = data.task.unwrap_or_default();
                json!({ "name": task, "reference": reference, "input": data.input })
            }
            "$workflow" => {
                let mut workflow = self.ctx.state(|w| {
                    let flow = w.flow();
                    let mut workflow = flow.lookup("workflow").unwrap_or_else(|| json!({}));
                    workflow["input"] = flow.lookup("input").unwrap_or(Value::Null);
                    workflow
                });
                workflow["definition"] = serde_json::from_str(data.definition).unwrap_or(Value::Null);
                workflow
            }
            "$runtime" => json!({ "name": "wfc", "version": env!("CARGO_PKG_VERSION") }),
            other => self.frame.name(other.trim_start_matches('$')).unwrap_or(Value::Null),
        }
    }

    /// Runs `jq` on `input`: exactly one result, or the specification's expression error.
    fn jq(&self, jq: &Jq, input: &Value, output: Option<&Value>) -> Result<Value, Failure> {
        let program = compiled(jq)?;
        let values: Vec<(&str, Value)> = jq.vars.iter().map(|name| (*name, self.var(name, output))).collect();
        let vars: Vec<(&str, &Value)> = values.iter().map(|(n, v)| (*n, v)).collect();
        let instance = self.data.borrow().task.map_or("", |(_, reference)| reference);
        let mut results = program.run(input, &vars).map_err(|e| problem("expression", 400, "Expression Error", Some(format!("`{}`: {e}", jq.source)), instance))?;
        match results.len() {
            1 => Ok(results.remove(0)),
            n => Err(problem("expression", 400, "Expression Error", Some(format!("`{}` gave {n} values where one is needed", jq.source)), instance)),
        }
    }

    /// A value with its jq leaves computed on `input`.
    fn value(&self, value: &JqValue, input: &Value, output: Option<&Value>) -> Result<Value, Failure> {
        value.computed(&mut |jq, secret| match secret {
            // Lowering allows these only in a `call`'s request, which `request` computes.
            true => Err(problem("runtime", 500, "Runtime Error", Some(format!("`{}` reads `$secrets` outside a request", jq.source)), self.reference())),
            false => self.jq(jq, input, output),
        })
    }

    /// A `call`'s request computed on the task's input, except its leaves that read
    /// `$secrets`: those are left `null` and listed (`{at, jq}`, `at` a JSON pointer) for the
    /// activity, which alone reads the secrets.
    fn request(&self, value: &JqValue, input: &Value, at: &str, deferred: &mut Vec<Value>) -> Result<Value, Failure> {
        let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
        Ok(match value {
            JqValue::Secret(jq) => {
                deferred.push(json!({ "at": at, "jq": jq.source }));
                Value::Null
            }
            JqValue::List(items) => Value::Array(items.iter().enumerate().map(|(i, item)| self.request(item, input, &format!("{at}/{i}"), deferred)).collect::<Result<_, _>>()?),
            JqValue::Map(entries) => Value::Object(
                entries.iter().map(|(k, v)| Ok(((*k).to_string(), self.request(v, input, &format!("{at}/{}", escape(k)), deferred)?))).collect::<Result<Map<_, _>, Failure>>()?,
            ),
            other => self.value(other, input, None)?,
        })
    }

    fn current(&self) -> Value {
        self.data.borrow().current.clone()
    }

    /// The document's data flow around its tasks: `input.from` on the workflow input, then the
    /// tasks, then `output.as` on the data they leave.
    pub async fn document(&self, document: &Document, tasks: impl Future<Output = NodeResult>) -> NodeResult {
        let raw = self.ctx.state(|w| w.flow().lookup("input")).unwrap_or(Value::Null);
        let input = match &document.input {
            Some(from) => self.value(from, &raw, None)?,
            None => raw,
        };
        // A continued run starts inside the loop it stopped in: the data there, not the input.
        let carried = self.ctx.state_mut(|w| w.flow_mut().take_dsl()).and_then(|c| serde_json::from_value::<Carried>(c).ok());
        *self.data.borrow_mut() = match carried {
            Some(carried) => Data { current: carried.current, input, task: None, definition: document.definition, entered: BTreeMap::new(), restored: carried.entered },
            None => Data { current: input.clone(), input, task: None, definition: document.definition, ..Data::default() },
        };
        tasks.await?;
        let last = self.current();
        match &document.output {
            Some(as_) => self.value(as_, &last, None),
            None => Ok(last),
        }
    }

    /// One task: its input from the data it is handed (`input.from`), its body, its output
    /// (`output.as`), which it hands on, and `$context` (`export.as`).
    pub async fn task<T: IntoOutput>(&self, node: &NodeInfo, task: &'static Task, body: impl Future<Output = Result<T, Failure>>) -> NodeResult {
        // A task a continued run finds its place in already has its input, and the data it
        // hands its subtasks is where the loop inside it stopped.
        let resumed = self.data.borrow_mut().restored.remove(node.id);
        let resuming = resumed.is_some();
        let input = match resumed {
            Some(input) => input,
            None => {
                let raw = self.current();
                self.fits(task, task.input_schema, &raw, "input")?;
                match &task.input {
                    Some(from) => self.value(from, &raw, None)?,
                    None => raw,
                }
            }
        };
        let enter = |data: &mut Data| {
            data.input = input.clone();
            data.task = Some((task.name, task.reference));
        };
        {
            let mut data = self.data.borrow_mut();
            if !resuming {
                data.current = input.clone();
            }
            enter(&mut data);
            data.entered.insert(node.id.to_string(), input.clone());
        }
        // A test's mock stands for the body only: the data flow around it still runs.
        let mocked = self.mocked(node);
        let is_mocked = mocked.is_some();
        let produced = match mocked {
            Some(answer) => answer,
            None => body.await.map(IntoOutput::into_output),
        };
        self.data.borrow_mut().entered.remove(node.id);
        let produced = produced?;
        // Subtasks set their own `$input` and `$task`: this task's come back for `output.as`.
        enter(&mut self.data.borrow_mut());
        let produced = match task.result {
            // A mock's answer is what the task produced, whatever its kind.
            _ if is_mocked => produced,
            TaskResult::Body => produced,
            TaskResult::Data => self.current(),
            TaskResult::Input => input.clone(),
            // A decided race leaves `null` for the branches it cancelled.
            TaskResult::Winner => produced.as_array().and_then(|all| all.iter().find(|v| !v.is_null())).cloned().unwrap_or(Value::Null),
        };
        let output = match &task.output {
            Some(as_) => self.value(as_, &produced, None)?,
            None => produced,
        };
        self.fits(task, task.output_schema, &output, "output")?;
        if let Some(export) = &task.export {
            let context = self.value(export, &output, Some(&output))?;
            self.fits(task, task.export_schema, &context, "exported context")?;
            self.ctx.state_mut(|w| w.flow_mut().set_variable("$context", context));
        }
        self.data.borrow_mut().current = output.clone();
        Ok(output)
    }

    /// A task's `schema`: the specification's validation error when the value does not fit.
    fn fits(&self, task: &Task, schema: Option<&'static str>, value: &Value, what: &str) -> Result<(), Failure> {
        let Some(schema) = schema else { return Ok(()) };
        crate::values::validate(schema, value)
            .map_err(|e| problem("validation", 400, "Validation Error", Some(format!("the {what} of `{}` does not fit its schema: {e}", task.name)), task.reference))
    }

    /// `set`: the value, computed on the task's input.
    pub fn set(&self, value: &JqValue) -> NodeResult {
        self.value(value, &self.current(), None)
    }

    /// `emit`: the event as a CloudEvent, its `id`, `specversion` and `time` filled in. The
    /// event is the task's output, so history records it.
    pub fn emit(&self, event: &JqValue) -> NodeResult {
        let mut event = match self.value(event, &self.current(), None)? {
            Value::Object(map) => map,
            other => return Err(problem("validation", 400, "Validation Error", Some(format!("an event is an object, not {other}")), self.reference())),
        };
        event.entry("id").or_insert_with(|| json!(self.ctx.uuid4()));
        event.entry("specversion").or_insert_with(|| json!("1.0"));
        let time = self.ctx.workflow_time().map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        event.entry("time").or_insert_with(|| json!(time));
        Ok(Value::Object(event))
    }

    /// `call: http`: the request computed on the task's input (its URI template expanded from
    /// the input's fields, its authentication made a header), sent by the built-in activity;
    /// a status other than 2xx is the specification's communication error.
    pub async fn call_http<AD>(&self, node: &NodeInfo, activity: AD, request: &JqValue, output: CallOutput, policy: &ActivityPolicy) -> NodeResult
    where
        AD: temporalio_common::ActivityDefinition<Input = BuiltinInput, Output = Value>,
    {
        let input = self.current();
        let mut deferred = Vec::new();
        let Value::Object(mut request) = self.request(request, &input, "", &mut deferred)? else {
            return Err(problem("validation", 400, "Validation Error", Some("the request is not an object".into()), self.reference()));
        };
        // An OpenAPI operation's path parameters, else (`call: http`) the task input's fields.
        let fields = request.remove("params").unwrap_or_else(|| input.clone());
        let uri = expand(request.get("uri").and_then(Value::as_str).unwrap_or_default(), &fields);
        request.insert("uri".into(), json!(uri));
        if output == CallOutput::Raw {
            request.insert("raw".into(), json!(true));
        }
        if !deferred.is_empty() {
            // The activity computes these on the task's input, with the secrets they name.
            request.insert("deferred".into(), Value::Array(deferred));
            request.insert("input".into(), input.clone());
        }
        let method = request.get("method").and_then(Value::as_str).unwrap_or("get").to_ascii_uppercase();
        let sent_headers = request.get("headers").cloned().unwrap_or_else(|| json!({}));
        let reply = self.send_builtin(node, activity, Value::Object(request), Vec::new(), policy).await?;
        if let Some(refused) = reply.get("authentication").and_then(Value::as_str) {
            return Err(problem("authentication", 401, "Authentication Error", Some(refused.to_string()), self.reference()));
        }
        let status = reply["status"].as_u64().unwrap_or(0);
        if !(200..300).contains(&status) {
            let title = reply["reason"].as_str().filter(|r| !r.is_empty()).unwrap_or("Communication Error").to_string();
            return Err(problem("communication", u16::try_from(status).unwrap_or(0), title, Some(format!("{method} {uri} answered {status}")), self.reference()));
        }
        Ok(match output {
            CallOutput::Content | CallOutput::Raw => reply["body"].clone(),
            CallOutput::Response => json!({
                "request": { "method": method, "uri": uri, "headers": sent_headers },
                "statusCode": status,
                "headers": reply["headers"],
                "content": reply["body"],
            }),
        })
    }

    /// `run: workflow`: the child workflow, its input computed on the task's input.
    pub async fn run_workflow(&self, node: &NodeInfo, child: &super::child::ChildFlow, input: &JqValue) -> NodeResult {
        let input = self.value(input, &self.current(), None)?;
        self.start_child(node, child, input).await
    }

    /// A `call` of an activity declared in a registry: its arguments (`with`) computed on the
    /// task's input and scheduled on the task queue that serves it (`None`: this worker's own,
    /// for a custom node type's crate). Its failure is a problem whose `type` is the
    /// activity's error type (its `ApplicationFailure` type), so a `catch` can filter on it.
    pub async fn call_activity<AD>(&self, node: &NodeInfo, activity: AD, task_queue: Option<&str>, with: &JqValue, policy: &ActivityPolicy) -> NodeResult
    where
        AD: ActivityDefinition,
        AD::Input: DeserializeOwned,
        AD::Output: Serialize,
    {
        let input = self.value(with, &self.current(), None)?;
        let own = self.ctx.task_queue().to_string();
        let (queue, served) = match task_queue {
            Some(queue) => (queue, format!("on task queue `{queue}`")),
            None => (own.as_str(), "implemented by this worker".to_string()),
        };
        self.scheduled(node, activity, queue, &served, input, policy, activity_problem).await.map_err(|mut failure| {
            if let Some(problem) = failure.problem.as_deref_mut() {
                problem["instance"] = json!(self.reference());
            }
            failure
        })
    }

    /// `listen`: takes the events its filters match as they arrive (oldest first, by the
    /// signal they came as) until its strategy is met; an event no filter matches stays queued
    /// for another `listen`. The output lists the events kept, read as `read` says.
    pub async fn listen(&self, node: &NodeInfo, wait: &super::signals::SignalWait, listen: &Listen) -> NodeResult {
        self.begin_wait(node, wait.signal, None);
        let result = self.listening(listen).await;
        self.end_wait(node);
        result
    }

    async fn listening(&self, listen: &Listen) -> NodeResult {
        let mut kept = Vec::new();
        let mut matched = vec![false; listen.filters.len()];
        let (until_consume, until_filters) = match listen.until {
            Some(Until::Events(consume, filters)) => (consume, filters),
            _ => (Consume::Any, &[][..]),
        };
        let mut until_matched = vec![false; until_filters.len()];
        loop {
            let seen = self.ctx.state(|w| w.flow().mailbox.received());
            while let Some((signal, index, event, taker)) = self.next_event(listen, &matched, (until_consume, until_filters, &until_matched))? {
                self.ctx.state_mut(|w| w.flow_mut().mailbox.take_at(signal, index));
                match taker {
                    Taker::Until(i) => {
                        if met(until_consume, &mut until_matched, i) {
                            return Ok(Value::Array(kept));
                        }
                    }
                    Taker::Filter(i) => {
                        let done = met(listen.consume, &mut matched, i);
                        kept.push(read(listen.read, event));
                        let done = match listen.until {
                            None => done,
                            Some(Until::Events(..)) => false,
                            Some(Until::Condition(condition)) => truthy(&self.jq(&condition, &Value::Array(kept.clone()), None)?),
                        };
                        if done {
                            return Ok(Value::Array(kept));
                        }
                    }
                }
            }
            if !self.until(|w| w.flow().mailbox.received() != seen).await {
                return Err(Failure::cancelled("cancelled while listening"));
            }
        }
    }

    /// The oldest queued event something takes: `until`'s filters first, then the listen's
    /// (for `all`, only those not matched yet). Signals are looked at in their order.
    #[allow(clippy::type_complexity)]
    fn next_event(&self, listen: &Listen, matched: &[bool], until: (Consume, &[EventFilter], &[bool])) -> Result<Option<(&'static str, usize, Value, Taker)>, Failure> {
        for signal in listen.signals {
            let queued = self.ctx.state(|w| w.flow().mailbox.queued(signal));
            for (index, mut event) in queued.into_iter().enumerate() {
                // An event sent as the signal of its type need not repeat the type.
                if *signal != EVENT_SIGNAL
                    && let Value::Object(attributes) = &mut event
                {
                    attributes.entry("type").or_insert_with(|| json!(signal));
                }
                if !until.1.is_empty()
                    && let Some(i) = self.taking_filter(until.0, until.1, until.2, &event)?
                {
                    return Ok(Some((signal, index, event, Taker::Until(i))));
                }
                if let Some(i) = self.taking_filter(listen.consume, listen.filters, matched, &event)? {
                    return Ok(Some((signal, index, event, Taker::Filter(i))));
                }
            }
        }
        Ok(None)
    }

    /// The filter that takes `event` (`usize::MAX` when there are none: any event); for
    /// `all`, one not matched yet.
    fn taking_filter(&self, consume: Consume, filters: &[EventFilter], matched: &[bool], event: &Value) -> Result<Option<usize>, Failure> {
        if filters.is_empty() {
            return Ok(Some(usize::MAX));
        }
        for (i, filter) in filters.iter().enumerate() {
            if consume == Consume::All && matched[i] {
                continue;
            }
            if self.event_matches(filter, event)? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    fn event_matches(&self, filter: &EventFilter, event: &Value) -> Result<bool, Failure> {
        if filter.kind.is_some_and(|kind| event.get("type").and_then(Value::as_str) != Some(kind)) {
            return Ok(false);
        }
        for (attribute, want) in filter.with {
            let got = event.get(*attribute).cloned().unwrap_or(Value::Null);
            let holds = match want {
                JqValue::Expr(condition) => truthy(&self.jq(condition, &got, None)?),
                literal => self.value(literal, &Value::Null, None)? == got,
            };
            if !holds {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// `raise`: fails with the error, `instance` defaulting to the task's pointer.
    pub fn raise(&self, error: &JqValue) -> NodeResult {
        let mut error = self.value(error, &self.current(), None)?;
        if error.get("instance").is_none_or(Value::is_null) {
            error["instance"] = json!(self.reference());
        }
        let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_string);
        let message = match (text("title"), text("detail")) {
            (Some(title), Some(detail)) => format!("{title}: {detail}"),
            (title, detail) => title.or(detail).or_else(|| text("type")).unwrap_or_else(|| "raised".into()),
        };
        Err(Failure { problem: Some(Box::new(error)), ..Failure::new(message) })
    }

    fn reference(&self) -> &'static str {
        self.data.borrow().task.map_or("", |(_, reference)| reference)
    }

    /// A `switch`'s (or an `if`'s) choice: the first case whose condition holds on the task's
    /// input, recorded so a continued run takes the same branch.
    pub fn first_case(&self, node: &NodeInfo, cases: &[Jq]) -> Result<Option<usize>, Failure> {
        // A continued run takes the branch the run before it took, without asking again: the
        // data here is now where the loop inside that branch stopped.
        let taken = match self.ctx.state(|w| w.flow().restored_decision(node.id)) {
            Some(taken) => taken,
            None => {
                let input = self.current();
                let mut taken = "otherwise".to_string();
                for (i, case) in cases.iter().enumerate() {
                    if truthy(&self.jq(case, &input, None)?) {
                        taken = format!("case-{i}");
                        break;
                    }
                }
                taken
            }
        };
        let taken = self.ctx.state_mut(|w| w.flow_mut().decide(node.id, taken));
        Ok(taken.strip_prefix("case-").and_then(|i| i.parse().ok()))
    }

    /// The list `collection` gives on the `for` task's input (so a continued run, whose data
    /// is where the loop stopped, enumerates the same list); anything else fails the loop.
    pub(crate) fn jq_list(&self, collection: &Jq) -> Result<Vec<Value>, Failure> {
        let input = self.data.borrow().input.clone();
        match self.jq(collection, &input, None)? {
            Value::Array(items) => Ok(items),
            other => Err(problem("validation", 400, "Validation Error", Some(format!("`{}` gives {other}, not a list", collection.source)), self.reference())),
        }
    }

    /// A loop's `while`, on the data the last iteration left.
    pub(crate) fn jq_holds(&self, condition: &Jq) -> Result<bool, Failure> {
        Ok(truthy(&self.jq(condition, &self.current(), None)?))
    }

    /// `try`: whether `failure` is an error the filter catches (a cancellation never is).
    pub fn catches(&self, filter: &ErrorFilter, bind: &str, failure: &Failure) -> Result<bool, Failure> {
        if failure.cancelled {
            return Ok(false);
        }
        self.matches(filter, bind, &self.error(failure))
    }

    /// `try` with `catch.retry`: the attempt again, from the data the `try` was handed, while
    /// its error is one the filter catches and attempts remain.
    pub async fn retry_caught(
        &self,
        node: &NodeInfo,
        filter: &ErrorFilter,
        bind: &str,
        spec: super::control::RetrySpec,
        body: &[crate::values::NodeSpan],
        attempt: impl Fn(Cx<'a, W>) -> super::control::Branch<'a>,
    ) -> NodeResult {
        let handed = self.current();
        let fresh = |cx: Cx<'a, W>| {
            cx.data.borrow_mut().current = handed.clone();
            attempt(cx)
        };
        self.retry_if(node, spec, body, |failure| self.catches(filter, bind, failure), fresh).await
    }

    /// The data a `try` is handed, which its `catch` gets back whatever the attempt left.
    pub fn handed(&self) -> Value {
        self.current()
    }

    /// The context of a `catch`'s tasks: the error bound as `$<bind>`, and the data the `try`
    /// was handed.
    pub fn caught(&self, bind: &str, failure: &Failure, handed: Value) -> Self {
        self.data.borrow_mut().current = handed;
        self.frame(std::collections::BTreeMap::from([(bind.to_string(), self.error(failure))]), None)
    }

    /// A failure as an RFC 7807 problem: its own, or a runtime error for one that has none.
    fn error(&self, failure: &Failure) -> Value {
        failure
            .problem
            .as_deref()
            .cloned()
            .unwrap_or_else(|| json!({ "type": format!("{ERRORS}/runtime"), "status": 500, "title": "Runtime Error", "detail": failure.to_string(), "instance": self.reference() }))
    }

    fn matches(&self, filter: &ErrorFilter, bind: &str, error: &Value) -> Result<bool, Failure> {
        for (field, want) in filter.with {
            let want = self.value(want, &Value::Null, None)?;
            let got = error.get(*field).cloned().unwrap_or(Value::Null);
            let equal = match (*field, &want, &got) {
                // The specification spells the standard types under three prefixes.
                ("type", Value::String(w), Value::String(g)) => w.rsplit('/').next() == g.rsplit('/').next(),
                _ => want == got,
            };
            if !equal {
                return Ok(false);
            }
        }
        let scope = self.frame(std::collections::BTreeMap::from([(bind.to_string(), error.clone())]), None);
        if let Some(when) = &filter.when
            && !truthy(&scope.jq(when, error, None)?)
        {
            return Ok(false);
        }
        if let Some(except) = &filter.except_when
            && truthy(&scope.jq(except, error, None)?)
        {
            return Ok(false);
        }
        Ok(true)
    }
}

/// An RFC 6570 URI template's simple `{name}` expressions filled from the task input's fields
/// (percent-encoded; a missing field expands to nothing, as the RFC says).
fn expand(template: &str, input: &Value) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..open + close];
        let text = match input.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        out.extend(form_urlencoded::byte_serialize(text.as_bytes()).map(|piece| piece.replace('+', "%20")));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_templates_expand_from_the_input() {
        let input = json!({"petId": 1, "status": "sold out", "username": "a/b"});
        assert_eq!(expand("https://x/v2/pet/{petId}?status={status}", &input), "https://x/v2/pet/1?status=sold%20out");
        assert_eq!(expand("https://x/{username}/{missing}", &input), "https://x/a%2Fb/");
    }
}
