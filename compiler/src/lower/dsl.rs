//! The Serverless Workflow form (DSL 1.0): a document with `document.dsl` becomes the same
//! flow model as the other forms.
//!
//! Tasks become nodes: `do` a `Sequence`, `fork` a `Parallel`, `for` a `Repeat`, `switch` and a
//! task's `if` a `Choice`, `try` a `Try`, `set`/`emit`/`raise` jq steps, `wait` a `Delay`. Each
//! carries its data flow (`model::Task`). Every jq program is compiled here with the `$` names
//! in scope where it is written, so a syntax error or a misplaced name is a located diagnostic.
//!
//! `then` directives are resolved here, into the tree: the tasks after a task are its
//! continuation, so a `switch` case holds the tasks its `then` leads to, and a task reached on
//! two paths is lowered on each (with ids of its own). A `then` that loops back is refused.
//! Anything the specification defines that is not compiled yet is `E0014`, naming it.

use std::collections::BTreeSet;

use super::Lowerer;
use crate::diagnostic::{Code, Diagnostic, closest, one_of};
use crate::model::{
    ActivityPolicy, Body, Builtin, CallOutput, Consume, Dsl, EVENT_SIGNAL, ErrorFilter, EventFilter, EventRead, Flow, Iterate, Jq, JqStep, JqValue, Listen, Node, NodeKind,
    Payload, Quorum, Repeat, Served, Settings, SignalWait, Task, TaskResult, TryThen, Until,
};
use crate::source::Span;
use crate::syntax::{Key, Kind, Value, printable};

const DOCUMENT_FIELDS: &[&str] = &["document", "input", "use", "do", "timeout", "output", "schedule", "evaluate"];
const HEADER_FIELDS: &[&str] = &["dsl", "namespace", "name", "version", "title", "summary", "tags", "metadata"];
/// Fields every task may have.
const TASK_FIELDS: &[&str] = &["if", "input", "output", "export", "timeout", "then", "metadata"];
/// The task kinds, by the key that names each.
/// What `call` names besides a function or an activity: the specification's call kinds.
const CALL_KINDS: &[&str] = &["a2a", "asyncapi", "grpc", "http", "mcp", "openapi"];

const KINDS: &[&str] = &["call", "do", "emit", "for", "fork", "listen", "raise", "run", "set", "switch", "try", "wait"];
/// The `$` names of the specification's runtime expression arguments.
/// The runtime expression arguments (`$secrets` only in a `call`'s request).
const ARGUMENTS: &[&str] = &["$context", "$input", "$output", "$secrets", "$task", "$workflow", "$runtime", "$authorization"];
/// How many nodes the continuation of `then` jumps may copy before wfc refuses the document.
const MAX_COPIES: usize = 2_000;
/// How deep branching tasks may nest the tasks after them (each holds the rest of its list),
/// so the tree stays within what every later pass recurses through.
const MAX_BRANCHING: usize = 64;

/// The jq names in scope at a place: the run's arguments, then what loops and catches bind.
#[derive(Debug, Clone, Default)]
struct Scope {
    bound: Vec<String>,
}

/// Which arguments a field may read (the specification's table of argument availability).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    /// `if`, `input.from`: before the task has an input.
    Before,
    /// The task's own fields and `output.as`.
    Task,
    /// `export.as`: the output too.
    Export,
    /// The request of a `call`, which the activity sends: `$secrets` too, resolved there.
    Activity,
    /// A `schedule.on` filter, which the command line judges outside any run: no argument.
    Event,
}

impl Scope {
    fn with(&self, names: &[&str]) -> Scope {
        let mut bound = self.bound.clone();
        bound.extend(names.iter().map(|n| format!("${n}")));
        Scope { bound }
    }

    fn globals(&self, field: Field) -> Vec<String> {
        if field == Field::Event {
            return Vec::new();
        }
        let mut names: Vec<String> = ["$context", "$task", "$workflow", "$runtime"].iter().map(|s| s.to_string()).collect();
        if field != Field::Before {
            names.push("$input".into());
        }
        if field == Field::Export {
            names.push("$output".into());
        }
        if field == Field::Activity {
            names.push("$secrets".into());
        }
        names.extend(self.bound.iter().cloned());
        names
    }
}

/// One entry of a task list: its name and its definition.
struct Entry<'v> {
    name: &'v Key,
    task: &'v Value,
    reference: String,
}

/// Where a task's `then` leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The task at this index of the list.
    Task(usize),
    /// The end of the list: `exit`, or past the last task.
    Exit,
    /// The end of the workflow.
    End,
}

/// A task list being lowered into a continuation.
struct List<'v> {
    entries: Vec<Entry<'v>>,
    scope: Scope,
    /// The outermost list: `end` ends the workflow there by ending the list.
    top: bool,
}

impl<'a> Lowerer<'a> {
    /// A Serverless Workflow document.
    pub(super) fn dsl_document(&mut self, doc: &Value) -> Option<Flow> {
        self.known_fields(doc, DOCUMENT_FIELDS, "a Serverless Workflow document");
        let header = self.required(doc, "document", doc.span)?;
        self.known_fields(header, HEADER_FIELDS, "`document`");
        if let Some(dsl) = header.get("dsl") {
            let version = self.string(dsl)?;
            if !(version == "1.0" || version.starts_with("1.0.")) {
                self.error(
                    Diagnostic::error(Code::InvalidValue, dsl.span, format!("DSL version `{}` is not read by this version of wfc", printable(&version)))
                        .label("unknown version")
                        .help("wfc reads the Serverless Workflow DSL 1.0 (`dsl: '1.0.3'`)"),
                );
            }
        }
        let name_value = self.required(header, "name", header.span)?;
        let name = self.string(name_value)?;
        let name = if super::is_workflow_name(&name) { name } else { super::kebab(&name) };
        if !super::is_workflow_name(&name) || name.len() > super::MAX_NAME {
            self.error(
                Diagnostic::error(Code::InvalidName, name_value.span, format!("`{}` cannot name a workflow", printable(&name)))
                    .label("invalid name")
                    .help("use lower case letters, digits and `-`, starting with a letter"),
            );
            return None;
        }
        let description = ["title", "summary"].iter().filter_map(|k| header.get(k).and_then(Value::as_str)).collect::<Vec<_>>().join("\n\n");
        if let Some(uses) = doc.get("use").and_then(|u| self.expect_map(u)) {
            for (key, definitions) in uses {
                if key.name == "secrets" {
                    // Names only: each is the environment variable of that name, read where used.
                    for name in definitions.as_seq().unwrap_or_default() {
                        let Some(text) = self.string(name) else { continue };
                        if !super::is_identifier(&text) {
                            self.error(
                                Diagnostic::error(Code::InvalidName, name.span, format!("`{}` cannot name a secret", printable(&text)))
                                    .label("not an environment variable's name")
                                    .help("a secret is the worker's environment variable of its name: use letters, digits and `_`, e.g. `MY_OAUTH2_SECRET`"),
                            );
                            continue;
                        }
                        self.reusable.insert((key.name.clone(), text), name.clone());
                    }
                    continue;
                }
                if !["errors", "retries", "functions", "authentications"].contains(&key.name.as_str()) {
                    self.not_compiled(key.span, &format!("`use.{}`", key.name));
                    continue;
                }
                for (name, definition) in self.expect_map(definitions).unwrap_or_default() {
                    self.reusable.insert((key.name.clone(), name.name.clone()), definition.clone());
                }
            }
        }
        if let Some(evaluate) = doc.get("evaluate") {
            self.not_compiled(evaluate.span, "`evaluate`");
        }
        let (schedule, starts_on) = match doc.get("schedule") {
            Some(schedule) if schedule.get("on").is_some() => (None, self.starts_on(schedule)),
            Some(schedule) => (self.dsl_schedule(schedule), None),
            None => (None, None),
        };
        let mut settings = Settings::default();
        if let Some(timeout) = doc.get("timeout") {
            settings.timeout_ms = self.dsl_timeout(timeout);
        }
        let scope = Scope::default();
        let (input_schema, input) = match doc.get("input") {
            Some(input) => self.data_stage(input, "input", &scope),
            None => (None, None),
        };
        let (output_schema, output) = match doc.get("output") {
            Some(output) => self.data_stage(output, "output", &scope),
            None => (None, None),
        };
        let tasks = self.required(doc, "do", doc.span)?;
        let root = self.task_list(tasks, "/do", &scope, true, "do")?;
        Some(Flow {
            task_queue: name.clone(),
            name,
            description: (!description.is_empty()).then_some(description),
            input_schema,
            output_schema,
            output: None,
            settings,
            activities: std::mem::take(&mut self.activities),
            signals: std::mem::take(&mut self.signals),
            body: Body::Tree(Box::new(root)),
            open_blackboard: false,
            schedule,
            dsl: Some(Dsl { input, output, definition: doc.to_json(), starts_on }),
        })
    }

    /// `schedule.on`: each event that one of its filters takes starts a run whose input is
    /// `[event]` (read as `schedule.read` says); the worker binary's `event` command delivers it.
    fn starts_on(&mut self, schedule: &Value) -> Option<Listen> {
        self.known_fields(schedule, &["on", "read"], "`schedule` with `on`");
        let on = schedule.get("on")?;
        self.known_fields(on, &["one", "all", "any"], "`schedule.on`");
        let (consume, filters) = self.consumption(on, &Scope::default(), Field::Event)?;
        if consume == Consume::All {
            self.not_compiled(on.span, "`schedule.on` with `all` (a run started by several events)");
            return None;
        }
        let read = self.event_read(schedule.get("read"))?;
        Some(Listen { consume, filters, until: None, read })
    }

