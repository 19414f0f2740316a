//! The built-in activities, run in-process by the SDK's `ActivityEnvironment` against real local
//! servers: the recording HTTP server (standing in for an API, Slack, SendGrid and an
//! OpenAI-compatible model), PostgreSQL and an SMTP server. Each case is a node configuration
//! and what must come of it: an output, or a failure that names the node, the operation and the
//! cause, retryable or not.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::testing::{ActivityEnvironment, ActivityEnvironmentError, TestActivityInfoOptions};
use wfc_runtime::activities as runtime;
use wfc_runtime::codegen::BuiltinInput;
use wfc_tests::http::{HttpServer, RAW_BODY, no_tls_server};
use wfc_tests::postgres::Postgres;
use wfc_tests::server::free_port;
use wfc_tests::smtp::Smtp;

/// The built-ins as a generated worker registers them.
struct Builtins;

#[activities]
impl Builtins {
    #[activity(name = "HttpRequest")]
    async fn http(ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
        runtime::http_request(ctx, input).await
    }
    #[activity(name = "EmailSend")]
    async fn email(ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
        runtime::email_send(ctx, input).await
    }
    #[activity(name = "SlackMessage")]
    async fn slack(ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
        runtime::slack_message(ctx, input).await
    }
    #[activity(name = "DatabaseQuery")]
    async fn database(ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
        runtime::database_query(ctx, input).await
    }
    #[activity(name = "AI")]
    async fn ai(ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
        runtime::chat_completion(ctx, input).await
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Http,
    Email,
    Slack,
    Database,
    Ai,
}

/// What must come of a case.
enum Expect {
    /// Success, with these values at these JSON pointers of the output.
    Output(Vec<(&'static str, Value)>),
    /// Failure whose message contains every one of `says`.
    Fails { says: Vec<String>, retryable: bool, delay: Option<Duration> },
}

fn fails(says: &[&str], retryable: bool) -> Expect {
    Expect::Fails { says: says.iter().map(|s| s.to_string()).collect(), retryable, delay: None }
}

/// Runs one node configuration through its activity and checks the outcome.
async fn check(name: &str, kind: Kind, config: Value, max_output_bytes: Option<usize>, expect: Expect) -> Value {
    // An attempt with a minute left, as Temporal would give it.
    let info = TestActivityInfoOptions::builder().deadline(Some(SystemTime::now() + Duration::from_secs(60))).build();
    let env = ActivityEnvironment::builder().info(info).build();
    let input = BuiltinInput { node: name.to_string(), idempotency_key: format!("wf-1/{name}"), config, secrets: Vec::new(), max_output_bytes };
    let result = match kind {
        Kind::Http => env.run(Builtins::http, input).await,
        Kind::Email => env.run(Builtins::email, input).await,
        Kind::Slack => env.run(Builtins::slack, input).await,
        Kind::Database => env.run(Builtins::database, input).await,
        Kind::Ai => env.run(Builtins::ai, input).await,
    };
    match (result, expect) {
        (Ok(output), Expect::Output(values)) => {
            for (pointer, want) in values {
                assert_eq!(output.pointer(pointer), Some(&want), "{name}: {pointer} of {output:#}");
            }
            output
        }
        (Err(ActivityEnvironmentError::Activity(ActivityError::Application(failure))), Expect::Fails { says, retryable, delay }) => {
            let message = failure.source_error().to_string();
            assert!(message.contains(&format!("`{name}`: ")), "{name}: the message names the node: {message}");
            for part in &says {
                assert!(message.contains(part.as_str()), "{name}: expected {part:?} in {message:?}");
            }
            assert_eq!(!failure.is_non_retryable(), retryable, "{name}: retryable? {message}");
            if delay.is_some() {
                assert_eq!(failure.next_retry_delay(), delay, "{name}: retry delay");
            }
            json!(message)
        }
        (Ok(output), Expect::Fails { says, .. }) => panic!("{name}: expected a failure saying {says:?}, got {output:#}"),
        (Err(error), Expect::Output(_)) => panic!("{name}: expected an output, got {error:?}"),
        (Err(error), Expect::Fails { .. }) => panic!("{name}: expected an application failure, got {error:?}"),
    }
}

#[tokio::test]
async fn http_requests_send_every_part_parse_by_content_type_and_classify_failures() {
    let api = HttpServer::start(vec![
        ("POST /items", (201, vec![("location", "/items/7".to_string())], json!({"id": 7}))),
        ("GET /text", (200, vec![("content-type", "text/plain; charset=utf-8".to_string()), (RAW_BODY, "plain words".into())], Value::Null)),
        ("GET /form", (200, vec![("content-type", "application/x-www-form-urlencoded".to_string()), (RAW_BODY, "a=1&b=x+y".into())], Value::Null)),
        ("GET /png", (200, vec![("content-type", "image/png".to_string()), (RAW_BODY, "PNG".into())], Value::Null)),
        ("GET /missing", (404, vec![], json!({"error": "no such item"}))),
        ("GET /busy", (503, vec![("retry-after", "7".to_string())], json!("try later"))),
        ("GET /limited", (429, vec![("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".to_string())], json!("slow down"))),
        ("GET /slow", (408, vec![], json!("timeout"))),
        ("GET /broken", (200, vec![(RAW_BODY, "{\"id\": 7,".to_string())], Value::Null)),
        ("GET /big", (200, vec![], json!({"data": "x".repeat(500)}))),
    ]);
    let base = &api.base_url;
    let config = json!({
        "method": "post",
        "url": format!("{base}/items"),
        "headers": {"Authorization": "Bearer t0k", "X-Count": 3},
        "query": {"tag": ["a", "b"], "page": 2},
        "json": {"name": "widget"},
    });
    let expect = Expect::Output(vec![("/status", json!(201)), ("/body/id", json!(7)), ("/headers/location", json!("/items/7"))]);
    check("create", Kind::Http, config, None, expect).await;
    let sent = api.requests().pop().expect("a request");
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/items?page=2&tag=a&tag=b"));
    assert_eq!(sent.headers["authorization"], "Bearer t0k");
    assert_eq!(sent.headers["x-count"], "3");
    assert_eq!(sent.headers["idempotency-key"], "wf-1/create");
    assert_eq!(sent.headers["content-type"], "application/json");
    assert_eq!(sent.body, r#"{"name":"widget"}"#);

    let form = json!({"method": "POST", "url": format!("{base}/items"), "form": {"a": 1, "b": "x y"}});
    check("form", Kind::Http, form, None, Expect::Output(vec![("/status", json!(201))])).await;
    let sent = api.requests().pop().expect("a request");
    assert_eq!((sent.headers["content-type"].as_str(), sent.body.as_str()), ("application/x-www-form-urlencoded", "a=1&b=x+y"));
    let text = json!({"method": "POST", "url": format!("{base}/items"), "body": "hello"});
    check("text", Kind::Http, text, None, Expect::Output(vec![("/status", json!(201))])).await;
    let sent = api.requests().pop().expect("a request");
    assert_eq!((sent.headers["content-type"].as_str(), sent.body.as_str()), ("text/plain; charset=utf-8", "hello"));

    let get = |path: &str| json!({"url": format!("{base}{path}")});
    check("text-reply", Kind::Http, get("/text"), None, Expect::Output(vec![("/body", json!("plain words"))])).await;
    check("form-reply", Kind::Http, get("/form"), None, Expect::Output(vec![("/body", json!({"a": "1", "b": "x y"}))])).await;
    check("binary-reply", Kind::Http, get("/png"), None, Expect::Output(vec![("/body", json!("UE5H")), ("/encoding", json!("base64"))])).await;
    let expected = json!({"url": format!("{base}/missing"), "expectStatus": [200, 404]});
    check("expected-404", Kind::Http, expected, None, Expect::Output(vec![("/status", json!(404))])).await;

    let cases = [
        ("missing", get("/missing"), fails(&[&format!("GET {base}/missing: 404 Not Found"), "no such item"], false)),
        ("busy", get("/busy"), Expect::Fails { says: vec!["503 Service Unavailable".into()], retryable: true, delay: Some(Duration::from_secs(7)) }),
        ("limited", get("/limited"), Expect::Fails { says: vec!["429 Too Many Requests".into()], retryable: true, delay: Some(Duration::ZERO) }),
        ("slow", get("/slow"), fails(&["408 Request Timeout"], true)),
        ("broken", get("/broken"), fails(&["the response is not valid JSON", "{\"id\": 7,"], false)),
        ("unreachable", json!({"url": format!("http://127.0.0.1:{}/x", free_port())}), fails(&["GET http://127.0.0.1:", "onnection refused"], true)),
        ("tls", json!({"url": format!("https://{}/x", no_tls_server())}), fails(&["GET https://127.0.0.1:", "InvalidContentType"], false)),
        ("bad-method", json!({"method": "FETCH URL", "url": base}), fails(&["configuration: `FETCH URL` is not an HTTP method"], false)),
        ("bad-config", json!({"url": base, "expectStatus": "ok"}), fails(&["configuration: `expectStatus`"], false)),
    ];
    for (name, config, expect) in cases {
        check(name, Kind::Http, config, None, expect).await;
    }
    check("big", Kind::Http, get("/big"), Some(100), fails(&["more than settings.maxOutputBytes (100)"], false)).await;
}

#[tokio::test]
async fn slack_messages_reach_webhooks_and_the_web_api_exactly_as_slack_expects() {
    let slack = HttpServer::start(vec![
        ("POST /services/T1/B1/hook", (200, vec![("content-type", "text/plain".to_string()), (RAW_BODY, "ok".into())], Value::Null)),
        ("POST /services/T1/B1/revoked", (403, vec![("content-type", "text/plain".to_string()), (RAW_BODY, "invalid_token".into())], Value::Null)),
        ("POST /api/chat.postMessage", (200, vec![], json!({"ok": true, "channel": "C024BE91L", "ts": "1712345678.000200", "message": {"text": "Deployed"}}))),
        ("POST /bad/chat.postMessage", (200, vec![], json!({"ok": false, "error": "channel_not_found"}))),
        ("POST /busy/chat.postMessage", (429, vec![("retry-after", "3".to_string())], json!({"ok": false, "error": "ratelimited"}))),
    ]);
    let base = &slack.base_url;
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*Deployed*"}}]);
    let webhook = json!({"webhookUrl": format!("{base}/services/T1/B1/hook"), "text": "Deployed", "blocks": blocks});
    check("notify", Kind::Slack, webhook, None, Expect::Output(vec![("/ok", json!(true))])).await;
    let sent = slack.requests().pop().expect("a request");
    assert_eq!(sent.headers["content-type"], "application/json");
    assert_eq!(serde_json::from_str::<Value>(&sent.body).ok(), Some(json!({"text": "Deployed", "blocks": blocks})));

    let bot = json!({"token": "xoxb-1-2", "channel": "#deploys", "text": "Deployed", "threadTs": "1712345678.000100", "baseUrl": format!("{base}/api")});
    check("post", Kind::Slack, bot, None, Expect::Output(vec![("/ok", json!(true)), ("/channel", json!("C024BE91L")), ("/ts", json!("1712345678.000200"))])).await;
    let sent = slack.requests().pop().expect("a request");
    assert_eq!(sent.headers["authorization"], "Bearer xoxb-1-2");
    assert_eq!(sent.headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(serde_json::from_str::<Value>(&sent.body).ok(), Some(json!({"channel": "#deploys", "text": "Deployed", "thread_ts": "1712345678.000100"})));

    let revoked = json!({"webhookUrl": format!("{base}/services/T1/B1/revoked"), "text": "x"});
    check("revoked", Kind::Slack, revoked, None, fails(&["post to the webhook: 403 Forbidden: invalid_token"], false)).await;
    let unknown = json!({"token": "xoxb-1-2", "channel": "#nope", "text": "x", "baseUrl": format!("{base}/bad")});
    check("unknown-channel", Kind::Slack, unknown, None, fails(&["chat.postMessage: channel_not_found"], false)).await;
    let busy = json!({"token": "xoxb-1-2", "channel": "#c", "text": "x", "baseUrl": format!("{base}/busy")});
    let expect = Expect::Fails { says: vec!["chat.postMessage: 429 Too Many Requests".into()], retryable: true, delay: Some(Duration::from_secs(3)) };
    check("rate-limited", Kind::Slack, busy, None, expect).await;
    check("nowhere", Kind::Slack, json!({"text": "x"}), None, fails(&["configuration: give `webhookUrl`, or `token` and `channel`"], false)).await;
}

#[tokio::test]
async fn chat_completions_speak_the_openai_api_and_report_text_and_usage() {
    let answer = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "billing"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 31, "completion_tokens": 1, "total_tokens": 32},
    });
    let llm = HttpServer::start(vec![
        ("POST /v1/chat/completions", (200, vec![], answer)),
        ("POST /denied/chat/completions", (401, vec![], json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}))),
        ("POST /odd/chat/completions", (200, vec![], json!({"id": "x"}))),
        ("POST /down/chat/completions", (500, vec![], json!({"error": {"message": "The server had an error"}}))),
        (
            "POST /structured/chat/completions",
            (200, vec![], json!({"model": "m", "choices": [{"message": {"content": "{\"priority\": \"high\", \"tags\": [\"billing\"]}"}, "finish_reason": "stop"}]})),
        ),
        ("POST /prose/chat/completions", (200, vec![], json!({"model": "m", "choices": [{"message": {"content": "High priority, I think."}, "finish_reason": "stop"}]}))),
    ]);
    let base = &llm.base_url;
    let config = json!({
        "baseUrl": format!("{base}/v1"), "model": "gpt-4o-mini", "apiKey": "sk-test",
        "messages": [{"role": "system", "content": "Classify support tickets."}],
        "prompt": "My invoice is wrong", "temperature": 0.2, "maxTokens": 5,
    });
    let expect = Expect::Output(vec![
        ("/text", json!("billing")),
        ("/finishReason", json!("stop")),
        ("/model", json!("gpt-4o-mini-2024-07-18")),
        ("/usage", json!({"promptTokens": 31, "completionTokens": 1, "totalTokens": 32})),
    ]);
    check("classify", Kind::Ai, config, None, expect).await;
    let sent = llm.requests().pop().expect("a request");
    assert_eq!(sent.headers["authorization"], "Bearer sk-test");
    let body: Value = serde_json::from_str(&sent.body).expect("JSON");
    assert_eq!(
        body,
        json!({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Classify support tickets."}, {"role": "user", "content": "My invoice is wrong"}], "temperature": 0.2, "max_tokens": 5})
    );
    let at = |path: &str| json!({"baseUrl": format!("{base}/{path}"), "model": "m", "prompt": "p"});
    check("denied", Kind::Ai, at("denied"), None, fails(&["chat completion at", "401 Unauthorized: Incorrect API key provided"], false)).await;
    check("odd", Kind::Ai, at("odd"), None, fails(&["the answer has no `choices`"], false)).await;
    check("down", Kind::Ai, at("down"), None, fails(&["500 Internal Server Error: The server had an error"], true)).await;
    check("no-prompt", Kind::Ai, json!({"model": "m"}), None, fails(&["configuration: give `messages` or `prompt`"], false)).await;
    // A response format asks for JSON of a schema; the parsed answer is the output's `json`.
    let format = json!({"name": "triage", "schema": {"type": "object", "properties": {"priority": {"type": "string"}}}, "strict": true});
    let structured = json!({"baseUrl": format!("{base}/structured"), "model": "m", "prompt": "p", "responseFormat": format});
    check("structured", Kind::Ai, structured, None, Expect::Output(vec![("/json", json!({"priority": "high", "tags": ["billing"]}))])).await;
    let body: Value = serde_json::from_str(&llm.requests().pop().expect("a request").body).expect("JSON");
    assert_eq!(body["response_format"], json!({"type": "json_schema", "json_schema": format}));
    let prose = json!({"baseUrl": format!("{base}/prose"), "model": "m", "prompt": "p", "responseFormat": format});
    check("prose", Kind::Ai, prose, None, fails(&["the answer is not the JSON that `responseFormat` asks for", "High priority"], true)).await;
}

#[tokio::test]
async fn emails_are_delivered_over_smtp_and_sendgrid_and_rejections_are_final() {
    let smtp = Smtp::shared();
    let server = |port: u16, security: &str| json!({"host": "127.0.0.1", "port": port, "security": security, "username": Smtp::USER, "password": smtp.password});
    let email = |to: &str, smtp_config: Value| json!({"to": to, "cc": ["Ops <ops@example.com>"], "from": "Shop <shop@example.com>", "subject": "Order 42 shipped", "body": "It is on its way.", "html": "<p>It is on its way.</p>", "smtp": smtp_config});
    let subject = format!("Order 42 shipped ({})", std::process::id());
    let mut config = email("ada@example.com, Bob <bob@example.com>", server(smtp.plain_port, "none"));
    config["subject"] = json!(subject);
    let expect = Expect::Output(vec![("/provider", json!("smtp")), ("/accepted", json!(["ada@example.com", "bob@example.com"]))]);
    let output = check("confirm", Kind::Email, config, None, expect).await;
    let message = smtp.delivered().into_iter().find(|m| m.data.contains(&subject)).expect("the message was delivered");
    assert_eq!(message.mail_from, "shop@example.com");
    assert_eq!(message.rcpt_tos, ["ada@example.com", "bob@example.com", "ops@example.com"]);
    assert!(message.authenticated);
    assert!(message.data.contains("From: Shop <shop@example.com>"), "{}", message.data);
    assert!(message.data.contains("multipart/alternative"), "{}", message.data);
    let id = output["messageId"].as_str().unwrap_or_default();
    assert!(message.data.contains(&format!("Message-ID: {id}")), "{}", message.data);

    let mut wrong = server(smtp.plain_port, "none");
    wrong["password"] = json!("guess");
    let cases = [
        ("rejected", email("reject-me@example.com", server(smtp.plain_port, "none")), fails(&["SMTP send via 127.0.0.1:", "550", "mailbox unavailable"], false)),
        ("bad-login", email("ada@example.com", wrong), fails(&["535"], false)),
        // TLS from the first byte, to a server that speaks plain SMTP.
        ("tls-mismatch", email("ada@example.com", server(smtp.plain_port, "tls")), fails(&["SMTP send via 127.0.0.1:"], false)),
        // STARTTLS to a server whose certificate this process does not trust.
        ("untrusted", email("ada@example.com", server(smtp.starttls_port, "starttls")), fails(&["certificate"], false)),
        ("refused", email("ada@example.com", server(free_port(), "none")), fails(&["SMTP send via 127.0.0.1:"], true)),
        ("no-server", json!({"to": "a@example.com", "from": "b@example.com", "subject": "s", "body": "b"}), fails(&["configuration: `provider: smtp` needs `smtp"], false)),
        ("bad-address", email("not an address", server(smtp.plain_port, "none")), fails(&["configuration: `to`: `not an address` is not an email address"], false)),
    ];
    for (name, config, expect) in cases {
        check(name, Kind::Email, config, None, expect).await;
    }

    let sendgrid = HttpServer::start(vec![("POST /v3/mail/send", (202, vec![("x-message-id", "sg-abc".to_string())], Value::Null))]);
    let config = json!({"provider": "sendgrid", "apiKey": "SG.key", "baseUrl": sendgrid.base_url, "to": "Ada <ada@example.com>", "from": "shop@example.com", "subject": "Hi", "body": "Text"});
    check("welcome", Kind::Email, config, None, Expect::Output(vec![("/provider", json!("sendgrid")), ("/messageId", json!("sg-abc"))])).await;
    let sent = sendgrid.requests().pop().expect("a request");
    assert_eq!(sent.headers["authorization"], "Bearer SG.key");
    let body: Value = serde_json::from_str(&sent.body).expect("JSON");
    assert_eq!(body["personalizations"], json!([{"to": [{"email": "ada@example.com", "name": "Ada"}]}]));
    assert_eq!((&body["from"], &body["subject"], &body["content"]), (&json!({"email": "shop@example.com"}), &json!("Hi"), &json!([{"type": "text/plain", "value": "Text"}])));
}

#[tokio::test]
async fn database_queries_bind_parameters_and_return_typed_rows() {
    let pg = Postgres::shared();
    let table = format!("orders_{}", std::process::id());
    pg.psql(&format!(
        "create table {table} (id int primary key, customer text, total numeric(12,4), paid bool, placed timestamptz, meta jsonb, ref uuid, tags text[], note text);
         insert into {table} values (1, 'ada', 12.5, true, '2026-11-22 10:00:00+00', '{{\"vip\": true}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{a,b}}', null),
                                  (2, 'bob', 99999999.0001, false, '2026-11-22 11:30:00+00', null, null, '{{}}', 'x');"
    ))
    .expect("the table is created");
    let query = |sql: String, parameters: Value| json!({"connectionString": pg.url(), "query": sql, "parameters": parameters});
    let expect = Expect::Output(vec![
        ("/rowCount", json!(1)),
        (
            "/rows/0",
            json!({"id": 1, "customer": "ada", "total": "12.5000", "paid": true, "placed": "2026-11-22T10:00:00+00:00", "meta": {"vip": true}, "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "tags": ["a", "b"], "note": null}),
        ),
    ]);
    check("load", Kind::Database, query(format!("select * from {table} where customer = $1 and total > $2"), json!(["ada", 1])), None, expect).await;
    // A value that looks like SQL is data: bound, it matches nothing and changes nothing.
    let injection = query(format!("select id from {table} where customer = $1"), json!(["ada' or '1'='1"]));
    check("injection", Kind::Database, injection, None, Expect::Output(vec![("/rowCount", json!(0)), ("/rows", json!([]))])).await;
    let big = query(format!("select total from {table} where id = $1"), json!([2]));
    check("numeric", Kind::Database, big, None, Expect::Output(vec![("/rows/0/total", json!("99999999.0001"))])).await;
    let insert = query(format!("insert into {table} (id, customer, total, placed) values ($1, $2, $3, $4)"), json!([3, "cy", "-0.0450", "2026-11-22T12:00:00Z"]));
    check("insert", Kind::Database, insert, None, Expect::Output(vec![("/rowCount", json!(1)), ("/rows", json!([]))])).await;
    assert_eq!(pg.psql(&format!("select total, placed from {table} where id = 3")).ok().as_deref(), Some("-0.0450|2026-11-22 12:00:00+00"));
    let update = query(format!("update {table} set paid = $1 where paid is not true"), json!([true]));
    check("update", Kind::Database, update, None, Expect::Output(vec![("/rowCount", json!(2))])).await;

    let mut denied = pg.url();
    denied = denied.replace(&pg.password, "wrong");
    let cases = [
        ("missing-table", query("select * from no_such_table".into(), json!([])), fails(&["prepare: ERROR 42P01", "\"no_such_table\" does not exist"], false)),
        ("bad-cast", query(format!("select * from {table} where id = $1::text::int"), json!(["seven"])), fails(&["query: ERROR 22P02"], false)),
        ("wrong-type", query(format!("select * from {table} where id = $1"), json!([{"id": 1}])), fails(&["bind: $1: {\"id\":1} is not a `int4`"], false)),
        ("count", query(format!("select * from {table} where id = $1"), json!([])), fails(&["bind: the query has 1 placeholder(s) and `parameters` has 0 value(s)"], false)),
        ("denied", json!({"connectionString": denied, "query": "select 1"}), fails(&["connect to 127.0.0.1:", "28P01"], false)),
        ("down", json!({"connectionString": format!("postgres://u:p@127.0.0.1:{}/db", free_port()), "query": "select 1"}), fails(&["connect to 127.0.0.1:", "/db"], true)),
        ("untrusted", json!({"connectionString": format!("{}?sslmode=require", pg.url()), "query": "select 1"}), fails(&["connect to 127.0.0.1:", "certificate"], false)),
    ];
    for (name, config, expect) in cases {
        let message = check(name, Kind::Database, config, None, expect).await;
        assert!(!message.to_string().contains(&pg.password), "{name}: the password is never in a message: {message}");
    }
    // `sslmode=require` connects over TLS, trusting `sslrootcert` besides the system roots; the
    // server's own view of the session says so. Both connection string forms read the options.
    let ssl = "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()";
    let ca = pg.ca_file.display();
    for (name, connection_string) in [
        ("tls-url", format!("{}?sslmode=require&sslrootcert={ca}", pg.url())),
        (
            "tls-keywords",
            format!("host=127.0.0.1 port={} user={} password={} dbname={} sslmode=verify-full sslrootcert={ca}", pg.port, Postgres::USER, pg.password, Postgres::USER),
        ),
    ] {
        let tls = json!({"connectionString": connection_string, "query": ssl});
        check(name, Kind::Database, tls, None, Expect::Output(vec![("/rows/0/ssl", json!(true))])).await;
    }
    let plain = query(ssl.to_string(), json!([]));
    check("plain", Kind::Database, plain, None, Expect::Output(vec![("/rows/0/ssl", json!(false))])).await;
    let all = query(format!("select * from {table}"), json!([]));
    check("too-many-rows", Kind::Database, all, Some(200), fails(&["read rows: ", "more than settings.maxOutputBytes (200)"], false)).await;
}

/// A built-in heartbeats while its call runs, and a cancel (what a `Timeout` or a decided
/// `Parallel` sends) interrupts the call in flight instead of letting it run to its deadline:
/// an HTTP request to a server that answers in 30 s, a PostgreSQL query that sleeps 30 s.
#[tokio::test]
async fn a_cancel_interrupts_a_call_in_flight() {
    let api = HttpServer::start(vec![("GET /hang", (200, vec![(wfc_tests::http::DELAY_MS, "30000".to_string())], json!({"late": true})))]);
    let pg = Postgres::shared();
    let cases =
        [(Kind::Http, json!({"method": "GET", "url": format!("{}/hang", api.base_url)})), (Kind::Database, json!({"connectionString": pg.url(), "query": "SELECT pg_sleep(30)"}))];
    for (kind, config) in cases {
        let beats = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = beats.clone();
        let info = TestActivityInfoOptions::builder().deadline(Some(SystemTime::now() + Duration::from_secs(60))).build();
        let env = ActivityEnvironment::builder()
            .info(info)
            .on_heartbeat(move |_| {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
            .build();
        let input = BuiltinInput { node: "slow".to_string(), idempotency_key: "wf-1/slow".to_string(), config, secrets: Vec::new(), max_output_bytes: None };
        let started = std::time::Instant::now();
        let run = async {
            match kind {
                Kind::Database => env.run(Builtins::database, input).await,
                _ => env.run(Builtins::http, input).await,
            }
        };
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            env.cancel();
        };
        let (result, ()) = tokio::join!(run, cancel);
        assert!(matches!(result, Err(ActivityEnvironmentError::Activity(ActivityError::Cancelled { .. }))), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "the call ran on for {:?}", started.elapsed());
        assert!(beats.load(std::sync::atomic::Ordering::SeqCst) >= 1, "no heartbeat while the call ran");
    }
}
