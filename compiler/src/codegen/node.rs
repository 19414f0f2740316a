//! One async fn per node: the node's action, or how a composite runs its children. Control flow
//! is spelled out here as plain Rust (`?` for a sequence, `if` for a branch, `match` for a
//! switch); the runtime's helpers only do the bookkeeping of concurrency, loops and deadlines.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::literal::{doc_lines, optional_json, optional_millis, template};
use super::workflow::{Items, policy_ref};
use crate::model::{Branch, Flow, LogLevel, Node, NodeKind, Param, Slot};

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
    let info = if passes_through(node) {
        quote! { NodeInfo::passing }
    } else {
        quote! { NodeInfo::new }
    };
    let body = body(flow, node, items);
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
            const NODE: NodeInfo = #info(#id, #kind, #line);
            let body = #body;
            #run
        }
    }
}

/// Composites whose output is one of their children's: it is not kept a second time.
fn passes_through(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Sequence(_) | NodeKind::Conditional { .. } | NodeKind::Delay { child: Some(_), .. } => true,
        NodeKind::Configured { children, .. } => {
            !children.is_empty() && !matches!(node.type_name.as_str(), "ForEach" | "While" | "Repeat" | "KeepRunningUntilFailure" | "Parallel" | "SoftAssert")
        }
        _ => false,
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
    let ranges = node_ranges(items, &ids);
    quote! { cx.skip(#ranges); }
}

/// `&[(start, end), …]`: these nodes' subtrees as spans of `SETTINGS.nodes`.
pub(super) fn node_ranges<S: AsRef<str>>(items: &Items, ids: &[S]) -> TokenStream {
    let ids: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
    let ranges = items.node_ranges(&ids).into_iter().map(|r| {
        let (start, end) = (Literal::usize_unsuffixed(r.start), Literal::usize_unsuffixed(r.end));
        quote! { (#start, #end) }
    });
    quote! { &[#(#ranges),*] }
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
    (node_ranges(items, &children), quote! { &[#(#around),*] })
}

fn body(flow: &Flow, node: &Node, items: &Items) -> TokenStream {
    match &node.kind {
        NodeKind::Sequence(children) => {
            let children: Vec<&Node> = children.iter().collect();
            let steps = sequence(items, &children, quote! { cx });
            quote! { async { #steps } }
        }
        NodeKind::Parallel(children) => parallel(items, &children.iter().collect::<Vec<_>>(), children.len() as u64, 1, u64::MAX),
        NodeKind::Conditional { condition, then, otherwise } => {
            let condition = &condition.source;
            let then_call = call(items, then, quote! { cx });
            let else_call = match otherwise {
                Some(o) => call(items, o, quote! { cx }),
                None => quote! { Ok(Value::Null) },
            };
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
        NodeKind::Delay { duration_ms, child } => {
            let ms = Literal::u64_unsuffixed(*duration_ms);
            let sleep = quote! { cx.sleep(&NODE, ::std::time::Duration::from_millis(#ms)) };
            match child {
                Some(child) => {
                    let c = call(items, child, quote! { cx });
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
            let input = template(input);
            let policy = policy_ref(flow, policy);
            quote! { cx.remote(&NODE, crate::activities::#ty, #task_queue, #input, #policy) }
        }
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
        NodeKind::Fail { message } => {
            let message = template(message);
            quote! { async { cx.fail(#message) } }
        }
        NodeKind::Start => quote! { async { cx.succeed() } },
        NodeKind::Condition { branches } => choice("condition", branches),
        NodeKind::Router { value: Some(value), .. } => {
            let source = &value.source;
            let cases = items.cases(&node.id);
            quote! { async { cx.route(#source, &[#(#cases),*]) } }
        }
        NodeKind::Router { value: None, routes } => choice("router", routes),
        NodeKind::Loop(_) | NodeKind::ParallelGroup(_) => super::graph::container_body(node, items),
        NodeKind::Configured { .. } => configured(flow, node, items),
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
    quote! { async { cx.log(#level, #message, #key) } }
}

/// A `Parallel`: every child a branch of one scope, decided by its quorum.
fn parallel(items: &Items, children: &[&Node], successes: u64, failures: u64, limit: u64) -> TokenStream {
    let count = Literal::usize_unsuffixed(children.len());
    let (successes, failures) = (Literal::usize_unsuffixed(successes as usize), Literal::usize_unsuffixed(failures as usize));
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

fn template_param(node: &Node, name: &str) -> TokenStream {
    match node.kind.param(name) {
        Some(Param::Template(v)) => template(v),
        _ => quote! { Template::Text("") },
    }
}

/// Nodes described by their catalog entry: the composites, decorators and btree utilities.
fn configured(flow: &Flow, node: &Node, items: &Items) -> TokenStream {
    let NodeKind::Configured { children, slots, .. } = &node.kind else { return quote! { async { cx.succeed() } } };
    let kids: Vec<&Node> = children.iter().collect();
    let first = |cx: TokenStream| kids.first().map_or(quote! { Ok(Value::Null) }, |c| call(items, c, cx));
    let k = &node.kind;
    match node.type_name.as_str() {
        "MemorySequence" => {
            let steps = sequence(items, &kids, quote! { cx });
            quote! { async { #steps } }
        }
        "Selector" | "Fallback" => {
            let Some((last, init)) = kids.split_last() else { return quote! { async { cx.succeed() } } };
            let tries = init.iter().map(|c| {
                let call = call(items, c, quote! { cx });
                quote! {
                    if let Some(done) = settled(#call) {
                        return done;
                    }
                }
            });
            let last = call(items, last, quote! { cx });
            quote! { async { #(#tries)* #last } }
        }
        "Parallel" => {
            let n = kids.len() as u64;
            let any = k.text("strategy") == Some("any");
            let successes = k.int("successThreshold").unwrap_or(if any { 1 } else { n }).min(n);
            let failures = k.int("failureThreshold").unwrap_or(n - successes + 1).min(n).max(1);
            parallel(items, &kids, successes, failures, k.int("maxConcurrency").unwrap_or(u64::MAX))
        }
        "Conditional" => {
            // btree's form: the first child is the condition; its success picks `then`.
            let condition = call(items, kids[0], quote! { cx });
            let then = call(items, kids[1], quote! { cx });
            let otherwise = kids.get(2).map_or(quote! { Ok(Value::Null) }, |c| call(items, c, quote! { cx }));
            let skip_then = skip(items, &kids[1..2]);
            let skip_else = skip(items, &kids[2..]);
            quote! {
                async {
                    match #condition {
                        Ok(_) => {
                            #skip_else
                            #then
                        }
                        Err(failure) if failure.cancelled => Err(failure),
                        Err(_) => {
                            #skip_then
                            #otherwise
                        }
                    }
                }
            }
        }
        "Switch" => {
            let source = k.expr("value").map(|e| e.source.as_str()).unwrap_or("null");
            let mut arms = Vec::new();
            let mut default = quote! { Ok(Value::Null) };
            let mut default_skip: Vec<&Node> = Vec::new();
            for (i, (child, slot)) in kids.iter().zip(slots).enumerate() {
                let others: Vec<&Node> = kids.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, c)| *c).collect();
                let skip_others = skip(items, &others);
                let call = call(items, child, quote! { cx });
                match slot {
                    Slot::Case(value) => {
                        default_skip.push(child);
                        arms.push(quote! {
                            #value => {
                                #skip_others
                                #call
                            }
                        });
                    }
                    _ => default = call,
                }
            }
            let skip_cases = skip(items, &default_skip);
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
        "ForEach" => {
            let source = match (k.expr("collection"), k.text("collectionKey")) {
                (Some(e), _) => e.source.clone(),
                (None, Some(key)) => crate::lower::blackboard_path(key),
                (None, None) => "[]".to_string(),
            };
            let concurrency = usize_lit(k.int("maxConcurrency").unwrap_or(1));
            let (item, index) = (k.text("itemKey").unwrap_or("item"), k.text("indexKey").unwrap_or("index"));
            let each = closure(first(quote! { &cx }));
            let (body, around) = loop_ids(node, items);
            quote! {
                cx.repeat(&NODE, Loop { iterate: Iterate::Items(#source), max_iterations: u64::MAX, concurrency: #concurrency, item: #item, index: #index, body: #body, around: #around }, #each)
            }
        }
        "While" | "Repeat" | "KeepRunningUntilFailure" => {
            let (iterate, max, each) = match node.type_name.as_str() {
                "Repeat" => {
                    let count = u64_lit(k.int("count").unwrap_or(1));
                    (quote! { Iterate::Times(#count) }, u64::MAX, closure(first(quote! { &cx })))
                }
                "KeepRunningUntilFailure" => (quote! { Iterate::UntilFailure }, k.int("maxIterations").unwrap_or(u64::MAX), closure(first(quote! { &cx }))),
                _ => {
                    let max = k.int("maxIterations").unwrap_or(1000);
                    let do_while = matches!(k.param("doWhile"), Some(Param::Bool(true)));
                    match (k.expr("condition"), kids.as_slice()) {
                        (None, [guard, body]) => {
                            let (guard, body) = (call(items, guard, quote! { &cx }), call(items, body, quote! { &cx }));
                            let each = quote! {
                                |pass, cx| Box::pin(async move {
                                    match pass {
                                        Pass::Guard => #guard,
                                        Pass::Body(_) => #body,
                                    }
                                })
                            };
                            (quote! { Iterate::WhileGuard }, max, each)
                        }
                        (condition, _) => {
                            let source = condition.map(|e| e.source.as_str()).unwrap_or("false");
                            let iterate = if do_while {
                                quote! { Iterate::DoWhile(#source) }
                            } else {
                                quote! { Iterate::While(#source) }
                            };
                            (iterate, max, closure(call(items, kids.last().unwrap_or(&kids[0]), quote! { &cx })))
                        }
                    }
                }
            };
            let max = u64_lit(max);
            let (body, around) = loop_ids(node, items);
            quote! {
                cx.repeat(&NODE, Loop { iterate: #iterate, max_iterations: #max, concurrency: 1, item: "", index: "", body: #body, around: #around }, #each)
            }
        }
        "Recovery" => {
            let attempt = first(quote! { cx });
            let result = match kids.get(1) {
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
            match kids.get(2) {
                Some(finally) => {
                    let finally = call(items, finally, quote! { cx });
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
        "Timeout" => {
            let ms = Literal::u64_unsuffixed(k.int("timeout").or(k.int("timeoutMs")).unwrap_or(0));
            let Some(child) = kids.first() else { return quote! { async { cx.succeed() } } };
            let child = future(items, child, quote! { &inner });
            quote! {
                async {
                    let inner = cx.fork();
                    cx.timeout(&NODE, #ms, &inner, #child).await
                }
            }
        }
        "Retry" => {
            let attempts = Literal::u32_unsuffixed(k.int("maxAttempts").unwrap_or(3).min(u32::MAX as u64) as u32);
            let delay = Literal::u64_unsuffixed(k.int("delay").unwrap_or(1000));
            let exponential = k.text("backoff") == Some("exponential");
            let max_delay = Literal::u64_unsuffixed(k.int("maxDelay").unwrap_or(60_000));
            let (body, _) = loop_ids(node, items);
            let each = first(quote! { &cx });
            quote! {
                cx.retry(&NODE, RetrySpec { max_attempts: #attempts, delay_ms: #delay, exponential: #exponential, max_delay_ms: #max_delay }, #body, |cx| Box::pin(async move { #each }))
            }
        }
        "Invert" | "ForceSuccess" | "ForceFailure" => {
            let f = match node.type_name.as_str() {
                "Invert" => quote! { invert },
                "ForceSuccess" => quote! { force_success },
                _ => quote! { force_failure },
            };
            let child = first(quote! { cx });
            quote! { async { #f(#child) } }
        }
        "RunOnce" => {
            let child = first(quote! { cx });
            quote! { async { if cx.first_time(&NODE) { #child } else { Ok(Value::Null) } } }
        }
        "Precondition" => {
            let source = k.expr("condition").map(|e| e.source.as_str()).unwrap_or("true");
            let child = first(quote! { cx });
            quote! {
                async {
                    cx.check(#source)?;
                    #child
                }
            }
        }
        "SoftAssert" => match (k.expr("condition"), kids.first()) {
            (Some(e), _) => {
                let source = &e.source;
                quote! { async { cx.soft_assert(&NODE, cx.condition(#source)) } }
            }
            (None, Some(child)) => {
                let call = call(items, child, quote! { cx });
                quote! { async { cx.soft_assert(&NODE, #call.map(|_| true)) } }
            }
            (None, None) => quote! { async { cx.soft_assert(&NODE, Ok(true)) } },
        },
        "ReactiveSequence" => {
            let leading: Vec<(&Node, String)> = kids.iter().map_while(|c| condition_of(c).map(|s| (*c, s))).collect();
            if leading.is_empty() || leading.len() == kids.len() {
                let steps = sequence(items, &kids, quote! { cx });
                return quote! { async { #steps } };
            }
            let checks = leading.iter().map(|(c, _)| {
                let call = call(items, c, quote! { cx });
                quote! { #call?; }
            });
            let sources = leading.iter().map(|(_, s)| s);
            let rest = sequence(items, &kids[leading.len()..], quote! { &inner });
            quote! {
                async {
                    #(#checks)*
                    let inner = cx.fork();
                    cx.reactive(&[#(#sources),*], &inner, async { #rest }).await
                }
            }
        }
        "Template" => {
            let t = template_param(node, "template");
            quote! { async { cx.template(#t) } }
        }
        "JsonPath" => {
            let input = template_param(node, "input");
            let path = k.text("path").unwrap_or("$");
            quote! { async { cx.json_path(#input, #path) } }
        }
        "CounterAction" => {
            let key = k.text("key").or(k.text("counterKey")).unwrap_or("counter");
            let increment = match k.param("increment") {
                Some(Param::Number(n)) => *n,
                _ => 1.0,
            };
            let increment = Literal::f64_unsuffixed(increment);
            quote! { async { cx.counter(#key, #increment) } }
        }
        "WaitAction" => {
            let ms = Literal::u64_unsuffixed(k.int("waitMs").unwrap_or(0));
            quote! { cx.sleep(&NODE, ::std::time::Duration::from_millis(#ms)) }
        }
        "HumanApproval" | "WaitForSignal" => {
            let signal = k.text("signal").unwrap_or_default();
            let schema = optional_json(signal_schema(flow, node).as_ref());
            let timeout = optional_millis(match k.param("timeout") {
                Some(Param::Duration(ms)) => Some(*ms),
                _ => None,
            });
            let on_timeout = if k.text("onTimeout") == Some("continue") {
                quote! { OnTimeout::Continue }
            } else {
                quote! { OnTimeout::Fail }
            };
            quote! {{
                const WAIT: SignalWait = SignalWait { signal: #signal, schema: #schema, timeout: #timeout, on_timeout: #on_timeout };
                cx.wait_signal(&NODE, &WAIT)
            }}
        }
        "Pause" => quote! { cx.pause(&NODE) },
        "SubTree" | "SubWorkflow" => {
            let workflow = k.text("workflow").unwrap_or_default();
            let sibling = items.siblings.get(workflow);
            let task_queue = k.text("taskQueue").or(sibling.map(|s| s.task_queue.as_str())).unwrap_or(workflow);
            let schema = optional_json(sibling.and_then(|s| s.input_schema.as_ref()));
            let input = match k.param("input") {
                Some(Param::Template(v)) => template(v),
                _ => quote! { Template::Json("{}") },
            };
            quote! {{
                const CHILD: ChildFlow = ChildFlow { workflow: #workflow, task_queue: #task_queue, input_schema: #schema };
                cx.child(&NODE, &CHILD, #input)
            }}
        }
        "AlwaysCondition" | "SuccessNode" => quote! { async { cx.succeed() } },
        "FailureNode" => quote! { async { cx.fail(Template::Text("FailureNode")) } },
        "LogMessage" => {
            let level = match k.text("level") {
                Some("debug") => LogLevel::Debug,
                Some("warn") => LogLevel::Warn,
                Some("error") => LogLevel::Error,
                _ => LogLevel::Info,
            };
            log(&template_param(node, "message"), level, k.text("outputKey"))
        }
        "RegexExtract" => {
            let input = template_param(node, "input");
            let pattern = k.text("pattern").unwrap_or("");
            let group = Literal::usize_unsuffixed(k.int("group").unwrap_or(0) as usize);
            let key = match k.text("outputKey") {
                Some(key) => quote! { Some(#key) },
                None => quote! { None },
            };
            quote! { async { cx.regex_extract(#input, #pattern, #group, #key) } }
        }
        // Every catalog type is matched above; lowering produces no other `Configured` type.
        other => {
            let message = format!("wfc cannot compile `{other}` nodes yet");
            quote! { compile_error!(#message) }
        }
    }
}

/// The condition a leading child of a `ReactiveSequence` re-checks.
fn condition_of(node: &Node) -> Option<String> {
    match (&node.kind, node.type_name.as_str()) {
        (NodeKind::CheckCondition { condition }, _) => Some(condition.source.clone()),
        (_, "AlwaysCondition") => Some("true".into()),
        _ => None,
    }
}

/// The payload schema a waiting node checks: its own `schema`, else the declared signal's.
pub fn signal_schema(flow: &Flow, node: &Node) -> Option<serde_json::Value> {
    match node.kind.param("schema") {
        Some(Param::Map(schema)) => Some(schema.to_json()),
        _ => flow.signals.get(node.kind.text("signal")?).cloned(),
    }
}
