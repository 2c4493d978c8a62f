//! An SCF function in Rust on scf-core: the response wraps the event, `{"echo":<event>}`.

use scf_core::{ErrorReport, Invocation};

fn main() -> std::process::ExitCode {
    scf_core::serve(|inv: &Invocation| -> Result<Vec<u8>, ErrorReport> {
        eprintln!("request {}: {} bytes", inv.request_id, inv.body.len());
        let mut out = b"{\"echo\":".to_vec();
        out.extend_from_slice(&inv.body);
        out.push(b'}');
        Ok(out)
    })
}