    /// `schedule.cron`: a Temporal Schedule the worker binary's `schedule apply` creates.
    fn dsl_schedule(&mut self, schedule: &Value) -> Option<crate::model::Schedule> {
        self.known_fields(schedule, &["cron", "every", "after", "on", "read"], "`schedule`");
        for key in ["every", "after", "read"] {
            if let Some(value) = schedule.get(key) {
                self.not_compiled(value.span, &format!("`schedule.{key}`"));
                return None;
            }
        }
        let cron = self.required(schedule, "cron", schedule.span)?;
        let text = self.string(cron)?;
        if let Err(e) = super::schedule::cron(&text) {
            self.error(
                Diagnostic::error(Code::InvalidValue, cron.span, format!("`{}` is not a cron spec: {e}", printable(&text)))
                    .label("not a cron spec")
                    .help("write minute hour day-of-month month day-of-week, e.g. `0 9 * * 1-5`"),
            );
            return None;
        }
        Some(crate::model::Schedule { cron: text, timezone: String::new(), input: serde_json::json!({}) })
    }

    fn not_compiled(&mut self, span: Span, construct: &str) {
        self.error(
            Diagnostic::error(Code::NotCompiled, span, format!("{construct} is not compiled by this version of wfc"))
                .label("not compiled yet")
                .help("the README's Serverless Workflow table lists what wfc compiles; write this part another way or leave it out"),
        );
    }

    /// A workflow's `input` or `output`: its schema (JSON Schema, as a value) and its
    /// transformation (`from` or `as`).
    fn data_stage(&mut self, value: &Value, which: &str, scope: &Scope) -> (Option<Value>, Option<JqValue>) {
        let transform = if which == "input" { "from" } else { "as" };
        if !self.known_fields(value, &["schema", transform], &format!("`{which}`")) {
            return (None, None);
        }
        let schema = value.get("schema").and_then(|schema| {
            self.known_fields(schema, &["format", "document", "resource"], "a schema");
            if let Some(format) = schema.get("format")
                && !format.as_str().is_some_and(|f| f == "json" || f.starts_with("json:"))
            {
                self.not_compiled(format.span, "a schema format other than JSON Schema");
            }
            if let Some(resource) = schema.get("resource") {
                self.not_compiled(resource.span, "a schema read from a `resource`");
            }
            schema.get("document").cloned()
        });
        let field = if which == "input" { Field::Before } else { Field::Task };
        let transform = value.get(transform).and_then(|v| self.transform(v, scope, field));
        (schema, transform)
    }

    fn dsl_timeout(&mut self, value: &Value) -> Option<u64> {
        if let Some(name) = value.as_str() {
            self.not_compiled(value.span, &format!("a timeout named in `use.timeouts` (`{}`)", printable(name)));
            return None;
        }
        self.known_fields(value, &["after"], "a timeout");
        let after = self.required(value, "after", value.span)?;
        self.dsl_duration(after)
    }

    /// An ISO 8601 duration (`PT1H30M`) or an object of `days`, `hours`, `minutes`, `seconds`
    /// and `milliseconds`, in milliseconds.
    fn dsl_duration(&mut self, value: &Value) -> Option<u64> {
        let ms = match &value.kind {
            Kind::String(text) => iso_duration(text),
            Kind::Map(_) => {
                const UNITS: &[(&str, u64)] = &[("days", 86_400_000), ("hours", 3_600_000), ("minutes", 60_000), ("seconds", 1_000), ("milliseconds", 1)];
                self.known_fields(value, &UNITS.iter().map(|(u, _)| *u).collect::<Vec<_>>(), "a duration");
                let mut total: u64 = 0;
                for (unit, factor) in UNITS {
                    if let Some(n) = value.get(unit) {
                        total = total.saturating_add(self.uint(n, 0, u64::from(u32::MAX))?.saturating_mul(*factor));
                    }
                }
                Some(total)
            }
            _ => None,
        };
        match ms {
            Some(ms) if (1..=crate::duration::MAX_MS).contains(&ms) => Some(ms),
            _ => {
                self.error(
                    Diagnostic::error(Code::InvalidDuration, value.span, "not a duration wfc can wait for")
                        .label("invalid duration")
                        .help("write an ISO 8601 duration such as `PT30S` or `P7D`, or `{minutes: 5}`, between 1 ms and 100 years"),
                );
                None
            }
        }
    }

    /// A task list (`do`, `try`, `catch.do`, `for.do`) as one `Sequence` node, its `then`
    /// jumps resolved.
    fn task_list(&mut self, value: &Value, pointer: &str, scope: &Scope, top: bool, type_name: &str) -> Option<Node> {
        let tasks = self.tasks(value, pointer, scope, top)?;
        // `stubborn-catch` for `/do/5/stubborn/catch/do`: the task the list belongs to, and its role.
        let segments: Vec<&str> = pointer.split('/').filter(|s| !s.is_empty()).collect();
        let owner = segments.windows(2).rev().find(|w| w[0].parse::<usize>().is_ok()).map(|w| w[1]);
        let id = owner.map_or_else(|| type_name.to_string(), |task| format!("{task}-{type_name}"));
        Some(self.dsl_node(&id, type_name, value.span, NodeKind::Sequence(tasks), None, None))
    }

    /// The tasks of a list, in the order they run, its `then` jumps resolved.
    fn tasks(&mut self, value: &Value, pointer: &str, scope: &Scope, top: bool) -> Option<Vec<Node>> {
        let entries = self.entries(value, pointer)?;
        let list = List { entries, scope: scope.clone(), top };
        if list.entries.is_empty() {
            return Some(Vec::new());
        }
        self.continuation(&list, 0, &mut Vec::new())
    }

