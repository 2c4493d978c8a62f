//! `scfrt serve --tls`: the Invoke API over HTTPS, as the real endpoint is, so clients that only
//! speak https (tccli) reach it.
//!
//! Without a certificate of the user's own, serve makes a local CA once and a server certificate
//! it signs, valid for `127.0.0.1`, `::1` and `localhost`, under `<state>/tls/`:
//!
//! ```text
//! ca.pem     the local CA: what a client is told to trust
//! cert.pem   the server certificate, then the CA (the chain serve presents)
//! key.pem    the server certificate's private key (mode 0600)
//! ```
//!
//! The CA's own key is not kept: nothing can be signed with it later. The files are reused on
//! the next start, so a client that trusts `ca.pem` keeps trusting the server. How clients are
//! made to trust it: docs/scfrt.md.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Days a generated server certificate is valid (the most that clients such as Apple's accept).
pub const CERT_VALID_DAYS: i64 = 825;

/// A certificate chain and its key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, server certificate first.
    pub cert: PathBuf,
    /// The server certificate's private key.
    pub key: PathBuf,
    /// The CA a client must trust, when serve made it (`None` for the user's own certificate).
    pub ca: Option<PathBuf>,
}

/// The generated files under `<state>/tls/`, made now unless all three are already there.
///
/// # Errors
/// When the directory or a file cannot be written, or generation fails; the message names the
/// file.
pub fn local_ca_files(state_dir: &Path, now: i64) -> Result<TlsFiles, String> {
    let dir = state_dir.join("tls");
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        ca: Some(dir.join("ca.pem")),
    };
    let ca_path = dir.join("ca.pem");
    if files.cert.is_file() && files.key.is_file() && ca_path.is_file() {
        return Ok(files);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let (ca_pem, chain_pem, key_pem) =
        generate(now).map_err(|e| format!("cannot generate a certificate: {e}"))?;
    // The key first and the CA last: a crash in between leaves no ca.pem, and the next start
    // makes all three again.
    write_new(&files.key, key_pem.as_bytes(), 0o600)?;
    write_new(&files.cert, chain_pem.as_bytes(), 0o644)?;
    write_new(&ca_path, ca_pem.as_bytes(), 0o644)?;
    Ok(files)
}

/// (CA PEM, server certificate + CA PEM, server key PEM), valid from a day before `now` for
/// [`CERT_VALID_DAYS`].
fn generate(now: i64) -> Result<(String, String, String), rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let day = |t: i64| {
        let (y, m, d) = scf_cloud::tc3::civil_date(t);
        rcgen::date_time_ymd(y as i32, m as u8, d as u8)
    };
    let not_before = day(now - 86_400);
    let not_after = day(now + CERT_VALID_DAYS * 86_400);

    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "scfrt serve local CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;

    let mut leaf = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "scfrt serve");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key)?;

    let ca_pem = ca_cert.pem();
    Ok((
        ca_pem.clone(),
        format!("{}{ca_pem}", leaf_cert.pem()),
        leaf_key.serialize_pem(),
    ))
}

/// Writes `bytes` to `path` with `mode`, through a temporary file renamed into place.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

/// The server side of TLS for `files`: TLS 1.2 and 1.3, HTTP/1.1.
///
/// # Errors
/// When a file cannot be read or holds no certificate / key; the message names the file.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| format!("cannot read {}: {e}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", files.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("{}: no PEM private key in it: {e}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "{} and {} do not make a usable certificate and key: {e}",
                files.cert.display(),
                files.key.display()
            )
        })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_reused_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_700_000_000;
        let files = local_ca_files(dir.path(), now).unwrap();
        let first = std::fs::read(&files.cert).unwrap();
        assert!(server_config(&files).is_ok());
        let mode = std::fs::metadata(&files.key).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        // A second start finds them and keeps them (a client's trust stays valid).
        let again = local_ca_files(dir.path(), now + 10).unwrap();
        assert_eq!(again, files);
        assert_eq!(std::fs::read(&again.cert).unwrap(), first);
        // The chain holds the server certificate, then the CA.
        let chain = String::from_utf8(first).unwrap();
        let ca = std::fs::read_to_string(files.ca.as_ref().unwrap()).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(chain.ends_with(&ca));
    }

    #[test]
    fn unusable_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        std::fs::write(&cert, "not pem").unwrap();
        let files = TlsFiles {
            cert: cert.clone(),
            key: dir.path().join("missing.pem"),
            ca: None,
        };
        let err = server_config(&files).unwrap_err();
        assert!(err.contains("c.pem"), "{err}");
    }
}
