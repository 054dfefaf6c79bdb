//! A dump stream seen line by line for the checks that read statements beside it: the first bytes of each line
//! (so that a long `INSERT` costs nothing) and the stream's last bytes, for the trailer check.

use crate::engine::TAIL_BYTES;
use crate::pipeline::Tail;

/// How much of each line is looked at.
const HEAD: usize = 1024;

#[derive(Debug)]
pub struct LineHeads {
    line: Vec<u8>,
    tail: Tail,
}

impl LineHeads {
    pub fn new() -> LineHeads {
        LineHeads {
            line: Vec::with_capacity(HEAD),
            tail: Tail::new(TAIL_BYTES),
        }
    }

    /// Takes the next chunk of the stream; `on_line` gets the head of each line that ends in it.
    pub fn feed(&mut self, chunk: &[u8], mut on_line: impl FnMut(&[u8])) {
        self.tail.push(chunk);
        let mut rest = chunk;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            let room = HEAD.saturating_sub(self.line.len());
            self.line.extend_from_slice(&rest[..at.min(room)]);
            on_line(&self.line);
            self.line.clear();
            rest = &rest[at + 1..];
        }
        let room = HEAD.saturating_sub(self.line.len());
        self.line.extend_from_slice(&rest[..rest.len().min(room)]);
    }

    /// At the end of the stream: `on_line` gets the last line when the stream did not end with a newline.
    pub fn finish(&mut self, mut on_line: impl FnMut(&[u8])) {
        if !self.line.is_empty() {
            on_line(&self.line);
            self.line.clear();
        }
    }

    /// The stream's last bytes.
    pub fn tail(&self) -> &[u8] {
        self.tail.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_are_joined_and_cut_to_their_head() {
        let mut lines = LineHeads::new();
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let long = vec![b'x'; HEAD + 10];
        lines.feed(b"CREATE TA", |l| seen.push(l.to_vec()));
        lines.feed(b"BLE a;\n", |l| seen.push(l.to_vec()));
        lines.feed(&long, |l| seen.push(l.to_vec()));
        lines.feed(b"\nlast", |l| seen.push(l.to_vec()));
        lines.finish(|l| seen.push(l.to_vec()));
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0], b"CREATE TABLE a;");
        assert_eq!(seen[1].len(), HEAD);
        assert_eq!(seen[2], b"last");
        assert!(lines.tail().ends_with(b"\nlast"));
    }
}
