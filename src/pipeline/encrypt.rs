//! The encryption layer: the age format (<https://age-encryption.org/v1>), so that the standard `age` tool
//! decrypts every backup. It sits after compression and before the hashing tap, so the checksum is of the
//! stored, encrypted bytes. age encrypts in 64 KiB chunks, each authenticated on its own: memory stays flat and
//! a damaged or cut-off file fails at the chunk where it is damaged, never with wrong plaintext.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;

/// How new backups are encrypted (validated by the configuration, so building it cannot fail).
#[derive(Clone)]
pub enum Encryption {
    /// To these age public keys (`age1...`): only the holders of the matching identities can read the backups.
    Recipients(Vec<age::x25519::Recipient>),
    /// With a passphrase (age's scrypt recipient).
    Passphrase(SecretString),
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encryption::Recipients(r) => write!(f, "age to {} recipient(s)", r.len()),
            Encryption::Passphrase(_) => f.write_str("age with a passphrase ([redacted])"),
        }
    }
}

/// Parses a list of age public keys separated by commas, spaces or newlines. `Err` says which one is wrong.
pub fn parse_recipients(list: &str) -> Result<Vec<age::x25519::Recipient>, String> {
    let keys: Vec<&str> = list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    if keys.is_empty() {
        return Err("holds no age public key".into());
    }
    keys.iter()
        .map(|k| {
            k.parse::<age::x25519::Recipient>().map_err(|e| {
                let shown: String = k.chars().take(24).collect();
                format!(
                    "{shown:?} is not an age public key ({e}); give keys of the form age1... (from `age-keygen -y`), \
                     separated by commas or spaces"
                )
            })
        })
        .collect()
}

/// What can decrypt backups: the identities of `BACKUP_ENCRYPTION_IDENTITY_FILE` and/or the passphrase.
#[derive(Clone, Default)]
pub struct Keys {
    /// `BACKUP_ENCRYPTION_IDENTITY_FILE`, read when a backup is decrypted.
    pub identity_file: Option<PathBuf>,
    pub passphrase: Option<SecretString>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("identity_file", &self.identity_file)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl Keys {
    pub fn is_empty(&self) -> bool {
        self.identity_file.is_none() && self.passphrase.is_none()
    }

    /// The identities to try, loaded now. Errors name the setting to fix.
    fn identities(&self) -> io::Result<Vec<Box<dyn age::Identity + Send + Sync>>> {
        let mut out: Vec<Box<dyn age::Identity + Send + Sync>> = Vec::new();
        if let Some(path) = &self.identity_file {
            out.extend(load_identity_file(path)?);
        }
        if let Some(passphrase) = &self.passphrase {
            out.push(Box::new(age::scrypt::Identity::new(passphrase.clone())));
        }
        if out.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the backup is encrypted (.age) but no key is configured: set BACKUP_ENCRYPTION_IDENTITY_FILE to \
                 an age identity file (from age-keygen), or BACKUP_ENCRYPTION_PASSPHRASE for a passphrase",
            ));
        }
        Ok(out)
    }
}

fn load_identity_file(path: &Path) -> io::Result<Vec<Box<dyn age::Identity + Send + Sync>>> {
    let named = |e: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "BACKUP_ENCRYPTION_IDENTITY_FILE {}: {e}; it must be an age identity file (AGE-SECRET-KEY-1... lines, \
                 as age-keygen writes)",
                path.display()
            ),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| named(&e))?;
    let parsed = age::IdentityFile::from_buffer(io::BufReader::new(file)).map_err(|e| named(&e))?;
    let identities = parsed.into_identities().map_err(|e| named(&e))?;
    if identities.is_empty() {
        return Err(named(&"it holds no identity"));
    }
    Ok(identities)
}

/// A writer that encrypts (or passes through) into `W`; [`EncryptWriter::finish`] writes the last chunk.
pub enum EncryptWriter<W: Write> {
    Plain(W),
    Age(age::stream::StreamWriter<W>),
}

impl<W: Write> EncryptWriter<W> {
    /// Writes the age header into `inner` at once when `encryption` is set.
    pub fn new(inner: W, encryption: Option<&Encryption>) -> io::Result<Self> {
        let Some(encryption) = encryption else {
            return Ok(EncryptWriter::Plain(inner));
        };
        let encryptor = match encryption {
            Encryption::Recipients(list) => {
                age::Encryptor::with_recipients(list.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| io::Error::other(format!("cannot encrypt: {e}")))?
            }
            Encryption::Passphrase(p) => age::Encryptor::with_user_passphrase(p.clone()),
        };
        Ok(EncryptWriter::Age(encryptor.wrap_output(inner)?))
    }

