//! A real SMTP server (Python's aiosmtpd, `tests/servers/smtp_sink.py`) that keeps what it
//! receives, started once per process and stopped when it exits.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::repo_root;
use crate::server::{free_port, spawn_guarded};

/// Two listeners on 127.0.0.1: `plain_port` (no TLS, AUTH in the clear) and `starttls_port`
/// (STARTTLS required, with a certificate for `localhost` that `ca_file` trusts). Both require
/// AUTH as [`Smtp::USER`] with `password`; a recipient `reject…@…` is refused with 550.
pub struct Smtp {
    pub plain_port: u16,
    pub starttls_port: u16,
    pub password: String,
    /// The certificate to trust (`SSL_CERT_FILE`) for `starttls_port`.
    pub ca_file: PathBuf,
    out: PathBuf,
    _child: Child,
}

/// A delivered message.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The message as received: headers and body.
    pub data: String,
    pub authenticated: bool,
}

impl Smtp {
    pub const USER: &str = "mailer";

    /// The server shared by every test of this process.
    pub fn shared() -> &'static Smtp {
        static SERVER: OnceLock<Smtp> = OnceLock::new();
        SERVER.get_or_init(|| Smtp::start("smtp-s3cret-91c2"))
    }

    fn start(password: &str) -> Smtp {
        let dir = std::env::temp_dir().join(format!("wfc-smtp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = dir.join("mail");
        std::fs::create_dir_all(&out).expect("a temporary directory");
        let (cert, key, ca) = (dir.join("cert.pem"), dir.join("key.pem"), dir.join("ca.pem"));
        crate::certs::make(&dir);
        let (plain_port, starttls_port) = (free_port(), free_port());
        let script = repo_root().join("tests/servers/smtp_sink.py");
        let args = [
            script.display().to_string(),
            plain_port.to_string(),
            starttls_port.to_string(),
            cert.display().to_string(),
            key.display().to_string(),
            Self::USER.to_string(),
            password.to_string(),
            out.display().to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let log = std::fs::File::create(dir.join("smtp.log")).map(Stdio::from).unwrap_or_else(|_| Stdio::null());
        let child = spawn_guarded(std::path::Path::new("python3"), &args, &[], log).expect("python3 runs");
        let deadline = Instant::now() + Duration::from_secs(30);
        while [plain_port, starttls_port].iter().any(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_err()) {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.join("smtp.log")).unwrap_or_default();
                panic!("the SMTP server did not come up within 30s (pip install aiosmtpd): {log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Smtp { plain_port, starttls_port, password: password.to_string(), ca_file: ca, out, _child: child }
    }

    /// Every message delivered so far, in order.
    pub fn delivered(&self) -> Vec<Delivered> {
        let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(&self.out)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let n = path.file_name()?.to_str()?.strip_suffix(".json")?.parse().ok()?;
                Some((n, path))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
                Some(Delivered {
                    mail_from: v["mail_from"].as_str()?.to_string(),
                    rcpt_tos: v["rcpt_tos"].as_array()?.iter().filter_map(|r| r.as_str().map(str::to_string)).collect(),
                    data: v["data"].as_str()?.to_string(),
                    authenticated: v["authenticated"].as_bool().unwrap_or(false),
                })
            })
            .collect()
    }
}
