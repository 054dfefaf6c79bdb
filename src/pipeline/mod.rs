//! The byte path of a backup: compression, optional age encryption and a hashing tap between a dump and a
//! destination, and back.

mod budget;
mod compress;
mod encrypt;
mod hash;
mod member;
mod pgunzip;
mod pgzip;
mod pump;
mod stream;

pub use budget::{Budget, DEFAULT_MEMORY, MIN_MEMORY, available_cores};
pub use compress::{Compression, Decoder, Encoder};
pub use encrypt::{EncryptWriter, Encryption, Keys, parse_recipients};
pub use hash::{HashingReader, HashingWriter, sha256_file};
pub use pump::pump;
pub use stream::{Measured, Tail, cancelled, load, open_plain, read_through, store};