    /// The entries of a task list: `- name: {task}`, names unique within the list.
    fn entries<'v>(&mut self, value: &'v Value, pointer: &str) -> Option<Vec<Entry<'v>>> {
        let items = self.expect_seq(value)?;
        let mut entries = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_map() {
                Some([(name, task)]) => entries.push(Entry { name, task, reference: format!("{pointer}/{i}/{}", name.name) }),
                _ => self.error(
                    Diagnostic::error(Code::DocumentShape, item.span, "a task list entry is a map with one key, the task's name")
                        .label("expected `name: {task}`")
                        .help("write each task as `- taskName: {set: …}`"),
                ),
            }
        }
        let mut names = BTreeSet::new();
        for entry in &entries {
            if !names.insert(entry.name.name.as_str()) {
                self.error(
                    Diagnostic::error(Code::DuplicateNodeId, entry.name.span, format!("task `{}` is named twice in this list", entry.name.name))
                        .label("second task of this name")
                        .help("`then` names a task of its list, so names are unique within a list"),
                );
                return None;
            }
        }
        Some(entries)
    }

    /// The tasks that run from `start` of a list to its end: each task, then where its `then`
    /// leads. `path` holds the tasks on the way here, to refuse a loop.
    fn continuation(&mut self, list: &List, start: usize, path: &mut Vec<usize>) -> Option<Vec<Node>> {
        let mut out = Vec::new();
        let mut failed = false;
        let mut at = start;
        let base = path.len();
        loop {
            if path.contains(&at) {
                let entry = &list.entries[at];
                self.not_compiled(entry.name.span, &format!("a `then` that leads back to `{}` (a loop of tasks)", entry.name.name));
                path.truncate(base);
                return None;
            }
            path.push(at);
            self.dsl_copies += 1;
            if self.dsl_copies > MAX_COPIES {
                self.not_compiled(list.entries[at].name.span, "a flow whose `then` jumps join this many paths");
                path.truncate(base);
                return None;
            }
            let entry = &list.entries[at];
            let next = self.then(list, at)?;
            // A task that branches holds the tasks each way leads to, one level deeper.
            let switch = entry.task.get("switch").is_some();
            if switch || entry.task.get("try").is_some() && entry.task.get("catch").and_then(|c| c.get("then")).is_some() {
                if self.dsl_branching >= MAX_BRANCHING {
                    self.not_compiled(entry.name.span, &format!("more than {MAX_BRANCHING} branching tasks (`switch`, `catch.then`) one after another"));
                    path.truncate(base);
                    return None;
                }
                self.dsl_branching += 1;
                let node = if switch { self.switch_task(list, entry, next, path) } else { self.try_then_task(list, entry, next, path) };
                self.dsl_branching -= 1;
                out.push(node?);
                break;
            }
            // A task that does not lower is reported; the rest of the list is still checked.
            match self.task(entry, &list.scope) {
                Some(node) => out.push(node),
                None => failed = true,
            }
            match next {
                Next::Task(i) => at = i,
                // `directive` allows `end` only in the outermost list, where it is its end.
                Next::Exit | Next::End => break,
            }
        }
        path.truncate(base);
        (!failed).then_some(out)
    }

    /// Where a task's `then` (or its absence) leads.
    fn then(&mut self, list: &List, index: usize) -> Option<Next> {
        let entry = &list.entries[index];
        let following = if index + 1 < list.entries.len() { Next::Task(index + 1) } else { Next::Exit };
        match entry.task.get("then") {
            None => Some(following),
            Some(then) => self.directive(list, then, following),
        }
    }

    fn directive(&mut self, list: &List, then: &Value, following: Next) -> Option<Next> {
        let target = self.string(then)?;
        Some(match target.as_str() {
            "continue" => following,
            "exit" => Next::Exit,
            "end" if list.top => Next::End,
            "end" => {
                self.not_compiled(then.span, "`then: end` inside a nested task list");
                return None;
            }
            name => match list.entries.iter().position(|e| e.name.name == name) {
                Some(i) => Next::Task(i),
                None => {
                    let names: Vec<&str> = list.entries.iter().map(|e| e.name.name.as_str()).collect();
                    let near = closest(name, names.iter().copied());
                    let help = if near.is_empty() {
                        "`then` is `continue`, `exit`, `end` or the name of a task of the same list".to_string()
                    } else {
                        format!("did you mean {}?", one_of(&near))
                    };
                    self.error(Diagnostic::error(Code::UnknownReference, then.span, format!("no task `{}` in this list", printable(name))).label("unknown task").help(help));
                    return None;
                }
            },
        })
    }

    /// A `switch`: a `Choice` whose cases hold the tasks their `then` leads to; without a
    /// match, the tasks after the switch.
    fn switch_task(&mut self, list: &List, entry: &Entry, next: Next, path: &mut Vec<usize>) -> Option<Node> {
        let cases = entry.task.get("switch").and_then(|s| self.expect_seq(s))?;
        self.known_fields(entry.task, &[TASK_FIELDS, &["switch"]].concat(), "a `switch` task");
        let mut choices = Vec::new();
        let mut otherwise = None;
        for case in cases {
            let Some([(case_name, case)]) = case.as_map() else {
                self.error(
                    Diagnostic::error(Code::DocumentShape, case.span, "a switch case is a map with one key, the case's name")
                        .label("expected `name: {when, then}`")
                        .help("write each case as `- caseName: {when: <condition>, then: <task>}`"),
                );
                return None;
            };
            self.known_fields(case, &["when", "then"], "a switch case");
            let target = match case.get("then") {
                Some(then) => self.directive(list, then, next)?,
                None => next,
            };
            let tasks = self.branch(list, target, path)?;
            let branch = self.dsl_node(&format!("{}-{}", entry.name.name, case_name.name), "case", case.span, NodeKind::Sequence(tasks), None, None);
            match case.get("when") {
                Some(when) => choices.push((self.expression(when, &list.scope, Field::Task)?, branch)),
                None if otherwise.is_none() => otherwise = Some(Box::new(branch)),
                None => {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, case_name.span, "a second case without `when`")
                            .label("a second default")
                            .help("a switch has at most one default case"),
                    );
                    return None;
                }
            }
        }
        let otherwise = match otherwise {
            Some(default) => default,
            None => {
                let tasks = self.branch(list, next, path)?;
                Box::new(self.dsl_node(&format!("{}-otherwise", entry.name.name), "case", entry.task.span, NodeKind::Sequence(tasks), None, None))
            }
        };
        let kind = NodeKind::Choice { cases: choices, otherwise: Some(otherwise) };
        let task = self.task_data(entry, &list.scope, TaskResult::Data)?;
        let node = self.dsl_node(&entry.name.name, "switch", entry.task.span, kind, Some(task), Some(entry.name));
        self.guarded_branch(list, entry, node, next, path)
    }

    /// A `try` whose `catch` has `then`: the tasks after it when the attempt passes, those
    /// `then` leads to when an error is caught (after the catch's own tasks).
    fn try_then_task(&mut self, list: &List, entry: &Entry, next: Next, path: &mut Vec<usize>) -> Option<Node> {
        let then = entry.task.get("catch").and_then(|c| c.get("then"))?;
        self.known_fields(entry.task, &[TASK_FIELDS, &["try", "catch"]].concat(), "a `try` task");
        // Their data flow would wrap the tasks that follow.
        for field in ["timeout", "output", "export"] {
            if let Some(value) = entry.task.get(field) {
                self.not_compiled(value.span, &format!("`catch.then` on a `try` with `{field}`"));
                return None;
            }
        }
        let caught_target = self.directive(list, then, next)?;
        let mut kind = self.try_task(entry, &list.scope, true)?;
        let passed = self.branch(list, next, path)?;
        let caught = self.branch(list, caught_target, path)?;
        let passed = self.dsl_node(&format!("{}-passed", entry.name.name), "case", entry.task.span, NodeKind::Sequence(passed), None, None);
        let caught = self.dsl_node(&format!("{}-caught", entry.name.name), "case", then.span, NodeKind::Sequence(caught), None, None);
        if let NodeKind::Try { then: slot, .. } = &mut kind {
            *slot = Some(Box::new(TryThen { passed, caught }));
        }
        let task = self.task_data(entry, &list.scope, TaskResult::Data)?;
        let node = self.dsl_node(&entry.name.name, "try", entry.task.span, kind, Some(task), Some(entry.name));
        self.guarded_branch(list, entry, node, next, path)
    }

    /// A branching task with `if`: when the condition does not hold, the tasks after it run.
    fn guarded_branch(&mut self, list: &List, entry: &Entry, node: Node, next: Next, path: &mut Vec<usize>) -> Option<Node> {
        let Some(condition) = entry.task.get("if") else { return Some(node) };
        let condition = self.expression(condition, &list.scope, Field::Before)?;
        let rest = self.branch(list, next, path)?;
        let otherwise = self.dsl_node(&format!("{}-else", entry.name.name), "case", entry.task.span, NodeKind::Sequence(rest), None, None);
        let id = format!("{}-if", entry.name.name);
        Some(self.dsl_node(&id, "if", entry.task.span, NodeKind::Choice { cases: vec![(condition, node)], otherwise: Some(Box::new(otherwise)) }, None, None))
    }

    fn branch(&mut self, list: &List, target: Next, path: &mut Vec<usize>) -> Option<Vec<Node>> {
        match target {
            Next::Task(i) => self.continuation(list, i, path),
            Next::Exit | Next::End => Some(Vec::new()),
        }
    }

    /// One task (not a `switch`) as a node, with its `if`.
    fn task(&mut self, entry: &Entry, scope: &Scope) -> Option<Node> {
        let task = entry.task;
        let map = self.expect_map(task)?;
        // A `for` task's body is its `do`.
        let has_for = task.get("for").is_some();
        let kinds: Vec<&Key> = map.iter().map(|(k, _)| k).filter(|k| KINDS.contains(&k.name.as_str()) && !(has_for && k.name == "do")).collect();
        let (kind, kind_span) = match kinds.as_slice() {
            [kind] => (kind.name.as_str(), kind.span),
            [] => {
                self.error(
                    Diagnostic::error(Code::DocumentShape, entry.name.span, format!("task `{}` does not say what it does", entry.name.name))
                        .label("no task kind")
                        .help(format!("a task has one of {}", one_of(KINDS))),
                );
                return None;
            }
            [_, second, ..] => {
                self.error(
                    Diagnostic::error(Code::DocumentShape, second.span, format!("task `{}` has two kinds", entry.name.name)).label("second kind").help("a task does one thing"),
                );
                return None;
            }
        };
        let own: Vec<&str> = match kind {
            "for" => vec!["for", "while", "do"],
            "try" => vec!["try", "catch"],
            "listen" => vec!["listen", "foreach"],
            "call" => vec!["call", "with"],
            other => vec![other],
        };
        self.known_fields(task, &[TASK_FIELDS, &own].concat(), &format!("a `{kind}` task"));
        let body = &task.get(kind)?;
        let pointer = &entry.reference;
        let (node_kind, result) = match kind {
            "set" => (NodeKind::Jq(JqStep::Set(self.jq_value(body, scope)?)), TaskResult::Body),
            "emit" => {
                self.known_fields(body, &["event"], "`emit`");
                let event = self.required(body, "event", body.span)?;
                self.known_fields(event, &["with"], "an event");
                let with = self.required(event, "with", event.span)?;
                (NodeKind::Jq(JqStep::Emit(self.jq_value(with, scope)?)), TaskResult::Body)
            }
            "raise" => {
                self.known_fields(body, &["error"], "`raise`");
                let error = self.required(body, "error", body.span)?;
                let error = match error.as_str() {
                    Some(name) => &self.reusable_definition("errors", name, error.span)?,
                    None => error,
                };
                self.known_fields(error, &["type", "status", "title", "detail", "instance"], "an error");
                self.required(error, "type", error.span)?;
                self.required(error, "status", error.span)?;
                (NodeKind::Jq(JqStep::Raise(self.jq_value(error, scope)?)), TaskResult::Body)
            }
            "wait" => (NodeKind::Delay { duration_ms: self.dsl_duration(body)?, child: None }, TaskResult::Input),
            "do" => (NodeKind::Sequence(self.tasks(body, &format!("{pointer}/do"), scope, false)?), TaskResult::Data),
            "for" => (self.for_task(entry, body, scope)?, TaskResult::Data),
            "fork" => {
                self.known_fields(body, &["branches", "compete"], "`fork`");
                let compete = match body.get("compete") {
                    Some(v) => self.boolean(v)?,
                    None => false,
                };
                let branches = self.required(body, "branches", body.span)?;
                // Branches run side by side: each is one task, and none `then`s to another.
                let entries = self.entries(branches, &format!("{pointer}/fork/branches"))?;
                let children = entries.iter().map(|entry| self.task(entry, scope)).collect::<Option<Vec<_>>>()?;
                let count = children.len() as u64;
                let quorum = if compete { Quorum { successes: 1, failures: count } } else { Quorum { successes: count, failures: 1 } };
                (NodeKind::Parallel { children, quorum, at_once: None }, if compete { TaskResult::Winner } else { TaskResult::Body })
            }
            "try" => (self.try_task(entry, scope, false)?, TaskResult::Data),
            "listen" => (self.listen_task(entry, body, scope)?, TaskResult::Body),
            "call" if body.as_str() == Some("http") => (self.http_call(entry, scope)?, TaskResult::Body),
            "call" if body.as_str() == Some("openapi") => (self.openapi_call(entry, scope)?, TaskResult::Body),
            "call" if body.as_str().is_some_and(|f| self.reusable.contains_key(&("functions".to_string(), f.to_string()))) => {
                (NodeKind::Sequence(self.function_call(entry, body.as_str().unwrap_or_default(), scope)?), TaskResult::Data)
            }
            "call" if body.as_str().is_some_and(|a| self.activities.contains_key(a)) => {
                (self.declared_activity_call(entry, body.as_str().unwrap_or_default(), scope)?, TaskResult::Body)
            }
            "call" if body.as_str().is_some_and(|f| f.contains("://") || f.contains('@')) => {
                self.not_compiled(body.span, "a function of a catalog (`call` by URI or `name:version@catalog`)");
                return None;
            }
            "call" if body.as_str().is_some_and(|f| !CALL_KINDS.contains(&f)) => {
                self.unknown_call(body.span, body.as_str().unwrap_or_default());
                return None;
            }
            "call" => {
                let what = body.as_str().map_or_else(|| "`call`".to_string(), |f| format!("`call: {}`", printable(f)));
                self.not_compiled(body.span, &what);
                return None;
            }
            "run" if body.get("workflow").is_some() => (self.run_workflow(body, scope)?, TaskResult::Body),
            "run" => {
                let process = body.as_map().and_then(|m| m.iter().find(|(k, _)| k.name != "await" && k.name != "return"));
                let (what, span) = process.map_or(("`run`".to_string(), kind_span), |(k, _)| (format!("`run: {}`", k.name), k.span));
                self.not_compiled(span, &what);
                return None;
            }
            other => {
                self.not_compiled(kind_span, &format!("a `{other}` task"));
                return None;
            }
        };
        let data = self.task_data(entry, scope, result)?;
        let node = self.dsl_node(&entry.name.name, kind, task.span, node_kind, Some(data), Some(entry.name));
        let node = match task.get("timeout") {
            Some(timeout) => {
                let ms = self.dsl_timeout(timeout)?;
                let id = format!("{}-timeout", entry.name.name);
                self.dsl_node(&id, "timeout", timeout.span, NodeKind::Timeout { ms, child: Box::new(node) }, None, None)
            }
            None => node,
        };
        self.guarded(entry, node, scope)
    }

    /// A task with `if`: a `Choice` that runs it when the condition holds on the data it is
    /// handed; else the data passes on unchanged.
    fn guarded(&mut self, entry: &Entry, node: Node, scope: &Scope) -> Option<Node> {
        let Some(condition) = entry.task.get("if") else { return Some(node) };
        let condition = self.expression(condition, scope, Field::Before)?;
        let id = format!("{}-if", entry.name.name);
        Some(self.dsl_node(&id, "if", entry.task.span, NodeKind::Choice { cases: vec![(condition, node)], otherwise: None }, None, None))
    }

    fn for_task(&mut self, entry: &Entry, spec: &Value, scope: &Scope) -> Option<NodeKind> {
        self.known_fields(spec, &["each", "in", "at"], "`for`");
        let name = |cx: &mut Self, key: &str, default: &str| -> Option<String> {
            match spec.get(key) {
                Some(v) => {
                    let name = cx.string(v)?;
                    if !super::is_identifier(&name) {
                        cx.error(
                            Diagnostic::error(Code::InvalidName, v.span, format!("`{}` cannot name a jq variable", printable(&name)))
                                .label("invalid name")
                                .help("use letters, digits and `_`"),
                        );
                        return None;
                    }
                    Some(name)
                }
                None => Some(default.to_string()),
            }
        };
        let item = name(self, "each", "item")?;
        let index = name(self, "at", "index")?;
        let collection = self.required(spec, "in", spec.span)?;
        let collection = match &collection.kind {
            // A list written in place: its JSON is a jq literal.
            Kind::Seq(_) => Jq { source: collection.to_json().to_string(), span: collection.span, vars: Vec::new() },
            _ => self.expression(collection, scope, Field::Task)?,
        };
        let inner = scope.with(&[&item, &index]);
        let while_ = match entry.task.get("while") {
            Some(condition) => Some(self.expression(condition, &inner, Field::Task)?),
            None => None,
        };
        let body = self.required(entry.task, "do", entry.name.span)?;
        let body = self.task_list(body, &format!("{}/do", entry.reference), &inner, false, "do")?;
        Some(NodeKind::Repeat(Repeat { iterate: Iterate::Each { collection, item, index, while_ }, max_iterations: u64::MAX, concurrency: 1, body: vec![body] }))
    }

    /// `run: workflow`: a child workflow, the workflow type its `name` (a wfc flow of that name
    /// serves it on its own task queue); `namespace` and `version` name it in the specification's
    /// catalog and are not routed on.
    fn run_workflow(&mut self, run: &Value, scope: &Scope) -> Option<NodeKind> {
        self.known_fields(run, &["workflow", "await", "return"], "`run`");
        if let Some(wait) = run.get("await")
            && !matches!(wait.kind, Kind::Bool(true))
        {
            self.not_compiled(wait.span, "`run` without awaiting (`await: false`)");
            return None;
        }
        let spec = run.get("workflow")?;
        self.known_fields(spec, &["namespace", "name", "version", "input"], "`run.workflow`");
        let name = self.required(spec, "name", spec.span)?;
        let workflow = self.temporal_name(name, "a workflow name")?;
        let input = match spec.get("input") {
            Some(input) => self.jq_value(input, scope)?,
            None => JqValue::Json(serde_json::json!({})),
        };
        Some(NodeKind::Child { workflow, task_queue: None, input: Some(Payload::Jq(input)) })
    }

    /// `listen`: one wait that takes events as they arrive, each a signal named after its
    /// CloudEvent type (sent, e.g., by the worker binary's `signal ID <type> --input <event>`)
    /// or the generic `cloudevent` signal; the output lists the events kept.
    fn listen_task(&mut self, entry: &Entry, listen: &Value, scope: &Scope) -> Option<NodeKind> {
        if let Some(foreach) = entry.task.get("foreach") {
            self.not_compiled(foreach.span, "`listen`'s `foreach`");
            return None;
        }
        self.known_fields(listen, &["to", "read"], "`listen`");
        let read = self.event_read(listen.get("read"))?;
        let to = self.required(listen, "to", listen.span)?;
        self.known_fields(to, &["one", "all", "any", "until"], "`listen.to`");
        let (consume, filters) = self.consumption(to, scope, Field::Task)?;
        let until = match to.get("until") {
            None => None,
            // The specification ignores `until` but for `any`; so does wfc, and says so.
            Some(until) if consume != Consume::Any => {
                self.error(
                    Diagnostic::warning(Code::IgnoredField, until.span, "`until` is ignored: it goes with `any`")
                        .label("ignored with this strategy")
                        .help("listen to `any` events until this holds, or remove `until`"),
                );
                None
            }
            Some(until) if until.as_map().is_some() => {
                let (consume, filters) = self.consumption(until, scope, Field::Task)?;
                Some(Until::Events(consume, filters))
            }
            Some(until) => Some(Until::Condition(self.expression(until, scope, Field::Task)?)),
        };
        let listen = Listen { consume, filters, until, read };
        let named: Vec<&str> = listen.signals().into_iter().filter(|s| *s != EVENT_SIGNAL).collect();
        let signal = if named.is_empty() { EVENT_SIGNAL.to_string() } else { named.join(" | ") };
        Some(NodeKind::WaitSignal(SignalWait { signal, schema: None, timeout_ms: None, continue_on_timeout: false, listen: Some(listen) }))
    }

    /// `read`: what of an event is kept (`data` unless told otherwise).
    fn event_read(&mut self, read: Option<&Value>) -> Option<EventRead> {
        let Some(read) = read else { return Some(EventRead::Data) };
        match read.as_str() {
            Some("data") => Some(EventRead::Data),
            Some("envelope") => Some(EventRead::Envelope),
            Some("raw") => Some(EventRead::Raw),
            _ => {
                self.wrong_type(read, "`data`, `envelope` or `raw`");
                None
            }
        }
    }

    /// An event consumption strategy (`listen.to`, its `until`, `schedule.on`): `one`, `all`
    /// or `any`; its filters' jq reads what `field` allows.
    fn consumption(&mut self, strategy: &Value, scope: &Scope, field: Field) -> Option<(Consume, Vec<EventFilter>)> {
        let Some((name, events)) = strategy.as_map().and_then(|m| m.iter().find(|(k, _)| ["one", "all", "any"].contains(&k.name.as_str()))) else {
            self.wrong_type(strategy, "one of `one`, `all` or `any`");
            return None;
        };
        let (consume, filters) = match name.name.as_str() {
            "one" => (Consume::One, vec![events]),
            "all" => (Consume::All, self.expect_seq(events)?.iter().collect()),
            _ => (Consume::Any, self.expect_seq(events)?.iter().collect()),
        };
        let filters = filters.into_iter().map(|f| self.event_filter(f, scope, field)).collect::<Option<Vec<_>>>()?;
        Some((consume, filters))
    }

    /// `with`: the event's `type` (a signal's name), other attributes a value or a condition.
    fn event_filter(&mut self, filter: &Value, scope: &Scope, field: Field) -> Option<EventFilter> {
        self.known_fields(filter, &["with", "correlate"], "an event filter");
        if let Some(correlate) = filter.get("correlate") {
            self.not_compiled(correlate.span, "event correlation (`correlate`)");
            return None;
        }
        let with = self.required(filter, "with", filter.span)?;
        let mut kind = None;
        let mut attributes = Vec::new();
        for (key, value) in self.expect_map(with)? {
            // The specification lets a value be a regular expression; wfc compares values.
            if let Some(text) = value.as_str().filter(|t| runtime_expression(t).is_none() && t.contains(['*', '+', '?', '[', '(', '|', '^', '$', '\\', '{'])) {
                self.not_compiled(value.span, &format!("a regular expression in an event filter (`{}`)", printable(text)));
                return None;
            }
            if key.name == "type" && runtime_expression(value.as_str().unwrap_or_default()).is_none() {
                let name = self.string(value)?;
                self.signal_name(&name, value.span);
                kind = Some(name);
            } else {
                attributes.push((key.name.clone(), self.jq_value_in(value, scope, field)?));
            }
        }
        Some(EventFilter { kind, with: attributes })
    }

    /// A `try`; its `catch.then` only where the task is in a list (`then_handled`), which
    /// lowers where it leads.
    fn try_task(&mut self, entry: &Entry, scope: &Scope, then_handled: bool) -> Option<NodeKind> {
        let attempt = entry.task.get("try")?;
        let attempt = self.task_list(attempt, &format!("{}/try", entry.reference), scope, false, "try")?;
        let catch = self.required(entry.task, "catch", entry.name.span)?;
        self.known_fields(catch, &["errors", "as", "when", "exceptWhen", "retry", "do", "then"], "`catch`");
        if let Some(then) = catch.get("then").filter(|_| !then_handled) {
            self.not_compiled(then.span, "`catch.then` of a branch of a `fork`");
            return None;
        }
        let bind = match catch.get("as") {
            Some(v) => self.string(v)?,
            None => "error".to_string(),
        };
        let inner = scope.with(&[&bind]);
        let mut with = Vec::new();
        if let Some(errors) = catch.get("errors") {
            self.known_fields(errors, &["with"], "`catch.errors`");
            if let Some(fields) = errors.get("with").and_then(|w| self.expect_map(w)) {
                for (key, value) in fields {
                    if !["type", "status", "instance", "title", "detail"].contains(&key.name.as_str()) {
                        self.unknown_field(key, &["type", "status", "instance", "title", "detail"], "an error filter");
                        continue;
                    }
                    with.push((key.name.clone(), value.to_json()));
                }
            }
        }
        let when = match catch.get("when") {
            Some(v) => Some(self.expression(v, &inner, Field::Task)?),
            None => None,
        };
        let except_when = match catch.get("exceptWhen") {
            Some(v) => Some(self.expression(v, &inner, Field::Task)?),
            None => None,
        };
        let retry = match catch.get("retry") {
            Some(retry) => Some(match retry.as_str() {
                Some(name) => {
                    let definition = self.reusable_definition("retries", name, retry.span)?;
                    self.retry_policy(&definition)?
                }
                None => self.retry_policy(retry)?,
            }),
            None => None,
        };
        let handler = match catch.get("do") {
            Some(tasks) => Some(Box::new(self.task_list(tasks, &format!("{}/catch/do", entry.reference), &inner, false, "catch")?)),
            None => None,
        };
        Some(NodeKind::Try { attempt: Box::new(attempt), filter: ErrorFilter { with, when, except_when }, bind, retry, catch: handler, then: None })
    }

    /// `call: http`: the request as a value jq completes in workflow code; the built-in
    /// activity sends it. No retries unless a `try` asks for them, as the specification says.
    fn http_call(&mut self, entry: &Entry, scope: &Scope) -> Option<NodeKind> {
        let with = self.required(entry.task, "with", entry.name.span)?;
        self.known_fields(with, &["method", "endpoint", "headers", "body", "query", "output", "redirect"], "`call: http`'s `with`");
        let mut request = Vec::new();
        let method = self.required(with, "method", with.span)?;
        request.push(("method".to_string(), self.request_value(method, scope)?));
        let endpoint = self.required(with, "endpoint", with.span)?;
        let uri = match &endpoint.kind {
            Kind::Map(_) => {
                self.known_fields(endpoint, &["uri", "authentication"], "an endpoint");
                if let Some(auth) = endpoint.get("authentication") {
                    request.push(("auth".to_string(), self.authentication(auth, scope)?));
                }
                self.required(endpoint, "uri", endpoint.span)?
            }
            _ => endpoint,
        };
        request.push(("uri".to_string(), self.request_value(uri, scope)?));
        for key in ["headers", "query", "body"] {
            if let Some(value) = with.get(key) {
                request.push((key.to_string(), self.request_value(value, scope)?));
            }
        }
        let redirect = match with.get("redirect") {
            Some(v) => self.boolean(v)?,
            None => false,
        };
        request.push(("redirect".to_string(), JqValue::Json(serde_json::json!(redirect))));
        let output = self.call_output(with)?;
        let request = JqValue::Map(request);
        let policy = ActivityPolicy { max_attempts: 1, ..ActivityPolicy::default() };
        Some(NodeKind::Call { builtin: Builtin::CallHttp, request, output, policy })
    }

    /// `call: openapi`: the operation looked up in the description (read at build time), its
    /// parameters placed in the path, query, headers or body, then sent as `call: http` is.
    fn openapi_call(&mut self, entry: &Entry, scope: &Scope) -> Option<NodeKind> {
        let with = self.required(entry.task, "with", entry.name.span)?;
        self.known_fields(with, &["document", "operationId", "parameters", "authentication", "output", "redirect"], "`call: openapi`'s `with`");
        let document = self.required(with, "document", with.span)?;
        self.known_fields(document, &["name", "endpoint"], "`document`");
        let endpoint = self.required(document, "endpoint", document.span)?;
        let (reference, at) = match endpoint.get("uri") {
            Some(uri) => (self.string(uri)?, uri.span),
            None => (self.string(endpoint)?, endpoint.span),
        };
        let description = match self.documents.get(&reference).cloned() {
            Some(Ok(text)) => match crate::syntax::parse(&text) {
                (Some(value), errors) if errors.is_empty() => value.to_json(),
                _ => return self.unreadable(at, &reference, "it is neither JSON nor YAML"),
            },
            Some(Err(why)) => return self.unreadable(at, &reference, &why),
            None => return self.unreadable(at, &reference, "this caller of wfc did not read it (`wfc check` and `wfc build` do)"),
        };
        let operation_value = self.required(with, "operationId", with.span)?;
        let operation_id = self.string(operation_value)?;
        let mut operations = Vec::new();
        let mut found = None;
        for (path, item) in description.get("paths").and_then(serde_json::Value::as_object).into_iter().flatten() {
            for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
                let Some(operation) = item.get(method) else { continue };
                let Some(id) = operation.get("operationId").and_then(serde_json::Value::as_str) else { continue };
                operations.push(id.to_string());
                if id == operation_id {
                    found = Some((path.clone(), method, item, operation));
                }
            }
        }
        let Some((path, method, item, operation)) = found else {
            let near = closest(&operation_id, operations.iter().map(String::as_str));
            let help = if near.is_empty() { format!("the description has {} operations", operations.len()) } else { format!("did you mean {}?", one_of(&near)) };
            self.error(
                Diagnostic::error(Code::UnknownReference, operation_value.span, format!("no operation `{}` in `{reference}`", printable(&operation_id)))
                    .label("unknown operation")
                    .help(help),
            );
            return None;
        };
        let base = server(&description, &reference);
        let given: Vec<(&Key, &Value)> = match with.get("parameters") {
            Some(parameters) => self.expect_map(parameters)?.iter().map(|(k, v)| (k, v)).collect(),
            None => Vec::new(),
        };
        let declared: Vec<&serde_json::Value> =
            [item.get("parameters"), operation.get("parameters")].into_iter().flatten().filter_map(serde_json::Value::as_array).flatten().collect();
        let (mut params, mut query, mut headers, mut body) = (Vec::new(), Vec::new(), Vec::new(), None);
        for parameter in &declared {
            if parameter.get("$ref").is_some() {
                self.not_compiled(operation_value.span, "an OpenAPI parameter given by `$ref`");
                return None;
            }
            let (Some(name), Some(place)) = (parameter.get("name").and_then(serde_json::Value::as_str), parameter.get("in").and_then(serde_json::Value::as_str)) else { continue };
            let Some((_, value)) = given.iter().find(|(k, _)| k.name == name) else {
                if parameter.get("required").and_then(serde_json::Value::as_bool) == Some(true) || place == "path" {
                    let span = with.get("parameters").map_or(operation_value.span, |p| p.span);
                    self.error(
                        Diagnostic::error(Code::MissingField, span, format!("operation `{operation_id}` needs the parameter `{name}`"))
                            .label("missing parameter")
                            .help(format!("add `{name}:` under `parameters` (it goes in the {place})")),
                    );
                    return None;
                }
                continue;
            };
            let value = self.request_value(value, scope)?;
            match place {
                "path" => params.push((name.to_string(), value)),
                "query" => query.push((name.to_string(), value)),
                "header" => headers.push((name.to_string(), value)),
                "body" => body = Some(value),
                other => {
                    self.not_compiled(operation_value.span, &format!("an OpenAPI parameter in `{other}`"));
                    return None;
                }
            }
        }
        let names: Vec<&str> = declared.iter().filter_map(|p| p.get("name").and_then(serde_json::Value::as_str)).collect();
        for (key, _) in &given {
            if !names.contains(&key.name.as_str()) {
                self.unknown_field(key, &names, &format!("operation `{operation_id}`'s parameters"));
            }
        }
        let mut request = vec![("method".to_string(), JqValue::Json(serde_json::json!(method))), ("uri".to_string(), JqValue::Json(serde_json::json!(format!("{base}{path}"))))];
        request.push(("params".to_string(), JqValue::Map(params)));
        if !query.is_empty() {
            request.push(("query".to_string(), JqValue::Map(query)));
        }
        if !headers.is_empty() {
            request.push(("headers".to_string(), JqValue::Map(headers)));
        }
        if let Some(body) = body {
            request.push(("body".to_string(), body));
        }
        if let Some(auth) = with.get("authentication") {
            request.push(("auth".to_string(), self.authentication(auth, scope)?));
        }
        let redirect = match with.get("redirect") {
            Some(v) => self.boolean(v)?,
            None => false,
        };
        request.push(("redirect".to_string(), JqValue::Json(serde_json::json!(redirect))));
        let output = self.call_output(with)?;
        let policy = ActivityPolicy { max_attempts: 1, ..ActivityPolicy::default() };
        Some(NodeKind::Call { builtin: Builtin::CallHttp, request: JqValue::Map(request), output, policy })
    }

    fn unreadable<T>(&mut self, at: Span, reference: &str, why: &str) -> Option<T> {
        self.error(
            Diagnostic::error(Code::InvalidValue, at, format!("the OpenAPI description `{}` could not be read: {why}", printable(reference)))
                .label("not read")
                .help("wfc reads the description when it builds the flow, from the URL or from a path relative to the flow's file"),
        );
        None
    }

    fn call_output(&mut self, with: &Value) -> Option<CallOutput> {
        Some(match with.get("output").map(|v| self.enumerated("output", v, &["content", "response", "raw"])) {
            None => CallOutput::Content,
            Some(None) => return None,
            Some(Some(o)) if o == "response" => CallOutput::Response,
            Some(Some(o)) if o == "raw" => CallOutput::Raw,
            Some(Some(_)) => CallOutput::Content,
        })
    }

    /// A call of a function of `use.functions`: its `with` (computed on the caller's input) is
    /// the input of the function's task, which checks it against its `input.schema`.
    fn function_call(&mut self, entry: &Entry, function: &str, scope: &Scope) -> Option<Vec<Node>> {
        let definition = self.reusable.get(&("functions".to_string(), function.to_string())).cloned()?;
        let arguments = match entry.task.get("with") {
            Some(with) => self.jq_value(with, scope)?,
            None => JqValue::Json(serde_json::json!({})),
        };
        let with = entry.task.get("with").map_or(entry.task.span, |w| w.span);
        let task = Task {
            name: format!("{}-with", entry.name.name),
            reference: format!("{}/with", entry.reference),
            input: None,
            output: None,
            export: None,
            input_schema: None,
            output_schema: None,
            export_schema: None,
            result: TaskResult::Body,
        };
        let arguments = self.dsl_node(&format!("{}-with", entry.name.name), "with", with, NodeKind::Jq(JqStep::Set(arguments)), Some(task), None);
        let key = Key { name: function.to_string(), span: entry.task.get("call").map_or(entry.name.span, |c| c.span) };
        let body = self.task(&Entry { name: &key, task: &definition, reference: format!("/use/functions/{function}") }, &Scope::default())?;
        Some(vec![arguments, body])
    }

    /// A `call` of a name that is neither a call kind of the specification, nor a function of
    /// `use.functions`, nor an activity of a registry.
    fn unknown_call(&mut self, at: Span, name: &str) {
        let functions = self.reusable.keys().filter(|(kind, _)| kind == "functions").map(|(_, name)| name.clone());
        let known: Vec<String> = functions.chain(self.activities.keys().cloned()).chain(CALL_KINDS.iter().map(|k| k.to_string())).collect();
        let near = closest(name, known.iter().map(String::as_str));
        let declare = format!("declare `{}` under `use.functions`, or as an activity under `activities:` of a `--registry` file", printable(name));
        let help = if near.is_empty() { declare } else { format!("did you mean {}? Otherwise {declare}", one_of(&near)) };
        self.error(
            Diagnostic::error(Code::UnknownActivity, at, format!("`call: {}` names no function and no declared activity", printable(name))).label("unknown function").help(help),
        );
    }

    /// A `call` of an activity declared in a registry (`--registry`): served by another
    /// worker on its task queue, or by this one from a custom node type's crate. `with` is its
    /// input, computed on the task's input; one attempt, as every `call` (a `try` retries).
    fn declared_activity_call(&mut self, entry: &Entry, name: &str, scope: &Scope) -> Option<NodeKind> {
        let remote = self.activities.get(name)?.clone();
        let input = match entry.task.get("with") {
            Some(with) => {
                let mut strings = Vec::new();
                with.strings(&mut strings);
                if let Some(schema) = remote.input.as_ref().filter(|_| !strings.iter().any(|s| runtime_expression(s).is_some())) {
                    self.conforms(with, schema, &format!("the input of `{}`", remote.name), "its declared `input` schema");
                }
                self.jq_value(with, scope)?
            }
            None => JqValue::Json(serde_json::json!({})),
        };
        let policy = ActivityPolicy { max_attempts: 1, timeout_ms: remote.timeout_ms.unwrap_or(ActivityPolicy::default().timeout_ms), ..ActivityPolicy::default() };
        let input = Payload::Jq(input);
        Some(match remote.served {
            Served::Queue(task_queue) => NodeKind::Activity { activity: remote.name, task_queue, input, policy },
            Served::Crate(_) => NodeKind::Custom { node_type: remote.name, input, policy, local: false },
        })
    }

    /// An endpoint's authentication: a policy written in place, or one of
    /// `use.authentications` by name (`authentication: name` or `{use: name}`). The header it
    /// becomes is made by the activity, after the `$secrets` it reads are completed there.
    fn authentication(&mut self, auth: &Value, scope: &Scope) -> Option<JqValue> {
        let named = match auth.as_map() {
            Some([(key, name)]) if key.name == "use" => Some(name),
            _ => auth.as_str().is_some().then_some(auth),
        };
        match named {
            Some(name) => {
                let text = self.string(name)?;
                let definition = self.reusable_definition("authentications", &text, name.span)?;
                self.authentication_policy(&definition, scope)
            }
            None => self.authentication_policy(auth, scope),
        }
    }

    /// One authentication scheme: `basic`, `bearer`, `oauth2` or `oidc`, its settings written
    /// out or (`use: <secret>`) the value of a secret of `use.secrets`, a JSON object read
    /// inside the activity.
    fn authentication_policy(&mut self, auth: &Value, scope: &Scope) -> Option<JqValue> {
        let Some([(scheme, policy)]) = auth.as_map() else {
            self.wrong_type(auth, "a map with one authentication scheme");
            return None;
        };
        const OAUTH2: &[&str] = &["authority", "endpoints", "grant", "client", "request", "issuers", "scopes", "audiences", "username", "password", "subject", "actor", "use"];
        let fields: &[&str] = match scheme.name.as_str() {
            "basic" => &["username", "password", "use"],
            "bearer" => &["token", "use"],
            "oauth2" | "oidc" => OAUTH2,
            other => {
                self.not_compiled(scheme.span, &format!("`{other}` authentication"));
                return None;
            }
        };
        self.known_fields(policy, fields, &format!("`{}` authentication", scheme.name));
        if let Some(secret) = policy.get("use") {
            let name = self.declared_secret(secret)?;
            let jq = Jq { source: format!("$secrets.{name} | fromjson"), span: secret.span, vars: vec!["$secrets".to_string()] };
            return Some(JqValue::Map(vec![(scheme.name.clone(), JqValue::Secret(jq))]));
        }
        if matches!(scheme.name.as_str(), "oauth2" | "oidc") {
            self.oauth2_supported(policy)?;
        }
        self.request_value(auth, scope)
    }

    /// The OAuth2 flows a worker can run unattended: a grant of client credentials, a password,
    /// or a token exchange; the client authenticated in the request body, by `basic`, or not.
    fn oauth2_supported(&mut self, policy: &Value) -> Option<()> {
        const GRANTS: &[&str] = &["client_credentials", "password", "urn:ietf:params:oauth:grant-type:token-exchange"];
        let grant = self.required(policy, "grant", policy.span)?;
        if let Some(name) = grant.as_str().filter(|g| runtime_expression(g).is_none() && !GRANTS.contains(g)) {
            self.not_compiled(grant.span, &format!("the OAuth2 `{}` grant", printable(name)));
            return None;
        }
        let method = policy.get("client").and_then(|c| c.get("authentication"));
        if let Some((at, name)) = method.and_then(|m| Some((m.span, m.as_str()?))).filter(|(_, m)| !["client_secret_post", "client_secret_basic", "none"].contains(m)) {
            self.not_compiled(at, &format!("the OAuth2 client authentication `{}`", printable(name)));
            return None;
        }
        if let Some(issuers) = policy.get("issuers") {
            self.not_compiled(issuers.span, "checking a token's issuer (`issuers`)");
            return None;
        }
        self.required(policy, "authority", policy.span)?;
        Some(())
    }

    /// A secret named by `use`: it must be one of `use.secrets`.
    fn declared_secret(&mut self, name: &Value) -> Option<String> {
        let text = self.string(name)?;
        if self.reusable.contains_key(&("secrets".to_string(), text.clone())) {
            return Some(text);
        }
        let declared: Vec<&str> = self.reusable.keys().filter(|(kind, _)| kind == "secrets").map(|(_, n)| n.as_str()).collect();
        let near = closest(&text, declared.iter().copied());
        let declare = format!("declare it: `use: {{secrets: [{}]}}`; the worker reads it from the environment variable of that name", printable(&text));
        let help = if near.is_empty() { declare } else { format!("did you mean {}? Otherwise {declare}", one_of(&near)) };
        self.error(
            Diagnostic::error(Code::UnknownReference, name.span, format!("the secret `{}` is not declared under `use.secrets`", printable(&text)))
                .label("undeclared secret")
                .help(help),
        );
        None
    }

    /// A definition of `use.<kind>` by name.
    fn reusable_definition(&mut self, kind: &str, name: &str, span: Span) -> Option<Value> {
        if let Some(found) = self.reusable.get(&(kind.to_string(), name.to_string())) {
            return Some(found.clone());
        }
        let names: Vec<&str> = self.reusable.keys().filter(|(k, _)| k == kind).map(|(_, n)| n.as_str()).collect();
        let near = closest(name, names.iter().copied());
        let help = if near.is_empty() { format!("define it under `use.{kind}`") } else { format!("did you mean {}?", one_of(&near)) };
        self.error(Diagnostic::error(Code::UnknownReference, span, format!("no `use.{kind}` named `{}`", printable(name))).label("not defined").help(help));
        None
    }

    /// A `catch.retry` policy: `delay`, `backoff` (constant or exponential) and
    /// `limit.attempt.count` retries.
    fn retry_policy(&mut self, retry: &Value) -> Option<crate::model::RetryPolicy> {
        self.known_fields(retry, &["when", "exceptWhen", "limit", "delay", "backoff", "jitter"], "a retry policy");
        for key in ["when", "exceptWhen", "jitter"] {
            if let Some(value) = retry.get(key) {
                self.not_compiled(value.span, &format!("a retry policy's `{key}`"));
                return None;
            }
        }
        let delay_ms = match retry.get("delay") {
            Some(delay) => self.dsl_duration(delay)?,
            None => 0,
        };
        let exponential = match retry.get("backoff").and_then(|b| b.as_map()) {
            None => false,
            Some([(kind, _)]) if kind.name == "constant" => false,
            Some([(kind, _)]) if kind.name == "exponential" => true,
            Some(entries) => {
                let span = entries.first().map_or(retry.span, |(k, _)| k.span);
                self.not_compiled(span, "a backoff other than `constant` or `exponential`");
                return None;
            }
        };
        let mut retries = 3;
        if let Some(limit) = retry.get("limit") {
            self.known_fields(limit, &["attempt", "duration"], "a retry limit");
            if let Some(duration) = limit.get("duration") {
                self.not_compiled(duration.span, "a retry limit by `duration`");
                return None;
            }
            if let Some(attempt) = limit.get("attempt") {
                self.known_fields(attempt, &["count", "duration"], "`limit.attempt`");
                if let Some(duration) = attempt.get("duration") {
                    self.not_compiled(duration.span, "a retry limit on each attempt's `duration`");
                    return None;
                }
                if let Some(count) = attempt.get("count") {
                    retries = self.uint(count, 0, 1_000)?;
                }
            }
        }
        // `count` counts retries; the first attempt is not one.
        let max_attempts = u32::try_from(retries + 1).unwrap_or(u32::MAX);
        // The specification sets no ceiling on an exponential backoff; ten doublings bound it.
        Some(crate::model::RetryPolicy { max_attempts, delay_ms, exponential, max_delay_ms: delay_ms.saturating_mul(1 << 10).max(delay_ms) })
    }

    /// A task's name, pointer and `input`, `output` and `export` stages.
    fn task_data(&mut self, entry: &Entry, scope: &Scope, result: TaskResult) -> Option<Task> {
        type Stage = (Option<JqValue>, Option<serde_json::Value>);
        let stage = |cx: &mut Self, key: &str, transform: &str, field: Field| -> Option<Stage> {
            let Some(value) = entry.task.get(key) else { return Some((None, None)) };
            cx.known_fields(value, &[transform, "schema"], &format!("`{key}`"));
            let schema = match value.get("schema") {
                Some(schema) => Some(cx.task_schema(schema)?),
                None => None,
            };
            let transform = match value.get(transform) {
                Some(t) => Some(cx.transform(t, scope, field)?),
                None => None,
            };
            Some((transform, schema))
        };
        let (input, input_schema) = stage(self, "input", "from", Field::Before)?;
        let (output, output_schema) = stage(self, "output", "as", Field::Task)?;
        let (export, export_schema) = stage(self, "export", "as", Field::Export)?;
        Some(Task { name: entry.name.name.clone(), reference: entry.reference.clone(), input, output, export, input_schema, output_schema, export_schema, result })
    }

    /// A task's `schema` (`format: json`, `document`): a JSON Schema the worker checks.
    fn task_schema(&mut self, schema: &Value) -> Option<serde_json::Value> {
        self.known_fields(schema, &["format", "document", "resource"], "a schema");
        if let Some(format) = schema.get("format")
            && !format.as_str().is_some_and(|f| f == "json" || f.starts_with("json:"))
        {
            self.not_compiled(format.span, "a schema format other than JSON Schema");
            return None;
        }
        if let Some(resource) = schema.get("resource") {
            self.not_compiled(resource.span, "a schema read from a `resource`");
            return None;
        }
        let document = self.required(schema, "document", schema.span)?;
        let json = document.to_json();
        if let Err(e) = jsonschema::validator_for(&json) {
            self.error(
                Diagnostic::error(Code::InvalidValue, document.span, format!("not a valid JSON Schema: {e}"))
                    .label("invalid schema")
                    .help("write a JSON Schema (draft 2020-12) under `document`"),
            );
            return None;
        }
        Some(json)
    }

    /// `input.from`, `output.as`, `export.as`: a jq string (with or without `${ }`) or an
    /// object of values whose `${ }` strings are jq.
    fn transform(&mut self, value: &Value, scope: &Scope, field: Field) -> Option<JqValue> {
        match &value.kind {
            Kind::String(_) => self.expression(value, scope, field).map(JqValue::Jq),
            _ => self.jq_value_in(value, scope, field),
        }
    }

    /// A field that is always an expression (`if`, `when`, `for.in`, `while`): jq with or
    /// without `${ }`.
    fn expression(&mut self, value: &Value, scope: &Scope, field: Field) -> Option<Jq> {
        let Some(text) = value.as_str() else {
            self.wrong_type(value, "a jq expression");
            return None;
        };
        let (offset, code) = match runtime_expression(text) {
            Some((offset, code)) => (offset, code),
            None => (0, text),
        };
        self.compile_jq(value, text, offset, code, scope, field)
    }

    fn jq_value(&mut self, value: &Value, scope: &Scope) -> Option<JqValue> {
        self.jq_value_in(value, scope, Field::Task)
    }

    /// A value of a `call`'s request: a leaf that reads `$secrets` is left to the activity.
    fn request_value(&mut self, value: &Value, scope: &Scope) -> Option<JqValue> {
        self.jq_value_in(value, scope, Field::Activity)
    }

    /// A value whose strings that are whole `${ }` expressions are jq.
    fn jq_value_in(&mut self, value: &Value, scope: &Scope, field: Field) -> Option<JqValue> {
        Some(match &value.kind {
            Kind::String(text) => match runtime_expression(text) {
                Some((offset, code)) => {
                    let jq = self.compile_jq(value, text, offset, code, scope, field)?;
                    if jq.vars.iter().any(|v| v == "$secrets") { JqValue::Secret(self.secret_reads(jq)?) } else { JqValue::Jq(jq) }
                }
                None => JqValue::Json(value.to_json()),
            },
            Kind::Seq(items) => {
                let items = items.iter().map(|item| self.jq_value_in(item, scope, field)).collect::<Option<Vec<_>>>()?;
                if items.iter().all(|i| matches!(i, JqValue::Json(_))) { JqValue::Json(value.to_json()) } else { JqValue::List(items) }
            }
            Kind::Map(entries) => {
                let entries = entries.iter().map(|(k, v)| Some((k.name.clone(), self.jq_value_in(v, scope, field)?))).collect::<Option<Vec<_>>>()?;
                if entries.iter().all(|(_, v)| matches!(v, JqValue::Json(_))) { JqValue::Json(value.to_json()) } else { JqValue::Map(entries) }
            }
            _ => JqValue::Json(value.to_json()),
        })
    }

    /// An expression the activity computes: it reads `$secrets` by name (`$secrets.NAME`, the
    /// worker's environment variable `NAME`) and otherwise only the task's input (`.`), since
    /// nothing else of the run is there.
    fn secret_reads(&mut self, jq: Jq) -> Option<Jq> {
        if let Some(other) = jq.vars.iter().find(|v| *v != "$secrets") {
            self.error(Diagnostic::error(Code::EnvMixedWithData, jq.span, format!("this expression reads `$secrets` and `{other}`")).label("secrets with run data").help(
                "an expression that reads `$secrets` is computed inside the activity, where only `$secrets` and the task's input (`.`) are; compute the rest in another field",
            ));
            return None;
        }
        let by_name = jq.source.match_indices("$secrets").all(|(at, _)| {
            let rest = &jq.source[at + "$secrets".len()..];
            rest.strip_prefix('.').is_some_and(|name| name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
        });
        if !by_name {
            self.error(
                Diagnostic::error(Code::EnvByName, jq.span, "`$secrets` is read by name")
                    .label("not by name")
                    .help("write `$secrets.NAME`: the worker reads exactly the environment variables named, nothing else"),
            );
            return None;
        }
        // A document that declares its secrets reads no other.
        let declared: Vec<&str> = self.reusable.keys().filter(|(kind, _)| kind == "secrets").map(|(_, n)| n.as_str()).collect();
        if !declared.is_empty()
            && let Some(name) = wfc_expr::jq::secret_names(&jq.source).into_iter().find(|n| !declared.contains(n))
        {
            let near = closest(name, declared.iter().copied());
            let declare = format!("add it to `use.secrets`, which lists {}", one_of(&declared));
            let help = if near.is_empty() { declare } else { format!("did you mean {}? Otherwise {declare}", one_of(&near)) };
            let diagnostic =
                Diagnostic::error(Code::UnknownReference, jq.span, format!("the secret `{name}` is not declared under `use.secrets`")).label("undeclared secret").help(help);
            self.error(diagnostic);
            return None;
        }
        Some(jq)
    }

    fn compile_jq(&mut self, value: &Value, text: &str, offset: usize, code: &str, scope: &Scope, field: Field) -> Option<Jq> {
        let globals = scope.globals(field);
        let names: Vec<&str> = globals.iter().map(String::as_str).collect();
        match wfc_expr::jq::compile(code, &names) {
            Ok(_) => Some(Jq { source: code.to_string(), span: self.source.span_in_string(value.span, text, offset, code.len()), vars: used_vars(code, &names) }),
            Err(errors) => {
                let positions = self.source.string_positions(value.span, text);
                for error in errors {
                    let span = positions.span(offset + error.offset, error.len);
                    let name = code.get(error.offset..error.offset + error.len).unwrap_or_default();
                    let diagnostic = if name.starts_with('$') && error.message.contains("not available") {
                        let help = match name {
                            "$secrets" => {
                                "`$secrets` is read only in the request of a `call`, which the activity completes, so a secret never enters the workflow's history".to_string()
                            }
                            n if ARGUMENTS.contains(&n) => format!("`{n}` is not available in this field (the specification's table of runtime expression arguments)"),
                            _ => {
                                let bound: Vec<&str> = names.iter().copied().filter(|n| !ARGUMENTS.contains(n)).collect();
                                if bound.is_empty() { "no loop or `catch` around this place binds that name".to_string() } else { format!("in scope here: {}", one_of(&bound)) }
                            }
                        };
                        Diagnostic::error(Code::UnknownReference, span, format!("`{name}` is not in scope")).label("not in scope").help(help)
                    } else {
                        Diagnostic::error(Code::ExpressionSyntax, span, error.message.clone()).label("here").help("runtime expressions are jq (https://jqlang.org/manual/)")
                    };
                    self.error(diagnostic);
                }
                None
            }
        }
    }

    /// A node of this form: its id from the task's name (unique in the flow, copies of a task
    /// reached on two paths numbered), the task's name as the node's.
    fn dsl_node(&mut self, hint: &str, type_name: &str, span: Span, kind: NodeKind, task: Option<Task>, key: Option<&Key>) -> Node {
        let mut base: String = hint.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' }).collect();
        if !base.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            base.insert(0, '_');
        }
        base.truncate(super::MAX_NAME - 8);
        let mut id = base.clone();
        let mut n = 1;
        while self.ids.contains_key(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        let id_span = key.map_or(span, |k| k.span);
        self.ids.insert(id.clone(), id_span);
        let (line, _) = self.source.line_col(id_span.start);
        Node {
            id,
            id_span,
            type_name: type_name.to_string(),
            span,
            type_span: id_span,
            line,
            name: key.map(|k| k.name.clone()),
            description: None,
            kind,
            on_error: None,
            patch: None,
            task: task.map(Box::new),
        }
    }
}

