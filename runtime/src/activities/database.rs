//! The `DatabaseQuery` activity: one PostgreSQL statement, its `parameters` bound (never spliced
//! into the SQL), its rows returned as JSON.

use std::error::Error as StdError;

use base64::Engine;
use bytes::{BufMut, BytesMut};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use futures::{StreamExt, pin_mut};
use serde::Deserialize;
use serde_json::{Map, Number, Value, json};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};
use tokio_postgres::{Config, NoTls, Row};

use super::{BuiltinInput, Call, Fault, chain, too_large};

type BoxError = Box<dyn StdError + Sync + Send>;

/// A node's `DatabaseQuery` configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryConfig {
    /// `postgres://user:password@host:port/db` or `host=… user=…`; usually from `env`.
    pub connection_string: String,
    /// One SQL statement with `$1`, `$2`… placeholders. It is not a template.
    pub query: String,
    /// The values of `$1`, `$2`…, converted to the types PostgreSQL infers for them.
    #[serde(default)]
    pub parameters: Vec<Value>,
}

/// Runs the statement. The output is `{rows, rowCount}`: rows as objects keyed by column name
/// (numbers and booleans as JSON; `numeric` as a string, so no digit is lost; times as ISO 8601;
/// `bytea` as base64), and `rowCount` the rows returned or affected. SQL errors are not retried,
/// except serialization failures and deadlocks; lost connections are.
pub async fn database_query(ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
    super::run("DatabaseQuery", &ctx, input, query).await
}

async fn query(config: QueryConfig, call: Call) -> Result<Value, Fault> {
    let (connection_string, tls) = tls_options(&config.connection_string);
    let mut pg: Config = connection_string.parse().map_err(|e: tokio_postgres::Error| Fault::fatal("configuration", format!("invalid `connectionString`: {}", chain(&e))))?;
    let target = describe(&pg);
    if pg.get_connect_timeout().is_none()
        && let Some(left) = call.time_left()
    {
        pg.connect_timeout(left);
    }
    let connect = format!("connect to {target}");
    let (client, driver) = match tls {
        None => {
            let (client, connection) = pg.connect(NoTls).await.map_err(|e| sql_fault(&connect, &e))?;
            (client, tokio::spawn(connection))
        }
        Some(root_cert) => {
            pg.ssl_mode(tokio_postgres::config::SslMode::Require);
            let tls = tls_connector(root_cert.as_deref()).map_err(|cause| Fault::fatal("configuration", cause))?;
            let (client, connection) = pg.connect(tls).await.map_err(|e| sql_fault(&connect, &e))?;
            (client, tokio::spawn(connection))
        }
    };
    let result = run_statement(&client, &config, &call).await;
    drop(client);
    let _ = driver.await;
    result
}

/// The connection string without the TLS settings tokio-postgres does not read, and whether
/// the connection must be TLS (`sslmode=require`, `verify-ca` or `verify-full`), with the CA
/// file to trust besides the system roots (`sslrootcert`). The server's certificate is always
/// verified, as for every other built-in; `disable` and `prefer` (the default) connect in the
/// clear. Both forms are read: `postgres://…?sslmode=require` and `host=… sslmode=require`.
fn tls_options(connection_string: &str) -> (String, Option<Option<String>>) {
    let (mut require, mut root_cert) = (false, None);
    let mut keep = |key: &str, value: &str| match key {
        "sslmode" => {
            require = matches!(value, "require" | "verify-ca" | "verify-full");
            false
        }
        "sslrootcert" => {
            root_cert = Some(value.to_string());
            false
        }
        _ => true,
    };
    let rest = if let Some((base, query)) = connection_string.split_once('?').filter(|_| connection_string.contains("://")) {
        let kept: Vec<&str> = query.split('&').filter(|pair| pair.split_once('=').is_none_or(|(k, v)| keep(k, v))).collect();
        if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) }
    } else if connection_string.contains("://") {
        connection_string.to_string()
    } else {
        connection_string.split_whitespace().filter(|pair| pair.split_once('=').is_none_or(|(k, v)| keep(k, v))).collect::<Vec<_>>().join(" ")
    };
    (rest, require.then_some(root_cert))
}

