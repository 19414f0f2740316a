//! One async fn per node: the node's action, or how a composite runs its children. Control flow
//! is spelled out here as plain Rust (`?` for a sequence, `if` for a branch, `match` for a
//! switch); the runtime's helpers only do the bookkeeping of concurrency, loops and deadlines.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::items::{Items, policy_ref};
use super::literal::{doc_lines, jq, jq_value, optional_jq_value, optional_json, optional_millis, template};
use crate::model::{Assertion, Branch, CallOutput, Decorator, Flow, Iterate, JqStep, LogLevel, Node, NodeKind, Payload, Quorum, Repeat, Task, TaskResult, TryThen};

/// The node fn of `node`: its doc comment, its `NodeInfo`, its body and its `onError` routing.
pub fn node_fn(flow: &Flow, node: &Node, items: &Items) -> TokenStream {
    let fn_name = &items.node_fns[&node.id];
    let mut doc = vec![format!("`{}`: {} (line {}).", node.id, node.type_name, node.line)];
    if let Some(name) = &node.name {
        doc.push(String::new());
        doc.push(name.clone());
    }
    if let Some(description) = &node.description {
        doc.push(String::new());
        doc.extend(description.lines().map(str::to_string));
    }
    let doc = doc_lines(&doc);
    let (id, kind) = (&node.id, &node.type_name);
    let line = Literal::u32_unsuffixed(u32::try_from(node.line).unwrap_or(u32::MAX));
    let info = if node.passes_output() {
        quote! { NodeInfo::passing(#id, #kind, #line) }
    } else {
        quote! { NodeInfo::new(#id, #kind, #line) }
    };
    let info = match items.releases.get(&node.id) {
        Some(released) => quote! { #info.releasing(&[#(#released),*]) },
        None => info,
    };
    let info = match &node.patch {
        Some(crate::model::Patch { id, when_patched }) => quote! { #info.patched(#id, #when_patched) },
        None => info,
    };
    let info = if node.task.is_some() {
        quote! { #info.task() }
    } else {
        info
    };
    let body = body(flow, node, items);
    // A Serverless Workflow task: its data flow around its body.
    let (task, body) = match &node.task {
        Some(spec) => {
            let spec = task(spec);
            (quote! { const TASK: Task = #spec; }, quote! { cx.task(&NODE, &TASK, #body) })
        }
        None => (quote! {}, body),
    };
    let run = match &node.on_error {
        Some(handler) => {
            let handler = &items.node_fns[&handler.id];
            quote! {
                match cx.node(&NODE, body).await {
                    Err(failure) if !failure.cancelled => #handler(&cx.with_error(&failure)).await,
                    result => result,
                }
            }
        }
        None => quote! { cx.node(&NODE, body).await },
    };
    quote! {
        #doc
        async fn #fn_name(cx: &Cx<'_>) -> NodeResult {
            const NODE: NodeInfo = #info;
            #task
            let body = #body;
            #run
        }
    }
}

/// A `listen`'s `Listen` constant: its strategy, filters, `until`, what it reads of each
/// event, and the signals events arrive as.
pub(super) fn listen(listen: &crate::model::Listen) -> TokenStream {
    use crate::model::{Consume, EventRead, Until};
    let consume = |c: Consume| match c {
        Consume::All => quote! { Consume::All },
        Consume::Any => quote! { Consume::Any },
        Consume::One => quote! { Consume::One },
    };
    let filters = |filters: &[crate::model::EventFilter]| {
        let each = filters.iter().map(|f| {
            let kind = option(f.kind.as_ref().map(|k| quote! { #k }));
            let with = f.with.iter().map(|(attribute, value)| {
                let value = jq_value(value);
                quote! { (#attribute, #value) }
            });
            quote! { EventFilter { kind: #kind, with: &[#(#with),*] } }
        });
        quote! { &[#(#each),*] }
    };
    let until = option(listen.until.as_ref().map(|until| match until {
        Until::Condition(condition) => {
            let condition = jq(condition);
            quote! { Until::Condition(#condition) }
        }
        Until::Events(c, fs) => {
            let (c, fs) = (consume(*c), filters(fs));
            quote! { Until::Events(#c, #fs) }
        }
    }));
    let read = match listen.read {
        EventRead::Data => quote! { EventRead::Data },
        EventRead::Envelope => quote! { EventRead::Envelope },
        EventRead::Raw => quote! { EventRead::Raw },
    };
    let (strategy, filters, signals) = (consume(listen.consume), filters(&listen.filters), listen.signals());
    quote! { Listen { consume: #strategy, filters: #filters, until: #until, read: #read, signals: &[#(#signals),*] } }
}

/// A task's `Task` constant: name, pointer, data flow stages and what its output is made of.
fn task(spec: &Task) -> TokenStream {
    let Task { name, reference, input, output, export, input_schema, output_schema, export_schema, result } = spec;
    let (input, output, export) = (optional_jq_value(input.as_ref()), optional_jq_value(output.as_ref()), optional_jq_value(export.as_ref()));
    let (input_schema, output_schema, export_schema) = (optional_json(input_schema.as_ref()), optional_json(output_schema.as_ref()), optional_json(export_schema.as_ref()));
    let result = match result {
        TaskResult::Body => quote! { TaskResult::Body },
        TaskResult::Data => quote! { TaskResult::Data },
        TaskResult::Input => quote! { TaskResult::Input },
        TaskResult::Winner => quote! { TaskResult::Winner },
    };
    quote! {
        Task {
            name: #name, reference: #reference,
            input: #input, output: #output, export: #export,
            input_schema: #input_schema, output_schema: #output_schema, export_schema: #export_schema,
            result: #result,
        }
    }
}

fn call(items: &Items, child: &Node, cx: TokenStream) -> TokenStream {
    let f = &items.node_fns[&child.id];
    quote! { #f(#cx).await }
}

/// A child's run as a future, not awaited yet.
fn future(items: &Items, child: &Node, cx: TokenStream) -> TokenStream {
    let f = &items.node_fns[&child.id];
    quote! { #f(#cx) }
}

/// Children in order; the last child's output is the sequence's.
fn sequence(items: &Items, children: &[&Node], cx: TokenStream) -> TokenStream {
    let Some((last, init)) = children.split_last() else { return quote! { Ok(Value::Null) } };
    let init: Vec<TokenStream> = init
        .iter()
        .map(|c| {
            let call = call(items, c, cx.clone());
            quote! { #call?; }
        })
        .collect();
    let last = call(items, last, cx);
    quote! { #(#init)* #last }
}

/// `cx.skip(&[(start, end), …])` for the nodes of branches not taken: spans of
/// `SETTINGS.nodes`, so the code stays linear in the flow however many branches a choice has.
fn skip(items: &Items, nodes: &[&Node]) -> TokenStream {
    let ids: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    if ids.is_empty() {
        return quote! {};
    }
    let ranges = items.spans(&ids);
    quote! { cx.skip(#ranges); }
}

fn u64_lit(n: u64) -> TokenStream {
    if n == u64::MAX {
        quote! { u64::MAX }
    } else {
        let n = Literal::u64_unsuffixed(n);
        quote! { #n }
    }
}

fn usize_lit(n: u64) -> TokenStream {
    if n >= u32::MAX as u64 {
        quote! { usize::MAX }
    } else {
        let n = Literal::usize_unsuffixed(n as usize);
        quote! { #n }
    }
}

/// A loop or retry closure: the runtime hands it an owned `Cx` for the pass.
fn closure(call: TokenStream) -> TokenStream {
    quote! { |_, cx| Box::pin(async move { #call }) }
}

/// The nodes a loop resets for each iteration (spans of `SETTINGS.nodes`) and the ids
/// around it (itself and its ancestors).
fn loop_ids(node: &Node, items: &Items) -> (TokenStream, TokenStream) {
    let children: Vec<&str> = node.children().into_iter().chain(node.on_error.as_deref()).map(|n| n.id.as_str()).collect();
    let around = items.ancestry(&node.id);
    (items.spans(&children), quote! { &[#(#around),*] })
}

fn body(flow: &Flow, node: &Node, items: &Items) -> TokenStream {
    let run = |child: &Node| call(items, child, quote! { cx });
    let or_null = |child: Option<&Node>| child.map_or(quote! { Ok(Value::Null) }, run);
    match &node.kind {
        NodeKind::Sequence(children) => {
            let steps = sequence(items, &children.iter().collect::<Vec<_>>(), quote! { cx });
            quote! { async { #steps } }
        }
        NodeKind::ReactiveSequence(children) => reactive(items, &children.iter().collect::<Vec<_>>()),
        NodeKind::Selector(children) => {
            let Some((last, init)) = children.split_last() else { return quote! { async { cx.succeed() } } };
            let tries = init.iter().map(|c| {
                let call = run(c);
                quote! {
                    if let Some(done) = settled(#call) {
                        return done;
                    }
                }
            });
            let last = run(last);
            quote! { async { #(#tries)* #last } }
        }
        NodeKind::Parallel { children, quorum, at_once } => parallel(items, &children.iter().collect::<Vec<_>>(), *quorum, at_once.unwrap_or(u64::MAX)),
        NodeKind::Conditional { condition, then, otherwise } => {
            let condition = &condition.source;
            let (then_call, else_call) = (run(then), or_null(otherwise.as_deref()));
            let skip_then = skip(items, &[then]);
            let skip_else = skip(items, &otherwise.as_deref().into_iter().collect::<Vec<_>>());
            quote! {
                async {
                    if cx.choose(&NODE, #condition)? {
                        #skip_else
                        #then_call
                    } else {
                        #skip_then
                        #else_call
                    }
                }
            }
        }
        NodeKind::GuardedConditional { condition, then, otherwise } => {
            // btree's form: the condition node's success picks `then`.
            let (condition, then_call, else_call) = (run(condition), run(then), or_null(otherwise.as_deref()));
            let skip_then = skip(items, &[then]);
            let skip_else = skip(items, &otherwise.as_deref().into_iter().collect::<Vec<_>>());
            quote! {
                async {
                    match #condition {
                        Ok(_) => {
                            #skip_else
                            #then_call
                        }
                        Err(failure) if failure.cancelled => Err(failure),
                        Err(_) => {
                            #skip_then
                            #else_call
                        }
                    }
                }
            }
        }
        NodeKind::Switch { value, cases, default } => {
            let source = &value.source;
            let every: Vec<&Node> = cases.iter().map(|(_, n)| n).chain(default.as_deref()).collect();
            let arms = cases.iter().map(|(label, case)| {
                let others: Vec<&Node> = every.iter().copied().filter(|n| n.id != case.id).collect();
                let skip_others = skip(items, &others);
                let call = run(case);
                quote! {
                    #label => {
                        #skip_others
                        #call
                    }
                }
            });
            let skip_cases = skip(items, &cases.iter().map(|(_, n)| n).collect::<Vec<_>>());
            let default = or_null(default.as_deref());
            quote! {
                async {
                    match cx.switch(&NODE, #source)?.as_str() {
                        #(#arms)*
                        _ => {
                            #skip_cases
                            #default
                        }
                    }
                }
            }
        }
        NodeKind::Repeat(repeat) => tree_loop(node, repeat, items),
        NodeKind::Recovery { attempt, catch, finally } => {
            let attempt = run(attempt);
            let result = match catch {
                Some(catch) => {
                    let catch = call(items, catch, quote! { &cx.with_error(&failure) });
                    quote! {
                        match #attempt {
                            Err(failure) if !failure.cancelled => #catch,
                            done => done,
                        }
                    }
                }
                None => attempt,
            };
            match finally {
                Some(finally) => {
                    let finally = run(finally);
                    quote! {
                        async {
                            let result = #result;
                            if result.as_ref().is_err_and(|f| f.cancelled) {
                                return result;
                            }
                            #finally?;
                            result
                        }
                    }
                }
                None => quote! { async { #result } },
            }
        }
        NodeKind::Timeout { ms, child } => {
            let ms = Literal::u64_unsuffixed(*ms);
            let child = future(items, child, quote! { &inner });
            quote! {
                async {
                    let inner = cx.fork();
                    cx.timeout(&NODE, ::std::time::Duration::from_millis(#ms), &inner, #child).await
                }
            }
        }
        NodeKind::Retry { policy, child } => {
            let attempts = Literal::u32_unsuffixed(policy.max_attempts);
            let (delay, max_delay) = (Literal::u64_unsuffixed(policy.delay_ms), Literal::u64_unsuffixed(policy.max_delay_ms));
            let exponential = policy.exponential;
            let (body, _) = loop_ids(node, items);
            let each = call(items, child, quote! { &cx });
            quote! {
                cx.retry(&NODE, RetrySpec { max_attempts: #attempts, delay_ms: #delay, exponential: #exponential, max_delay_ms: #max_delay }, #body, |cx| Box::pin(async move { #each }))
            }
        }
        NodeKind::Decorated { decorator, child } => {
            let child = run(child);
            match decorator {
                Decorator::Invert => quote! { async { invert(#child) } },
                Decorator::ForceSuccess => quote! { async { force_success(#child) } },
                Decorator::ForceFailure => quote! { async { force_failure(#child) } },
                Decorator::RunOnce => quote! { async { if cx.first_time(&NODE) { #child } else { Ok(Value::Null) } } },
            }
        }
        NodeKind::Precondition { condition, child } => {
            let source = &condition.source;
            let child = run(child);
            quote! {
                async {
                    cx.check(#source)?;
                    #child
                }
            }
        }
        NodeKind::SoftAssert(Assertion::Condition(condition)) => {
            let source = &condition.source;
            quote! { async { cx.soft_assert(&NODE, cx.condition(#source)) } }
        }
        NodeKind::SoftAssert(Assertion::Child(child)) => {
            let call = run(child);
            quote! { async { cx.soft_assert(&NODE, #call.map(|_| true)) } }
        }
        NodeKind::Delay { duration_ms, child } => {
            let ms = Literal::u64_unsuffixed(*duration_ms);
            let sleep = quote! { cx.sleep(&NODE, ::std::time::Duration::from_millis(#ms)) };
            match child {
                Some(child) => {
                    let c = run(child);
                    quote! { async { #sleep.await?; #c } }
                }
                None => sleep,
            }
        }
        NodeKind::Builtin { builtin, config, policy } => {
            let config = template(config);
            let policy = policy_ref(flow, policy);
            let function = format_ident!("{}", builtin.runtime_fn());
            quote! { cx.builtin(&NODE, crate::activities::Activities::#function, #config, #policy) }
        }
        NodeKind::Activity { activity, task_queue, input, policy } => {
            let ty = &items.remote_types[activity];
            let policy = policy_ref(flow, policy);
            match input {
                Payload::Template(input) => {
                    let input = template(input);
                    quote! { cx.remote(&NODE, crate::activities::#ty, #task_queue, #input, #policy) }
                }
                Payload::Jq(with) => {
                    let with = jq_value(with);
                    quote! { cx.call_activity(&NODE, crate::activities::#ty, Some(#task_queue), &#with, #policy) }
                }
            }
        }
        NodeKind::Custom { node_type, input, policy, local } => {
            // Lowering makes a `Custom` node only of a declared custom type, so this always finds it.
            let Some((krate, custom)) = items.custom(node_type) else { return quote! { ::core::compile_error!("undeclared custom node type") } };
            let (server, method) = (&krate.server, &custom.method);
            let policy = policy_ref(flow, policy);
            match input {
                Payload::Template(input) => {
                    let input = template(input);
                    let call = if *local {
                        quote! { local }
                    } else {
                        quote! { custom }
                    };
                    quote! { cx.#call(&NODE, crate::activities::#server::#method, #input, #policy) }
                }
                Payload::Jq(with) => {
                    let with = jq_value(with);
                    quote! { cx.call_activity(&NODE, crate::activities::#server::#method, None, &#with, #policy) }
                }
            }
        }
        NodeKind::Child { workflow, task_queue, input } => {
            let sibling = items.siblings.get(workflow.as_str());
            let task_queue = task_queue.as_deref().or(sibling.map(|s| s.task_queue.as_str())).unwrap_or(workflow);
            let schema = optional_json(sibling.and_then(|s| s.input_schema.as_ref()));
            let start = match input {
                Some(Payload::Jq(value)) => {
                    let value = jq_value(value);
                    quote! { cx.run_workflow(&NODE, &CHILD, &#value) }
                }
                input => {
                    let input = match input {
                        Some(Payload::Template(input)) => template(input),
                        _ => quote! { Template::Map(&[]) },
                    };
                    quote! { cx.child(&NODE, &CHILD, #input) }
                }
            };
            quote! {{
                const CHILD: ChildFlow = ChildFlow { workflow: #workflow, task_queue: #task_queue, input_schema: #schema };
                #start
            }}
        }
        NodeKind::WaitSignal(spec) => {
            let signal = &spec.signal;
            let schema = optional_json(spec.schema.as_ref());
            let timeout = optional_millis(spec.timeout_ms);
            let on_timeout = if spec.continue_on_timeout {
                quote! { OnTimeout::Continue }
            } else {
                quote! { OnTimeout::Fail }
            };
            let wait = quote! { const WAIT: SignalWait = SignalWait { signal: #signal, schema: #schema, timeout: #timeout, on_timeout: #on_timeout }; };
            match spec.listen.as_ref().map(listen) {
                Some(listen) => quote! {{
                    #wait
                    const LISTEN: Listen = #listen;
                    cx.listen(&NODE, &WAIT, &LISTEN)
                }},
                None => quote! {{
                    #wait
                    cx.wait_signal(&NODE, &WAIT)
                }},
            }
        }
        NodeKind::Pause => quote! { cx.pause(&NODE) },
        NodeKind::Log { message, level, output_key } => log(&template(message), *level, output_key.as_deref()),
        NodeKind::SetVariable { name, value } => {
            let value = template(value);
            quote! { async { cx.set_variable(#name, #value) } }
        }
        NodeKind::Script { assignments } => {
            let lines = assignments.iter().map(|(name, expr)| {
                let source = &expr.source;
                quote! { (#name, #source) }
            });
            quote! { async { cx.script(&[#(#lines),*]) } }
        }
        NodeKind::CheckCondition { condition } => {
            let source = &condition.source;
            quote! { async { cx.check(#source) } }
        }
        NodeKind::Succeed | NodeKind::Start => quote! { async { cx.succeed() } },
        NodeKind::Fail { message } => {
            let message = template(message);
            quote! { async { cx.fail(#message) } }
        }
        NodeKind::Template { template: value } => {
            let value = template(value);
            quote! { async { cx.template(#value) } }
        }
        NodeKind::JsonPath { input, path } => {
            let input = template(input);
            quote! { async { cx.json_path(#input, #path) } }
        }
        NodeKind::Counter { key, increment } => {
            let increment = Literal::f64_unsuffixed(*increment);
            quote! { async { cx.counter(#key, #increment) } }
        }
        NodeKind::RegexExtract { input, pattern, group, output_key } => {
            let input = template(input);
            let group = Literal::usize_unsuffixed(usize::try_from(*group).unwrap_or(usize::MAX));
            let key = match output_key {
                Some(key) => quote! { Some(#key) },
                None => quote! { None },
            };
            quote! { async { cx.regex_extract(#input, #pattern, #group, #key) } }
        }
        NodeKind::Condition { branches } => choice("condition", branches),
        NodeKind::Router { value: Some(value), .. } => {
            let source = &value.source;
            let cases = items.cases(&node.id);
            quote! { async { cx.route(#source, &[#(#cases),*]) } }
        }
        NodeKind::Router { value: None, routes } => choice("router", routes),
        NodeKind::Loop(_) | NodeKind::ParallelGroup(_) => super::graph::container_body(node, items),
        NodeKind::Call { builtin, request, output, policy } => {
            let request = jq_value(request);
            let policy = policy_ref(flow, policy);
            let function = format_ident!("{}", builtin.runtime_fn());
            let output = match output {
                CallOutput::Content => quote! { CallOutput::Content },
                CallOutput::Response => quote! { CallOutput::Response },
                CallOutput::Raw => quote! { CallOutput::Raw },
            };
            quote! { cx.call_http(&NODE, crate::activities::Activities::#function, &#request, #output, #policy) }
        }
        NodeKind::Jq(step) => {
            let (method, value) = match step {
                JqStep::Set(value) => (quote! { set }, value),
                JqStep::Emit(value) => (quote! { emit }, value),
                JqStep::Raise(value) => (quote! { raise }, value),
            };
            let value = jq_value(value);
            quote! { async { cx.#method(&#value) } }
        }
        NodeKind::Choice { cases, otherwise } => {
            let every: Vec<&Node> = cases.iter().map(|(_, n)| n).chain(otherwise.as_deref()).collect();
            let conditions = cases.iter().map(|(when, _)| jq(when));
            let arms = cases.iter().enumerate().map(|(i, (_, case))| {
                let others: Vec<&Node> = every.iter().copied().filter(|n| n.id != case.id).collect();
                let skip_others = skip(items, &others);
                let (i, call) = (Literal::usize_unsuffixed(i), run(case));
                quote! {
                    Some(#i) => {
                        #skip_others
                        #call
                    }
                }
            });
            let skip_cases = skip(items, &cases.iter().map(|(_, n)| n).collect::<Vec<_>>());
            let otherwise = or_null(otherwise.as_deref());
            quote! {
                async {
                    match cx.first_case(&NODE, &[#(#conditions),*])? {
                        #(#arms)*
                        _ => {
                            #skip_cases
                            #otherwise
                        }
                    }
                }
            }
        }
        NodeKind::Try { attempt, filter, bind, retry, catch, then } => {
            let attempt = match retry {
                Some(policy) => {
                    let attempts = Literal::u32_unsuffixed(policy.max_attempts);
                    let (delay, max_delay) = (Literal::u64_unsuffixed(policy.delay_ms), Literal::u64_unsuffixed(policy.max_delay_ms));
                    let exponential = policy.exponential;
                    let ids: Vec<&str> = attempt.walk().iter().map(|n| n.id.as_str()).collect();
                    let body = items.spans(&ids);
                    let each = call(items, attempt, quote! { &cx });
                    quote! {
                        cx.retry_caught(&NODE, &CATCHES, #bind, RetrySpec { max_attempts: #attempts, delay_ms: #delay, exponential: #exponential, max_delay_ms: #max_delay }, #body, |cx| Box::pin(async move { #each })).await
                    }
                }
                None => run(attempt),
            };
            let with = filter.with.iter().map(|(field, value)| {
                let value = jq_value(&crate::model::JqValue::Json(value.clone()));
                quote! { (#field, #value) }
            });
            let (when, except_when) = (filter.when.as_ref().map(jq), filter.except_when.as_ref().map(jq));
            let (when, except_when) = (option(when), option(except_when));
            // The catch gets the data the `try` was handed back.
            let handed = catch.as_ref().map(|_| quote! { let handed = cx.handed(); });
            let (handler, skip_catch) = match catch {
                Some(catch) => (call(items, catch, quote! { &cx.caught(#bind, &failure, handed) }), skip(items, &[catch])),
                None => (quote! { Ok(Value::Null) }, quote! {}),
            };
            let decide = match then.as_deref() {
                None => quote! {
                    match #attempt {
                        Err(failure) if cx.catches(&CATCHES, #bind, &failure)? => #handler,
                        done => {
                            #skip_catch
                            done
                        }
                    }
                },
                // `catch.then`: each way goes on with the tasks it leads to, outside the `try`.
                Some(TryThen { passed, caught }) => {
                    let (go_on, go_to) = (run(passed), run(caught));
                    let (skip_passed, skip_caught) = (skip(items, &[passed]), skip(items, &[caught]));
                    let caught_with = match catch {
                        Some(catch) => {
                            let handler = call(items, catch, quote! { &cx.caught(#bind, &failure, handed) });
                            quote! { #handler?; }
                        }
                        None => quote! { cx.caught(#bind, &failure, handed); },
                    };
                    let handed = if catch.is_some() {
                        quote! {}
                    } else {
                        quote! { let handed = cx.handed(); }
                    };
                    quote! {
                        #handed
                        match #attempt {
                            Err(failure) if cx.catches(&CATCHES, #bind, &failure)? => {
                                #skip_passed
                                #caught_with
                                #go_to
                            }
                            Ok(_) => {
                                #skip_catch
                                #skip_caught
                                #go_on
                            }
                            failed => {
                                #skip_catch
                                #skip_passed
                                #skip_caught
                                failed
                            }
                        }
                    }
                }
            };
            quote! {
                async {
                    const CATCHES: ErrorFilter = ErrorFilter { with: &[#(#with),*], when: #when, except_when: #except_when };
                    #handed
                    #decide
                }
            }
        }
    }
}

fn option(tokens: Option<TokenStream>) -> TokenStream {
    match tokens {
        Some(t) => quote! { Some(#t) },
        None => quote! { None },
    }
}

/// A tree loop: `cx.repeat` with its resolved bounds, and the body as a closure.
fn tree_loop(node: &Node, repeat: &Repeat, items: &Items) -> TokenStream {
    let each = |child: &Node| closure(call(items, child, quote! { &cx }));
    let Some(first) = repeat.body.first() else { return quote! { async { cx.succeed() } } };
    let (iterate, each) = match &repeat.iterate {
        Iterate::Items { collection, .. } => {
            let source = &collection.source;
            (quote! { Iterate::Items(#source) }, each(first))
        }
        Iterate::Times(count) => {
            let count = u64_lit(*count);
            (quote! { Iterate::Times(#count) }, each(first))
        }
        Iterate::UntilFailure => (quote! { Iterate::UntilFailure }, each(first)),
        Iterate::While { condition, do_while } => {
            let source = &condition.source;
            let iterate = if *do_while {
                quote! { Iterate::DoWhile(#source) }
            } else {
                quote! { Iterate::While(#source) }
            };
            (iterate, each(first))
        }
        Iterate::Each { collection, while_, .. } => {
            let collection = jq(collection);
            let while_ = option(while_.as_ref().map(|w| {
                let w = jq(w);
                quote! { &#w }
            }));
            (quote! { Iterate::Jq { collection: &#collection, while_: #while_ } }, each(first))
        }
        Iterate::WhileGuard => {
            let guard = call(items, first, quote! { &cx });
            let body = repeat.body.get(1).map_or(quote! { Ok(Value::Null) }, |b| call(items, b, quote! { &cx }));
            let each = quote! {
                |pass, cx| Box::pin(async move {
                    match pass {
                        Pass::Guard => #guard,
                        Pass::Body(_) => #body,
                    }
                })
            };
            (quote! { Iterate::WhileGuard }, each)
        }
    };
    let (item, index) = match &repeat.iterate {
        Iterate::Items { item, index, .. } | Iterate::Each { item, index, .. } => (item.as_str(), index.as_str()),
        _ => ("", ""),
    };
    let max = u64_lit(repeat.max_iterations);
    let concurrency = usize_lit(repeat.concurrency);
    let (body, around) = loop_ids(node, items);
    quote! {
        cx.repeat(&NODE, Loop { iterate: #iterate, max_iterations: #max, concurrency: #concurrency, item: #item, index: #index, body: #body, around: #around }, #each)
    }
}

/// A `ReactiveSequence`: its leading conditions run once, then are re-checked while the rest
/// runs in a forked scope.
fn reactive(items: &Items, children: &[&Node]) -> TokenStream {
    let leading: Vec<(&Node, String)> = children.iter().map_while(|c| condition_of(c).map(|s| (*c, s))).collect();
    if leading.is_empty() || leading.len() == children.len() {
        let steps = sequence(items, children, quote! { cx });
        return quote! { async { #steps } };
    }
    let checks = leading.iter().map(|(c, _)| {
        let call = call(items, c, quote! { cx });
        quote! { #call?; }
    });
    let sources = leading.iter().map(|(_, s)| s);
    let rest = sequence(items, &children[leading.len()..], quote! { &inner });
    quote! {
        async {
            #(#checks)*
            let inner = cx.fork();
            cx.reactive(&[#(#sources),*], &inner, async { #rest }).await
        }
    }
}

/// A graph `Condition` (or `Switch` on routes): the first branch whose condition holds names
/// its handle, `<prefix>-<id>`.
fn choice(prefix: &str, branches: &[Branch]) -> TokenStream {
    let arms = branches.iter().map(|b| {
        let handle = format!("{prefix}-{}", b.id);
        match &b.condition {
            Some(c) => {
                let source = &c.source;
                quote! { (#handle, Some(#source)) }
            }
            None => quote! { (#handle, None) },
        }
    });
    quote! { async { cx.branch(&[#(#arms),*]) } }
}

fn log(message: &TokenStream, level: LogLevel, output_key: Option<&str>) -> TokenStream {
    let level = match level {
        LogLevel::Debug => quote! { Level::Debug },
        LogLevel::Info => quote! { Level::Info },
        LogLevel::Warn => quote! { Level::Warn },
        LogLevel::Error => quote! { Level::Error },
    };
    let key = match output_key {
        Some(k) => quote! { Some(#k) },
        None => quote! { None },
    };
    quote! { async { cx.log(&NODE, #level, #message, #key) } }
}

/// A `Parallel`: every child a branch of one scope, decided by its quorum.
fn parallel(items: &Items, children: &[&Node], quorum: Quorum, limit: u64) -> TokenStream {
    let count = Literal::usize_unsuffixed(children.len());
    let (successes, failures) = (usize_lit(quorum.successes), usize_lit(quorum.failures));
    let limit = usize_lit(limit);
    let Some((last, init)) = children.split_last() else { return quote! { async { Ok(Value::Null) } } };
    if init.is_empty() {
        let only = call(items, last, quote! { &cx });
        return quote! {
            cx.parallel(Fan { branches: #count, at_once: #limit, quorum: Quorum { successes: #successes, failures: #failures } }, |_, cx| Box::pin(async move { #only }))
        };
    }
    let arms = init.iter().enumerate().map(|(i, c)| {
        let i = Literal::usize_unsuffixed(i);
        let call = call(items, c, quote! { &cx });
        quote! { #i => #call, }
    });
    let last = call(items, last, quote! { &cx });
    quote! {
        cx.parallel(Fan { branches: #count, at_once: #limit, quorum: Quorum { successes: #successes, failures: #failures } }, |i, cx| {
            Box::pin(async move {
                match i {
                    #(#arms)*
                    _ => #last,
                }
            })
        })
    }
}

/// The condition a leading child of a `ReactiveSequence` re-checks.
fn condition_of(node: &Node) -> Option<String> {
    match &node.kind {
        NodeKind::CheckCondition { condition } => Some(condition.source.clone()),
        NodeKind::Succeed => Some("true".into()),
        _ => None,
    }
}
