//! The Serverless Workflow form end to end, beyond what the CTK exercises: generated workers
//! on the dev server, run by their binaries (`listen` answered by signals).

use serde_json::{Value, json};
use wfc_tests::http::HttpServer;
use wfc_tests::remote::RemoteWorkers;
use wfc_tests::server::{DevServer, free_port};
use wfc_tests::workers::{self, WorkerProcess};
use wfc_tests::{eventually, repo_root};

fn built(name: &str) -> wfc::Built {
    built_with(name, wfc::lower::Registry::new())
}

/// Built with the activities a `--registry` file declares.
fn built_with(name: &str, registry: wfc::lower::Registry) -> wfc::Built {
    let path = format!("tests/flows/dsl/{name}.yaml");
    let text = std::fs::read_to_string(repo_root().join(&path)).expect("the flow is readable");
    let options = wfc::BuildOptions { registry, ..wfc::BuildOptions::with_runtime(wfc::RuntimeSource::Path(repo_root().join("runtime").display().to_string())) };
    wfc::build(&wfc::SourceFile::new(path, text), &options).unwrap_or_else(|d| panic!("{name}: {d:#?}"))
}

fn json_out(out: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.split_once('\n').and_then(|(_, rest)| serde_json::from_str(rest).ok()).unwrap_or(Value::Null)
}

/// Every payload of a history (JSON, base64 `data`) decoded, one per line.
fn payloads(history: &Value) -> String {
    use base64::Engine;
    match history {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| match (key.as_str(), value) {
                ("data", Value::String(data)) => String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(data).unwrap_or_default()).into_owned() + "\n",
                _ => payloads(value),
            })
            .collect(),
        Value::Array(items) => items.iter().map(payloads).collect(),
        _ => String::new(),
    }
}

