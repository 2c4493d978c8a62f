//! `scfrt serve` as a subprocess of the tests, the code zips they create functions from, and a
//! network namespace for the cases whose servers must listen beyond 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;

use crate::api_client::{SECRET_ID, SECRET_KEY};

/// A running `scfrt serve` (the suite's `rel-scfrt`), on a free port, with the suite's
/// credentials; its stderr is collected by a thread. Killed when dropped.
pub struct ServeProcess {
    /// The process (for its pid, signals, `wait`).
    pub child: Child,
    /// The port it listens on.
    pub port: u16,
    /// `host:port`, from its first line (`listening on http://host:port`).
    pub addr: String,
    stderr: Arc<Mutex<String>>,
}

impl ServeProcess {
    /// `exe serve --port 0 --state-dir state --secret-id ... --secret-key ... extra...`.
    pub fn start(exe: impl AsRef<Path>, state: &Path, extra: &[&str]) -> ServeProcess {
        ServeProcess::start_with(exe, state, extra, |_| {})
    }

    /// [`start`](Self::start), with `tweak` applied to the command first (its environment).
    pub fn start_with(
        exe: impl AsRef<Path>,
        state: &Path,
        extra: &[&str],
        tweak: impl FnOnce(&mut Command),
    ) -> ServeProcess {
        let mut cmd = Command::new(exe.as_ref());
        cmd.args(["serve", "--port", "0", "--state-dir"])
            .arg(state)
            .args(["--secret-id", SECRET_ID, "--secret-key", SECRET_KEY])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        tweak(&mut cmd);
        let mut child = cmd.spawn().expect("spawn scfrt serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        ServeProcess {
            child,
            port,
            addr,
            stderr,
        }
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Its stderr so far, once it holds `needle` (panics after 20 s).
    pub fn stderr_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.stderr();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} on the server's stderr within 20 s: {text}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A code zip with `bootstrap` (mode 0755) as its one entry, base64-encoded as CreateFunction's
/// `Code.ZipFile` takes it.
pub fn code_zip_base64(bootstrap: &[u8]) -> String {
    zip_base64(&[("bootstrap", bootstrap, 0o755)])
}

/// A zip of `(name, data, unix mode)` entries, base64-encoded.
pub fn zip_base64(entries: &[(&str, &[u8], u32)]) -> String {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        for (name, data, mode) in entries {
            let opts = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
            z.start_file(*name, opts).expect("zip entry");
            z.write_all(data).expect("zip write");
        }
        z.finish().expect("zip finish");
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

/// Moves the calling thread (and so the processes it starts) into a network namespace of its
/// own with only a loopback interface, up: a server that must listen on `0.0.0.0` there (as
/// SCF requires of image functions, or `scfrt serve --host 0.0.0.0`) is reachable from nowhere
/// else, and nothing else on the machine holds its port.
pub fn own_network_namespace() {
    // SAFETY: unshare(2) with CLONE_NEWNET changes only this thread's network namespace.
    let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        r,
        0,
        "unshare(CLONE_NEWNET) failed ({}): this case runs its 0.0.0.0 server in a network \
         namespace of its own (root, or a user namespace, is needed)",
        std::io::Error::last_os_error()
    );
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("run `ip` (iproute2) to bring the namespace's loopback up");
    assert!(up.success(), "ip link set lo up: {up}");
}
