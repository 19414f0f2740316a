//! Test certificates: a CA and, signed by it, a certificate for `localhost` and 127.0.0.1, for
//! the servers that speak TLS (SMTP with STARTTLS, PostgreSQL with `ssl=on`).

use std::process::{Command, Stdio};

/// A test CA (`ca.pem`) and, signed by it, a certificate for `localhost` and 127.0.0.1
/// (`cert.pem`, `key.pem`), made with the `openssl` command.
pub fn make(dir: &std::path::Path) {
    std::fs::write(dir.join("leaf.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").expect("an extension file");
    let steps: [&[&str]; 3] = [
        &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=wfc test CA", "-keyout", "ca.key", "-out", "ca.pem"],
        &["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "leaf.csr"],
        &["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "leaf.ext", "-out", "cert.pem"],
    ];
    for args in steps {
        let status = Command::new("openssl").args(args).current_dir(dir).stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(status.is_ok_and(|s| s.success()), "openssl {} failed", args.join(" "));
    }
}
