//! A real PostgreSQL server (Debian's `postgresql` package), in a fresh cluster on a free port,
//! started once per process and stopped when it exits.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::server::{free_port, spawn_guarded};

/// A running cluster. Its superuser is [`Postgres::USER`], with a password (scram-sha-256 over
/// TCP), and it has a database of the same name. It speaks TLS (`ssl=on`) with a certificate
/// for 127.0.0.1 that [`Postgres::ca_file`] trusts, and without TLS to clients that ask so.
pub struct Postgres {
    pub port: u16,
    pub password: String,
    /// The CA that signed the server's certificate (`sslrootcert`).
    pub ca_file: PathBuf,
    _child: Child,
}

impl Postgres {
    pub const USER: &str = "wfc";

    /// The server shared by every test of this process.
    pub fn shared() -> &'static Postgres {
        static SERVER: OnceLock<Postgres> = OnceLock::new();
        SERVER.get_or_init(|| Postgres::start("pg-s3cret-7f3a"))
    }

    /// `postgres://wfc:<password>@127.0.0.1:<port>/wfc`.
    pub fn url(&self) -> String {
        format!("postgres://{}:{}@127.0.0.1:{}/{}", Self::USER, self.password, self.port, Self::USER)
    }

    fn start(password: &str) -> Postgres {
        let dir = std::env::temp_dir().join(format!("wfc-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        std::fs::write(dir.join("pwfile"), password).expect("a password file");
        crate::certs::make(&dir);
        // PostgreSQL refuses a key file others can read.
        let status = Command::new("chmod").arg("600").arg(dir.join("key.pem")).status();
        assert!(status.is_ok_and(|s| s.success()), "cannot restrict the key file");
        let data = dir.join("data");
        // PostgreSQL refuses to run as root; Debian's package has a `postgres` user for that.
        let as_postgres = is_root();
        if as_postgres {
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status();
            assert!(status.is_ok_and(|s| s.success()), "cannot hand {} to the postgres user", dir.display());
        }
        let initdb = bin("initdb");
        let mut init = command(as_postgres, &initdb);
        init.args(["-U", Self::USER, "--auth=scram-sha-256", "--encoding=UTF8", "--no-sync", "-D"]).arg(&data).arg(format!("--pwfile={}", dir.join("pwfile").display()));
        let output = init.output().unwrap_or_else(|e| panic!("cannot run {} ({e}); install Debian's `postgresql`", initdb.display()));
        assert!(output.status.success(), "initdb failed: {}", String::from_utf8_lossy(&output.stderr));

        let port = free_port();
        let postgres = bin("postgres");
        let port_text = port.to_string();
        let socket_dir = dir.display().to_string();
        let data_text = data.display().to_string();
        let (cert, key) = (format!("ssl_cert_file={}", dir.join("cert.pem").display()), format!("ssl_key_file={}", dir.join("key.pem").display()));
        let args = ["-D", &data_text, "-p", &port_text, "-k", &socket_dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "ssl=on", "-c", &cert, "-c", &key];
        let log = std::fs::File::create(dir.join("postgres.log")).map(Stdio::from).unwrap_or_else(|_| Stdio::null());
        let child = if as_postgres {
            let mut full = vec!["-u", "postgres", "--", postgres.to_str().unwrap_or("postgres")];
            full.extend(args);
            spawn_guarded(Path::new("runuser"), &full, &[], log)
        } else {
            spawn_guarded(&postgres, &args, &[], log)
        }
        .expect("postgres starts");
        let server = Postgres { port, password: password.to_string(), ca_file: dir.join("ca.pem"), _child: child };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.psql_in("postgres", "select 1").is_err() {
            assert!(Instant::now() < deadline, "PostgreSQL did not come up within 60s; see {}", dir.join("postgres.log").display());
            std::thread::sleep(Duration::from_millis(200));
        }
        server.psql_in("postgres", &format!("create database {}", Self::USER)).expect("the database is created");
        server
    }

    /// Runs SQL with `psql` in the `wfc` database and returns its unaligned output.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        self.psql_in(Self::USER, sql)
    }

    fn psql_in(&self, database: &str, sql: &str) -> Result<String, String> {
        let output = Command::new(bin("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", Self::USER, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .env("PGPASSWORD", &self.password)
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() { Ok(String::from_utf8_lossy(&output.stdout).trim().to_string()) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) }
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn command(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A PostgreSQL program: on `PATH`, else in Debian's versioned folder.
fn bin(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).map(|d| d.join(name)).find(|p| p.is_file());
    if let Some(path) = on_path {
        return path;
    }
    let mut versions: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").into_iter().flatten().flatten().map(|e| e.path().join("bin").join(name)).filter(|p| p.is_file()).collect();
    versions.sort();
    versions.pop().unwrap_or_else(|| PathBuf::from(name))
}