#[test]
fn serverless_workflow_documents_wait_loop_catch_call_functions_and_activities_run_children_listen_and_authenticate_with_secrets_on_a_real_server() {
    let (features, listen, parent, secret, function) = (built("features"), built("listen-any"), built("run-child"), built("secret-call"), built("function"));
    let registry_path = "tests/flows/dsl/payments.registry.yaml";
    let registry = wfc::registry(&wfc::SourceFile::new(registry_path, std::fs::read_to_string(repo_root().join(registry_path)).expect("the registry is readable")));
    let remote = built_with("remote-activity", registry.unwrap_or_else(|d| panic!("{d:#?}")));
    let (oauth2, long_for, on_event) = (built("oauth2"), built("long-for"), built("on-event"));
    let variants = [
        ("features", &features),
        ("listen", &listen),
        ("parent", &parent),
        ("secret", &secret),
        ("function", &function),
        ("remote", &remote),
        ("oauth2", &oauth2),
        ("long-for", &long_for),
        ("on-event", &on_event),
    ];
    let bins = workers::build_variants("dsl", &variants);
    let address = &DevServer::shared().address;
    let log = |name: &str| workers::target_dir().join("tmp").join(format!("dsl-{name}.log"));

    // wait, for/while/at, if, export.as and $context, a caught raise, input.from, output.as.
    let _features = WorkerProcess::start_on(&bins[0], address, "dsl-features", &[], log("features"));
    let input = json!({"order": {"customer": "ada", "items": [{"price": 60}, {"price": 50}, {"price": 30}]}});
    let id = format!("dsl-features-{}", std::process::id());
    let out = workers::client(&bins[0], address, &["start", "--input", &input.to_string(), "--id", &id, "--task-queue", "dsl-features", "--wait"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want = json!({"total": 110, "counted": 2, "refused": "Too expensive (total 110)", "customer": "ada", "workflowInput": "ada", "busy": "dsl-features is busy", "recovered": true, "done": true});
    assert_eq!(json_out(&out), want);
    let status: Value = serde_json::from_slice(&workers::client(&bins[0], address, &["query", &id, "status"]).stdout).unwrap_or(Value::Null);
    assert!(status["skipped"].as_array().is_some_and(|s| s.contains(&json!("vipOnly"))), "the `if` skips the task: {status}");
    assert!(status["skipped"].as_array().is_some_and(|s| s.contains(&json!("notReached"))), "`catch.then` leads past it: {status}");
    // `limit.attempt.count: 2` retries: three attempts, then the catch.
    let logs = String::from_utf8_lossy(&workers::client(&bins[0], address, &["logs", &id]).stdout).into_owned();
    assert_eq!(logs.lines().filter(|l| l.contains("▶ retried ")).count(), 3, "{logs}");

    // run: workflow, served by the features worker (on its own flow's task queue).
    let _parent = WorkerProcess::start_on(&bins[2], address, "dsl-parent", &[], log("parent"));
    let id = format!("dsl-parent-{}", std::process::id());
    let out = workers::client(&bins[2], address, &["start", "--input", &input.to_string(), "--id", &id, "--task-queue", "dsl-parent", "--wait"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_out(&out), json!("dsl-features is busy"));

    // listen: events are signals carrying the CloudEvent; filters on attributes and data.
    let _listen = WorkerProcess::start_on(&bins[1], address, "dsl-listen", &[], log("listen"));
    let id = format!("dsl-listen-{}", std::process::id());
    let out = workers::client(&bins[1], address, &["start", "--id", &id, "--task-queue", "dsl-listen"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let send = |kind: &str, source: &str, data: Value| {
        let event = json!({"specversion": "1.0", "id": format!("e-{kind}-{source}"), "source": source, "type": kind, "data": data});
        let sent = workers::client(&bins[1], address, &["signal", &id, kind, "--input", &event.to_string()]);
        assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    };
    let waits_in = |task: &str| {
        eventually(&format!("{task} listens"), || {
            let status = workers::client(&bins[1], address, &["query", &id, "status"]);
            let status: Value = serde_json::from_slice(&status.stdout).unwrap_or(Value::Null);
            status["waiting"].as_array().is_some_and(|w| w.iter().any(|w| w["node"] == task)).then_some(())
        })
    };
    // Any event at all, as the generic signal, until two have come.
    waits_in("gather");
    for n in [1, 2] {
        let event = json!({"specversion": "1.0", "id": format!("any-{n}"), "source": "tests", "type": format!("com.example.kind{n}"), "data": {"n": n}});
        let sent = workers::client(&bins[1], address, &["signal", &id, "cloudevent", "--input", &event.to_string()]);
        assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    }
    // Neither of the first two passes its filter (a rejection by the bot, an approval from
    // the wrong source); they stay queued, and the third is taken.
    waits_in("waitForVerdict");
    send("com.example.rejected", "tests", json!({"by": "bot"}));
    send("com.example.approved", "sales", json!({"by": "ada"}));
    send("com.example.rejected", "tests", json!({"by": "ops"}));
    waits_in("waitForNote");
    send("com.example.note", "tests", json!({"text": "filed"}));
    // Readings until a `done` event, which ends the listen without being kept.
    waits_in("readings");
    send("com.example.reading", "tests", json!({"value": 20}));
    send("com.example.reading", "tests", json!({"value": 21}));
    send("com.example.done", "tests", json!({}));
    let out = workers::client(&bins[1], address, &["result", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(result, json!({"decision": "com.example.rejected", "by": "ops", "gathered": [1, 2], "note": "filed", "readings": [20, 21]}));

    // $secrets: read by name inside the activity; the request carries them, history does not.
    let api = HttpServer::start(vec![("POST /orders", (201, Vec::new(), json!({"id": 42})))]);
    let env = [("ORDERS_TOKEN", "tok-s3cret-1"), ("ORDERS_TENANT", "acme-s3cret-2")];
    let _secret = WorkerProcess::start_on(&bins[3], address, "dsl-secret", &env, log("secret"));
    let id = format!("dsl-secret-{}", std::process::id());
    let input = json!({"base": api.base_url, "item": "desk"});
    let out = workers::client(&bins[3], address, &["start", "--input", &input.to_string(), "--id", &id, "--task-queue", "dsl-secret", "--wait"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_out(&out), json!(42));
    let sent = api.requests().pop().expect("the order was placed");
    assert_eq!(sent.headers.get("authorization").map(String::as_str), Some("Bearer tok-s3cret-1"));
    assert_eq!(sent.headers.get("x-tenant").map(String::as_str), Some("tenant-acme-s3cret-2"));
    assert_eq!(sent.body, r#"{"item":"desk"}"#);
    let history = workers::client(&bins[3], address, &["history", &id]);
    let history = payloads(&serde_json::from_slice(&history.stdout).unwrap_or(Value::Null));
    assert!(history.contains("ORDERS_TOKEN") && !history.contains("s3cret"), "a secret reached history:\n{history}");

    // A function of `use.functions`, its arguments checked against its `input.schema`.
    let _function = WorkerProcess::start_on(&bins[4], address, "dsl-function", &[], log("function"));
    let id = format!("dsl-function-{}", std::process::id());
    let out = workers::client(&bins[4], address, &["start", "--input", r#"{"value": 21}"#, "--id", &id, "--task-queue", "dsl-function", "--wait"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_out(&out), json!({"doubled": 42, "invalid": "Validation Error"}));

    // A declared activity another worker serves: its input computed by jq, its error type caught.
    let _payments = RemoteWorkers::start(address, &["dsl-payments"]);
    let _remote = WorkerProcess::start_on(&bins[5], address, "dsl-remote", &[], log("remote"));
    let id = format!("dsl-remote-{}", std::process::id());
    let out = workers::client(&bins[5], address, &["start", "--input", r#"{"id": "o1", "total": 99.5}"#, "--id", &id, "--task-queue", "dsl-remote", "--wait"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_out(&out), json!({"charged": "ch_o1", "declined": "CardDeclined", "detail": "card declined"}));

    // OAuth2 and OpenID Connect: tokens asked of a stand-in authority by the activity.
    let idp = HttpServer::start(vec![
        ("POST /realms/shop/protocol/token", (200, Vec::new(), json!({"access_token": "tok-oauth2-abc", "token_type": "Bearer"}))),
        ("POST /idp/token", (200, Vec::new(), json!({"access_token": "tok-oidc-def", "token_type": "Bearer"}))),
        ("POST /realms/closed/oauth2/token", (401, Vec::new(), json!({"error": "invalid_client"}))),
        ("GET /stock", (200, Vec::new(), json!({"count": 7}))),
        ("GET /orders", (200, Vec::new(), json!({"count": 3}))),
    ]);
    idp.set_route(
        "GET /idp/.well-known/openid-configuration",
        (200, Vec::new(), json!({"issuer": format!("{}/idp", idp.base_url), "token_endpoint": format!("{}/idp/token", idp.base_url)})),
    );
    let oidc = json!({"authority": format!("{}/idp", idp.base_url), "grant": "client_credentials", "client": {"id": "oidc-client", "secret": "oidc-s3cret", "authentication": "client_secret_basic"}});
    let env = [("OAUTH_CLIENT_SECRET", "client-s3cret".to_string()), ("OIDC_SETTINGS", oidc.to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _oauth2 = WorkerProcess::start_on(&bins[6], address, "dsl-oauth2", &env, log("oauth2"));
    let id = format!("dsl-oauth2-{}", std::process::id());
    let input = json!({"base": idp.base_url});
    let out = workers::client(&bins[6], address, &["start", "--input", &input.to_string(), "--id", &id, "--task-queue", "dsl-oauth2", "--wait"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_out(&out), json!({"stock": 7, "orders": 3, "refused": 401}));
    let requests = idp.requests();
    let sent = |path: &str| requests.iter().find(|r| r.path.starts_with(path)).unwrap_or_else(|| panic!("no request for {path}: {requests:#?}"));
    let token_form = &sent("/realms/shop/protocol/token").body;
    assert!(["grant_type=client_credentials", "client_id=wfc-worker", "client_secret=client-s3cret", "scope=stock+read"].iter().all(|p| token_form.contains(p)), "{token_form}");
    assert_eq!(sent("/stock").headers.get("authorization").map(String::as_str), Some("Bearer tok-oauth2-abc"));
    let basic = sent("/idp/token").headers.get("authorization").cloned().unwrap_or_default();
    assert_eq!(basic, format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "oidc-client:oidc-s3cret")));
    assert_eq!(sent("/orders").headers.get("authorization").map(String::as_str), Some("Bearer tok-oidc-def"));
    let history = workers::client(&bins[6], address, &["history", &id]);
    let history = payloads(&serde_json::from_slice(&history.stdout).unwrap_or(Value::Null));
    assert!(!history.contains("s3cret") && !history.contains("tok-o"), "a secret or a token reached history:\n{history}");

    // Started by events: one run per event a filter takes, named after the event.
    let _on_event = WorkerProcess::start_on(&bins[8], address, "dsl-on-event", &[], log("on-event"));
    let deliver = |id: &str, kind: &str, data: Value, wait: bool| {
        let event = json!({"specversion": "1.0", "id": id, "source": "shop", "type": kind, "data": data}).to_string();
        let mut args = vec!["event", "--input", event.as_str(), "--task-queue", "dsl-on-event"];
        if wait {
            args.push("--wait");
        }
        workers::client(&bins[8], address, &args)
    };
    let small = deliver(&format!("e-small-{}", std::process::id()), "com.example.order.placed", json!({"id": "o-1", "total": 40}), false);
    assert_eq!(small.status.code(), Some(1), "a small order starts no run: {}", String::from_utf8_lossy(&small.stderr));
    assert!(String::from_utf8_lossy(&small.stderr).contains("matches no `schedule.on` filter"), "{}", String::from_utf8_lossy(&small.stderr));
    let event_id = format!("e-big-{}", std::process::id());
    let big = deliver(&event_id, "com.example.order.placed", json!({"id": "o-2", "total": 400}), true);
    assert!(big.status.success(), "{}", String::from_utf8_lossy(&big.stderr));
    assert!(String::from_utf8_lossy(&big.stdout).starts_with(&format!("dsl-on-event-{event_id}\n")), "{}", String::from_utf8_lossy(&big.stdout));
    assert_eq!(json_out(&big), json!({"order": "o-2", "total": 400}));
    let again = deliver(&event_id, "com.example.order.placed", json!({"id": "o-2", "total": 400}), true);
    assert!(again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already started run"), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(json_out(&again), json!({"order": "o-2", "total": 400}), "the redelivered event answers with the run it started");

    // A long `for` continues as new on a server that suggests it early; the data goes on.
    let server = DevServer::start_with(free_port(), None, &["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=100"]);
    let _long = WorkerProcess::start_on(&bins[7], &server.address, "dsl-long-for", &[], log("long-for"));
    let items: Vec<u32> = (1..=60).collect();
    let input = json!({"items": items, "label": "sixty"});
    let out = workers::client(&bins[7], &server.address, &["start", "--input", &input.to_string(), "--id", "dsl-long-for", "--task-queue", "dsl-long-for", "--wait"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_out(&out), json!({"total": 1930, "label": "sixty", "handed": 100}));
    let status: Value = serde_json::from_slice(&workers::client(&bins[7], &server.address, &["query", "dsl-long-for", "status"]).stdout).unwrap_or(Value::Null);
    assert!(status["continued"].as_u64().is_some_and(|n| n >= 2), "the loop continued as new: {status}");
    workers::discard_variants("dsl", &variants.map(|(name, _)| name));
}