/// The OpenAPI descriptions a Serverless Workflow document's `call: openapi` tasks name.
pub fn openapi_documents(root: &Value) -> Vec<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(value) = stack.pop() {
        match &value.kind {
            Kind::Map(entries) => {
                if value.get("call").and_then(Value::as_str) == Some("openapi")
                    && let Some(endpoint) = value.get("with").and_then(|w| w.get("document")).and_then(|d| d.get("endpoint"))
                    && let Some(reference) = endpoint.as_str().or_else(|| endpoint.get("uri").and_then(Value::as_str))
                {
                    found.insert(reference.to_string());
                }
                stack.extend(entries.iter().map(|(_, v)| v));
            }
            Kind::Seq(items) => stack.extend(items),
            _ => {}
        }
    }
    found.into_iter().collect()
}

/// Where an OpenAPI description's operations are served: Swagger 2.0's `schemes`, `host` and
/// `basePath`, or OpenAPI 3's first `servers` URL; the description's own origin where it
/// names none (or a relative one).
fn server(description: &serde_json::Value, reference: &str) -> String {
    let origin = reference.find("://").and_then(|at| reference[at + 3..].find('/').map(|end| &reference[..at + 3 + end])).unwrap_or_default();
    let text = |key: &str| description.get(key).and_then(serde_json::Value::as_str);
    if description.get("swagger").is_some() {
        let scheme = description.get("schemes").and_then(|s| s.get(0)).and_then(serde_json::Value::as_str).or_else(|| origin.split("://").next()).unwrap_or("https");
        let host = text("host").map(str::to_string).unwrap_or_else(|| origin.split("://").nth(1).unwrap_or_default().to_string());
        return format!("{scheme}://{host}{}", text("basePath").unwrap_or_default().trim_end_matches('/'));
    }
    let url = description.get("servers").and_then(|s| s.get(0)).and_then(|s| s.get("url")).and_then(serde_json::Value::as_str).unwrap_or_default();
    if url.contains("://") { url.trim_end_matches('/').to_string() } else { format!("{origin}{}", url.trim_end_matches('/')) }
}

