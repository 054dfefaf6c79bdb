//! The byte path of a backup: compression and a hashing tap between a dump and a destination, and back.

mod compress;
mod hash;
mod pgzip;
mod stream;

pub use compress::{Compression, Decoder, Encoder};
pub use hash::{HashingReader, HashingWriter, sha256_file};
pub use stream::{Measured, Tail, cancelled, load, store};