/// A rustls connector trusting the system roots (`SSL_CERT_FILE` names another bundle), the
/// Web PKI roots, and the `sslrootcert` file when given.
fn tls_connector(root_cert: Option<&str>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = root_cert {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| format!("cannot read `sslrootcert` {path}: {e}"))?;
        for cert in certs {
            roots.add(cert.map_err(|e| format!("cannot read `sslrootcert` {path}: {e}"))?).map_err(|e| format!("`sslrootcert` {path}: {e}"))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

async fn run_statement(client: &tokio_postgres::Client, config: &QueryConfig, call: &Call) -> Result<Value, Fault> {
    let statement = client.prepare(&config.query).await.map_err(|e| sql_fault("prepare", &e))?;
    let types = statement.params();
    if types.len() != config.parameters.len() {
        return Err(Fault::fatal("bind", format!("the query has {} placeholder(s) and `parameters` has {} value(s)", types.len(), config.parameters.len())));
    }
    let mut bound: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    for (i, (value, ty)) in config.parameters.iter().zip(types).enumerate() {
        bound.push(param(value, ty).map_err(|cause| Fault::fatal("bind", format!("${}: {cause}", i + 1)))?);
    }
    let rows = client.query_raw(&statement, bound.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync))).await.map_err(|e| sql_fault("query", &e))?;
    pin_mut!(rows);
    let mut out = Vec::new();
    let mut size = 0;
    while let Some(row) = rows.next().await {
        let row = row.map_err(|e| sql_fault("query", &e))?;
        let object = row_json(&row).map_err(|cause| Fault::fatal("read rows", cause))?;
        size += object.to_string().len() + 1;
        if let Some(max) = call.max_output_bytes
            && size > max
        {
            return Err(too_large("read rows", size, max));
        }
        out.push(object);
    }
    let count = rows.rows_affected().unwrap_or(out.len() as u64);
    Ok(json!({ "rows": out, "rowCount": count }))
}

/// `host:port/db`, with no user or password, for messages.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or_default())
}

/// A PostgreSQL error as `ERROR 42P01: relation "x" does not exist`; connection losses,
/// serialization failures, deadlocks and an unavailable server are retryable.
fn sql_fault(operation: &str, error: &tokio_postgres::Error) -> Fault {
    let Some(db) = error.as_db_error() else {
        let cause = chain(error);
        // A TLS refusal (an untrusted certificate, TLS demanded or not offered) is configuration.
        return if super::is_tls_refusal(&cause) { Fault::fatal(operation, cause) } else { Fault::transient(operation, cause) };
    };
    let code = db.code().code();
    let mut cause = format!("{} {code}: {}", db.severity(), db.message());
    if let Some(detail) = db.detail() {
        cause.push_str(&format!(" ({detail})"));
    }
    if let Some(hint) = db.hint() {
        cause.push_str(&format!("; hint: {hint}"));
    }
    let retryable = code.starts_with("08") || code.starts_with("53") || matches!(code, "40001" | "40P01" | "57P01" | "57P02" | "57P03");
    if retryable { Fault::transient(operation, cause) } else { Fault::fatal(operation, cause) }
}

