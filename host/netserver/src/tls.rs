//! STARTTLS: the server's certificate and key, loaded once at startup.
//!
//! NUT's OpenSSL build of upsd reads one PEM file (`CERTFILE`) holding the
//! certificate chain and the private key; Hazel also takes them as two files.
//! Everything is checked when loading (readable, PEM, a certificate, exactly
//! one unencrypted key, the key matching the certificate), so a bad file stops
//! the start instead of failing every client's handshake later.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Why a certificate or key cannot be used; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not well-formed PEM.
    #[error("{}: not valid PEM: {message}", .path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// No `CERTIFICATE` block.
    #[error("{}: no certificate found (expected a PEM \"BEGIN CERTIFICATE\" block)", .path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// No usable private key block.
    #[error(
        "{}: no private key found (expected a PEM \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \
         \"BEGIN EC PRIVATE KEY\" block)",
        .path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key is password-protected; there is nowhere to give the password.
    #[error("{}: the private key is encrypted; Hazel needs an unencrypted key", .path.display())]
    EncryptedKey {
        /// The file.
        path: PathBuf,
    },
    /// More than one private key: which one is meant is not clear.
    #[error("{}: more than one private key; keep only the certificate's", .path.display())]
    SeveralKeys {
        /// The file.
        path: PathBuf,
    },
    /// The private key does not belong to the (first) certificate.
    #[error("{}: the private key does not match the certificate in {}", .key.display(), .cert.display())]
    KeyMismatch {
        /// File of the certificate chain.
        cert: PathBuf,
        /// File of the key.
        key: PathBuf,
    },
    /// The key is of a kind the TLS library cannot sign with, or similar.
    #[error("{}: unusable private key for the certificate in {}: {source}", .key.display(), .cert.display())]
    Unusable {
        /// File of the certificate chain.
        cert: PathBuf,
        /// File of the key.
        key: PathBuf,
        /// What the TLS library said.
        #[source]
        source: rustls::Error,
    },
}

/// The server side of STARTTLS: certificate chain and key, ready to accept
/// handshakes. Cheap to clone.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    cert_path: PathBuf,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("cert_path", &self.cert_path).finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Load upsd's `CERTFILE`: one PEM file with the certificate chain
    /// (server certificate first) and the private key.
    pub fn from_combined_pem(path: impl AsRef<Path>) -> Result<ServerTls, TlsError> {
        let path = path.as_ref();
        let pem = read(path)?;
        let chain = certificates(path, &pem)?;
        let key = private_key(path, &pem)?;
        ServerTls::new(chain, key, path, path)
    }

    /// Load a certificate chain and its private key from separate PEM files.
    pub fn from_pem_files(cert_path: impl AsRef<Path>, key_path: impl AsRef<Path>) -> Result<ServerTls, TlsError> {
        let (cert_path, key_path) = (cert_path.as_ref(), key_path.as_ref());
        let chain = certificates(cert_path, &read(cert_path)?)?;
        let key = private_key(key_path, &read(key_path)?)?;
        ServerTls::new(chain, key, cert_path, key_path)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<ServerTls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let unusable = |source| TlsError::Unusable { cert: cert_path.into(), key: key_path.into(), source };
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(unusable)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|error| match error {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    TlsError::KeyMismatch { cert: cert_path.into(), key: key_path.into() }
                }
                other => unusable(other),
            })?;
        Ok(ServerTls { acceptor: TlsAcceptor::from(Arc::new(config)), cert_path: cert_path.into() })
    }

    /// The file the certificate came from (for messages).
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.into(), source })
}

fn pem_error(path: &Path, error: rustls::pki_types::pem::Error) -> TlsError {
    TlsError::Pem { path: path.into(), message: error.to_string() }
}

fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| pem_error(path, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: path.into() });
    }
    Ok(chain)
}

fn private_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    let mut keys = PrivateKeyDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| pem_error(path, e))?;
    if keys.len() > 1 {
        return Err(TlsError::SeveralKeys { path: path.into() });
    }
    match keys.pop() {
        Some(key) => Ok(key),
        // The PEM reader skips blocks it does not know, encrypted keys among them.
        None if contains(pem, b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(pem, b"Proc-Type: 4,ENCRYPTED") => {
            Err(TlsError::EncryptedKey { path: path.into() })
        }
        None => Err(TlsError::NoKey { path: path.into() }),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pem {
        cert: String,
        key: String,
    }

    fn self_signed() -> Pem {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        Pem { cert: certified.cert.pem(), key: certified.signing_key.serialize_pem() }
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn combined_and_separate_files_load() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        let pem = self_signed();
        // Key before or after the chain: both are seen in the wild.
        let combined = write(dir, "both.pem", &format!("{}{}", pem.cert, pem.key));
        assert_eq!(ServerTls::from_combined_pem(&combined).unwrap().cert_path(), combined);
        let reversed = write(dir, "reversed.pem", &format!("{}{}", pem.key, pem.cert));
        ServerTls::from_combined_pem(&reversed).unwrap();
        let cert = write(dir, "cert.pem", &pem.cert);
        let key = write(dir, "key.pem", &pem.key);
        ServerTls::from_pem_files(&cert, &key).unwrap();
    }

    #[test]
    fn bad_files_are_named() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        let pem = self_signed();
        let other = self_signed();
        let missing = dir.join("missing.pem");
        let message = |result: Result<ServerTls, TlsError>| result.unwrap_err().to_string();

        let text = message(ServerTls::from_combined_pem(&missing));
        assert!(text.starts_with(&format!("cannot read {}", missing.display())), "{text}");

        let only_cert = write(dir, "only-cert.pem", &pem.cert);
        let text = message(ServerTls::from_combined_pem(&only_cert));
        assert!(text.starts_with(&format!("{}: no private key", only_cert.display())), "{text}");

        let only_key = write(dir, "only-key.pem", &pem.key);
        let text = message(ServerTls::from_combined_pem(&only_key));
        assert!(text.starts_with(&format!("{}: no certificate", only_key.display())), "{text}");

        let garbage = write(dir, "garbage.pem", "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n");
        let text = message(ServerTls::from_combined_pem(&garbage));
        assert!(text.starts_with(&format!("{}: not valid PEM", garbage.display())), "{text}");

        let truncated = write(dir, "truncated.pem", pem.cert.lines().next().unwrap());
        let text = message(ServerTls::from_combined_pem(&truncated));
        assert!(text.starts_with(&format!("{}: not valid PEM", truncated.display())), "{text}");

        let two_keys = write(dir, "two-keys.pem", &format!("{}{}{}", pem.cert, pem.key, other.key));
        let text = message(ServerTls::from_combined_pem(&two_keys));
        assert!(text.contains("more than one private key"), "{text}");

        let encrypted = write(
            dir,
            "encrypted.pem",
            &format!("{}-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", pem.cert),
        );
        let text = message(ServerTls::from_combined_pem(&encrypted));
        assert!(text.contains("encrypted"), "{text}");

        let cert = write(dir, "cert.pem", &pem.cert);
        let wrong_key = write(dir, "wrong-key.pem", &other.key);
        let text = message(ServerTls::from_pem_files(&cert, &wrong_key));
        assert_eq!(
            text,
            format!("{}: the private key does not match the certificate in {}", wrong_key.display(), cert.display())
        );
    }
}
