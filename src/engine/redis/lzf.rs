//! LZF decompression, for the compressed strings of an RDB file (keys are decoded; values travel as they are).
//! Hand-written because it is twenty lines and must refuse bad input instead of trusting it.

/// Decompresses `input` into exactly `expected` bytes; `None` when the input is malformed or the size differs.
pub fn decompress(input: &[u8], expected: usize) -> Option<Vec<u8>> {
    // The declared size is not trusted for the allocation: output grows as the input really produces it.
    let mut out: Vec<u8> = Vec::with_capacity(expected.min(input.len().saturating_mul(4)));
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let literal = input.get(ip..ip.checked_add(run)?)?;
            if out.len() + run > expected {
                return None;
            }
            out.extend_from_slice(literal);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            len += 2;
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            let start = out.len().checked_sub(back)?;
            if out.len() + len > expected {
                return None;
            }
            // The reference may overlap what it produces (a run): copy byte by byte.
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    (out.len() == expected).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_back_references() {
        // "abc" as a literal run, then a back reference of length 6 at distance 3: "abcabcabc".
        let input = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&input, 9).as_deref(), Some(&b"abcabcabc"[..]));
        assert_eq!(decompress(&input, 8), None);
        assert_eq!(decompress(&input, 10), None);
    }

    #[test]
    fn malformed_input_is_refused() {
        assert_eq!(decompress(&[5, b'a'], 6), None);
        assert_eq!(decompress(&[(1 << 5), 0], 3), None);
        assert_eq!(decompress(&[0xff], 100), None);
    }
}