/// A JSON parameter as the type PostgreSQL inferred for its placeholder.
fn param(value: &Value, ty: &Type) -> Result<Box<dyn ToSql + Sync + Send>, String> {
    if value.is_null() {
        return Ok(Box::new(Null));
    }
    let text = || match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let wrong = || format!("{value} is not a `{ty}`");
    let int = || value.as_i64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok())).ok_or_else(wrong);
    let float = || value.as_f64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok())).ok_or_else(wrong);
    Ok(match *ty {
        Type::BOOL => Box::new(value.as_bool().ok_or_else(wrong)?),
        Type::INT2 => Box::new(i16::try_from(int()?).map_err(|_| wrong())?),
        Type::INT4 => Box::new(i32::try_from(int()?).map_err(|_| wrong())?),
        Type::INT8 => Box::new(int()?),
        Type::OID => Box::new(u32::try_from(int()?).map_err(|_| wrong())?),
        Type::FLOAT4 => Box::new(float()? as f32),
        Type::FLOAT8 => Box::new(float()?),
        Type::NUMERIC => Box::new(Numeric(numeric_text(value).ok_or_else(wrong)?)),
        Type::JSON | Type::JSONB => Box::new(value.clone()),
        Type::UUID => Box::new(text().parse::<uuid::Uuid>().map_err(|e| format!("{value} is not a uuid: {e}"))?),
        Type::TIMESTAMPTZ => Box::new(DateTime::parse_from_rfc3339(&text()).map_err(|e| format!("{value} is not an RFC 3339 time: {e}"))?.with_timezone(&Utc)),
        Type::TIMESTAMP => Box::new(text().parse::<NaiveDateTime>().map_err(|e| format!("{value} is not a timestamp: {e}"))?),
        Type::DATE => Box::new(text().parse::<NaiveDate>().map_err(|e| format!("{value} is not a date: {e}"))?),
        Type::TIME => Box::new(text().parse::<NaiveTime>().map_err(|e| format!("{value} is not a time: {e}"))?),
        Type::BYTEA => Box::new(base64::engine::general_purpose::STANDARD.decode(text()).map_err(|e| format!("{value} is not base64: {e}"))?),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => Box::new(array(value, |v| Some(v.as_str().map_or_else(|| v.to_string(), str::to_string))).ok_or_else(wrong)?),
        Type::INT4_ARRAY => Box::new(array(value, |v| v.as_i64().and_then(|n| i32::try_from(n).ok())).ok_or_else(wrong)?),
        Type::INT8_ARRAY => Box::new(array(value, Value::as_i64).ok_or_else(wrong)?),
        Type::FLOAT8_ARRAY => Box::new(array(value, Value::as_f64).ok_or_else(wrong)?),
        Type::BOOL_ARRAY => Box::new(array(value, Value::as_bool).ok_or_else(wrong)?),
        _ if text_like(ty) => Box::new(Text(text())),
        _ => return Err(format!("wfc cannot send a `{ty}` yet: cast the placeholder, e.g. `${{n}}::text`")),
    })
}

fn array<T>(value: &Value, item: impl Fn(&Value) -> Option<T>) -> Option<Vec<Option<T>>> {
    value.as_array()?.iter().map(|v| if v.is_null() { Some(None) } else { item(v).map(Some) }).collect()
}

/// Types whose binary form is their UTF-8 text: strings, names, enums, `citext`.
fn text_like(ty: &Type) -> bool {
    matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN) || matches!(ty.kind(), Kind::Enum(_)) || ty.name() == "citext"
}

/// A row as a JSON object, column by column.
fn row_json(row: &Row) -> Result<Value, String> {
    let mut object = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let value = cell(row, i, column.type_()).map_err(|e| format!("column `{}`: {e}", column.name()))?;
        object.insert(column.name().to_string(), value);
    }
    Ok(Value::Object(object))
}

fn cell(row: &Row, i: usize, ty: &Type) -> Result<Value, String> {
    fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize, to: impl Fn(T) -> Value) -> Result<Value, String> {
        let value: Option<T> = row.try_get(i).map_err(|e| chain(&e))?;
        Ok(value.map_or(Value::Null, to))
    }
    let float = |f: f64| Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number);
    let list = |items: Vec<Value>| Value::Array(items);
    match *ty {
        Type::BOOL => get(row, i, Value::Bool),
        Type::CHAR => get(row, i, |c: i8| json!(c)),
        Type::INT2 => get(row, i, |n: i16| json!(n)),
        Type::INT4 => get(row, i, |n: i32| json!(n)),
        Type::INT8 => get(row, i, |n: i64| json!(n)),
        Type::OID => get(row, i, |n: u32| json!(n)),
        Type::FLOAT4 => get(row, i, |f: f32| float(f64::from(f))),
        Type::FLOAT8 => get(row, i, float),
        Type::NUMERIC => get(row, i, |n: Numeric| Value::String(n.0)),
        Type::JSON | Type::JSONB => get(row, i, |v: Value| v),
        Type::UUID => get(row, i, |u: uuid::Uuid| Value::String(u.to_string())),
        Type::TIMESTAMPTZ => get(row, i, |t: DateTime<Utc>| Value::String(t.to_rfc3339())),
        Type::TIMESTAMP => get(row, i, |t: NaiveDateTime| Value::String(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string())),
        Type::DATE => get(row, i, |d: NaiveDate| Value::String(d.to_string())),
        Type::TIME => get(row, i, |t: NaiveTime| Value::String(t.to_string())),
        Type::BYTEA => get(row, i, |b: Vec<u8>| Value::String(base64::engine::general_purpose::STANDARD.encode(b))),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => get(row, i, |v: Vec<Option<String>>| list(v.into_iter().map(|s| s.map_or(Value::Null, Value::String)).collect())),
        Type::INT4_ARRAY => get(row, i, |v: Vec<Option<i32>>| json!(v)),
        Type::INT8_ARRAY => get(row, i, |v: Vec<Option<i64>>| json!(v)),
        Type::FLOAT8_ARRAY => get(row, i, |v: Vec<Option<f64>>| json!(v)),
        Type::BOOL_ARRAY => get(row, i, |v: Vec<Option<bool>>| json!(v)),
        Type::JSONB_ARRAY | Type::JSON_ARRAY => get(row, i, |v: Vec<Option<Value>>| json!(v)),
        _ if text_like(ty) => get(row, i, |t: Text| Value::String(t.0)),
        _ => Err(format!("wfc cannot read a `{ty}` yet: cast it in the query, e.g. `{}::text`", ty.name())),
    }
}