/// The text inside a whole-string `${ }` and its byte offset, if the string is one.
fn runtime_expression(text: &str) -> Option<(usize, &str)> {
    let trimmed = text.trim();
    let inner = trimmed.strip_prefix("${")?.strip_suffix('}')?;
    let start = text.len() - text.trim_start().len() + 2;
    (!inner.trim().is_empty()).then_some((start, inner))
}

/// The `$` names of `globals` that `code` mentions (a superset of what it reads: a name in a
/// string literal counts too, which only costs binding it).
fn used_vars(code: &str, globals: &[&str]) -> Vec<String> {
    globals
        .iter()
        .filter(|name| code.match_indices(*name).any(|(i, _)| !code[i + name.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')))
        .map(|n| n.to_string())
        .collect()
}

/// An ISO 8601 duration (`P1DT2H`, `PT0.5S`) in milliseconds; years and months are refused,
/// as their length depends on the calendar.
fn iso_duration(text: &str) -> Option<u64> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total = 0f64;
    let mut parse = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
            } else {
                let factor = units.iter().find(|(u, _)| *u == c)?.1;
                total += number.parse::<f64>().ok()? * factor;
                number.clear();
            }
        }
        number.is_empty().then_some(())
    };
    parse(date, &[('W', 604_800_000.0), ('D', 86_400_000.0)])?;
    if let Some(time) = time {
        if time.is_empty() {
            return None;
        }
        parse(time, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1_000.0)])?;
    }
    (rest != "T" && !rest.is_empty() && total.is_finite() && total < u64::MAX as f64).then_some(total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations_read_as_milliseconds() {
        assert_eq!(iso_duration("PT1S"), Some(1_000));
        assert_eq!(iso_duration("P1DT2H30M"), Some(95_400_000));
        assert_eq!(iso_duration("PT0.25S"), Some(250));
        assert_eq!(iso_duration("P1Y"), None);
        assert_eq!(iso_duration("P"), None);
        assert_eq!(iso_duration("PT"), None);
    }

    #[test]
    fn only_whole_strings_are_runtime_expressions() {
        assert_eq!(runtime_expression("${ .a }"), Some((2, " .a ")));
        assert_eq!(runtime_expression("  ${.a}"), Some((4, ".a")));
        assert_eq!(runtime_expression("a ${.a}"), None);
        assert_eq!(used_vars("$input.x + $inputs", &["$input", "$inputs"]), vec!["$input", "$inputs"]);
        assert_eq!(used_vars("$inputs", &["$input"]), Vec::<String>::new());
    }
}