    /// Ends the encrypted stream and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            EncryptWriter::Plain(w) => Ok(w),
            EncryptWriter::Age(w) => w.finish(),
        }
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            EncryptWriter::Plain(w) => w.write(buf),
            EncryptWriter::Age(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            EncryptWriter::Plain(w) => w.flush(),
            EncryptWriter::Age(w) => w.flush(),
        }
    }
}

/// Opens an age stream over `input` with `keys`: reads the header and unwraps the file key, so that a missing
/// or wrong key fails here, before any plaintext is produced. The reader then authenticates every chunk.
pub fn decrypt<'a, R: Read + Send + 'a>(
    input: R,
    keys: &Keys,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    let identities = keys.identities()?;
    let decryptor = age::Decryptor::new(input).map_err(|e| decrypt_error(e, keys))?;
    let reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| decrypt_error(e, keys))?;
    Ok(Box::new(reader))
}

fn decrypt_error(e: age::DecryptError, keys: &Keys) -> io::Error {
    use age::DecryptError as D;
    let what = match (&keys.identity_file, &keys.passphrase) {
        (Some(p), None) => format!(
            "the identity in BACKUP_ENCRYPTION_IDENTITY_FILE ({})",
            p.display()
        ),
        (None, Some(_)) => "BACKUP_ENCRYPTION_PASSPHRASE".to_string(),
        (Some(p), Some(_)) => format!(
            "neither BACKUP_ENCRYPTION_IDENTITY_FILE ({}) nor BACKUP_ENCRYPTION_PASSPHRASE",
            p.display()
        ),
        (None, None) => "no key".to_string(),
    };
    let message = match e {
        D::NoMatchingKeys => format!(
            "cannot be decrypted: {what} does not match the key it was encrypted to; use the identity whose \
             public key was in BACKUP_ENCRYPTION_RECIPIENTS (or the passphrase) when it was made"
        ),
        D::DecryptionFailed | D::KeyDecryptionFailed | D::InvalidMac => format!(
            "cannot be decrypted with {what} ({e}): the passphrase or identity is wrong, or the file is damaged"
        ),
        D::Io(io) => return io,
        other => format!("is not a readable age file: {other}"),
    };
    io::Error::new(io::ErrorKind::PermissionDenied, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(enc: &Encryption, keys: &Keys, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut w = EncryptWriter::new(Vec::new(), Some(enc))?;
        w.write_all(data)?;
        let stored = w.finish()?;
        assert!(stored.starts_with(b"age-encryption.org/v1\n"));
        let mut out = Vec::new();
        decrypt(&stored[..], keys)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn recipients_round_trip_and_wrong_identity_fails() {
        let id = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.txt");
        let bad = dir.path().join("bad.txt");
        use age::secrecy::ExposeSecret;
        std::fs::write(
            &good,
            format!("# a comment\n{}\n", id.to_string().expose_secret()),
        )
        .unwrap();
        std::fs::write(&bad, format!("{}\n", other.to_string().expose_secret())).unwrap();
        let list =
            parse_recipients(&format!(" {}, {}", id.to_public(), other.to_public())).unwrap();
        assert_eq!(list.len(), 2);
        let enc = Encryption::Recipients(vec![id.to_public()]);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let keys = Keys {
            identity_file: Some(good),
            passphrase: None,
        };
        assert_eq!(round_trip(&enc, &keys, &data).unwrap(), data);
        let keys = Keys {
            identity_file: Some(bad.clone()),
            passphrase: None,
        };
        let err = round_trip(&enc, &keys, &data).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        assert!(
            err.to_string().contains(&bad.display().to_string()),
            "{err}"
        );
        let err = round_trip(&enc, &Keys::default(), &data).unwrap_err();
        assert!(err.to_string().contains("no key is configured"), "{err}");
    }

    #[test]
    fn bad_recipients_are_named() {
        let err = parse_recipients("age1xyz").unwrap_err();
        assert!(err.contains("age1xyz"), "{err}");
        assert!(parse_recipients(" , ").is_err());
    }

    #[test]
    fn a_cut_off_file_fails() {
        let id = age::x25519::Identity::generate();
        let enc = Encryption::Recipients(vec![id.to_public()]);
        let mut w = EncryptWriter::new(Vec::new(), Some(&enc)).unwrap();
        w.write_all(&vec![7u8; 300_000]).unwrap();
        let mut stored = w.finish().unwrap();
        stored.truncate(stored.len() - 1000);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.txt");
        use age::secrecy::ExposeSecret;
        std::fs::write(&path, id.to_string().expose_secret()).unwrap();
        let keys = Keys {
            identity_file: Some(path),
            passphrase: None,
        };
        let mut out = Vec::new();
        assert!(
            decrypt(&stored[..], &keys)
                .unwrap()
                .read_to_end(&mut out)
                .is_err()
        );
    }
}