/// SQL `NULL`, whatever the placeholder's type.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, BoxError> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// A value of a text-like type (see [`text_like`]).
#[derive(Debug)]
struct Text(String);

impl ToSql for Text {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        text_like(ty)
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for Text {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Text(std::str::from_utf8(raw)?.to_string()))
    }
    fn accepts(ty: &Type) -> bool {
        text_like(ty)
    }
}

/// A `numeric` as its decimal text: exact, whatever its size.
#[derive(Debug)]
struct Numeric(String);

/// The decimal text of a JSON number or numeric string (`-12.50`).
fn numeric_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::Number(n) => n.as_i64().map(|i| i.to_string()).or_else(|| n.as_u64().map(|u| u.to_string())).or_else(|| n.as_f64().map(|f| f.to_string()))?,
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    let digits = text.strip_prefix('-').unwrap_or(&text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit());
    valid.then_some(text)
}

// The binary `numeric`: ndigits, weight, sign, dscale (i16/i16/u16/u16), then ndigits base-10000
// digits; the value is the sum of digit[i] × 10000^(weight − i).
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;

impl ToSql for Numeric {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let negative = self.0.starts_with('-');
        let digits = self.0.trim_start_matches('-');
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let int = int.trim_start_matches('0');
        let padded_int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
        let padded_frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
        let group = |s: &str| s.parse::<i16>().unwrap_or(0);
        let mut groups: Vec<i16> = padded_int.as_bytes().chunks(4).chain(padded_frac.as_bytes().chunks(4)).map(|c| group(std::str::from_utf8(c).unwrap_or("0"))).collect();
        let mut weight = i16::try_from(padded_int.len() / 4).unwrap_or(i16::MAX) - 1;
        while groups.first() == Some(&0) {
            groups.remove(0);
            weight -= 1;
        }
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        out.put_i16(i16::try_from(groups.len())?);
        out.put_i16(weight);
        out.put_u16(if negative && !groups.is_empty() { NUMERIC_NEG } else { 0 });
        out.put_u16(u16::try_from(frac.len())?);
        for g in groups {
            out.put_i16(g);
        }
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let word = |i: usize| -> Result<i16, BoxError> { Ok(i16::from_be_bytes(raw.get(i..i + 2).ok_or("a short numeric")?.try_into()?)) };
        let (ndigits, weight, sign, dscale) = (word(0)?, word(2)?, word(4)? as u16, word(6)? as u16);
        match sign {
            NUMERIC_NAN => return Ok(Numeric("NaN".into())),
            0xD000 => return Ok(Numeric("Infinity".into())),
            0xF000 => return Ok(Numeric("-Infinity".into())),
            _ => {}
        }
        let digits: Vec<i16> = (0..usize::try_from(ndigits)?).map(|i| word(8 + 2 * i)).collect::<Result<_, _>>()?;
        let digit = |position: i32| usize::try_from(position).ok().and_then(|p| digits.get(p)).copied().unwrap_or(0);
        let mut text = String::new();
        if sign == NUMERIC_NEG {
            text.push('-');
        }
        if weight < 0 {
            text.push('0');
        } else {
            for position in 0..=i32::from(weight) {
                let d = digit(position);
                if position == 0 { text.push_str(&d.to_string()) } else { text.push_str(&format!("{d:04}")) }
            }
        }
        if dscale > 0 {
            let mut frac = String::new();
            let mut position = i32::from(weight) + 1;
            while frac.len() < usize::from(dscale) {
                frac.push_str(&format!("{:04}", digit(position)));
                position += 1;
            }
            frac.truncate(usize::from(dscale));
            text.push('.');
            text.push_str(&frac);
        }
        Ok(Numeric(text))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}
