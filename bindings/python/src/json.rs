//! JSON in Rust with the stdlib's semantics: the event straight into Python objects
//! ([`decode::loads`], as `json.loads` would build them) and the return value straight into
//! bytes ([`encode::dumps`], as `json.dumps(value, ensure_ascii=False)` would write them).
//!
//! Neither imports the `json` module: it costs 12-17 ms of a cold start (with `re` and `enum`),
//! and its `loads(str)` / `dumps` took ~7 ms / ~30 ms per 6 MB event (bench/FINDINGS.md §3).
//! Both are exact on the values they accept and *decline* the rest, and the caller then asks
//! the stdlib (imported lazily, only then), so the handler never sees a difference:
//!
//! - decoding declines lone surrogate escapes (`"\ud800"`), nesting deeper than
//!   [`MAX_DEPTH`], integers Python refuses to convert, and anything that is not JSON (for which
//!   the stdlib then decides between its value and the raw text);
//! - encoding declines every type that is not exactly `dict`, `list`, `tuple`, `str`, `int`,
//!   `float`, `bool` or `None` (subclasses included), dict keys json would refuse, `str`s that
//!   are not valid Unicode (lone surrogates), and nesting deeper than [`MAX_DEPTH`] (circular
//!   references end up there).

use pyo3::prelude::*;
use pyo3::types::PyString;

pub(crate) mod decode;
pub(crate) mod encode;

/// The deepest nesting of arrays and objects either direction handles itself; deeper values
/// go to the stdlib, whose own limit is the interpreter's recursion limit (1000 by default, of
/// which the few frames below the handler leave well over 512). Bounds the Rust recursion too.
pub(crate) const MAX_DEPTH: usize = 512;

/// The UTF-8 text of `s`, borrowed from the string (CPython keeps it in the object): pyo3's
/// `PyString::to_str`.
///
/// With the `abi3` feature pyo3 has no `to_str`: the C function behind it,
/// `PyUnicode_AsUTF8AndSize`, joined the limited API in Python 3.10, and the feature's floor is
/// 3.9, where the limited API's only way to the text is a copy (`str.encode`). That copy of a
/// large string, and the page faults of its fresh memory, made the abi3 wheel 50-70% slower
/// per invocation at 1 MB and 6 MB (bench/FINDINGS.md). Every CPython 3 exports the function
/// with the same signature and behaviour (public since 3.3), so the abi3 build declares it
/// itself and stays zero-copy.
///
/// # Errors
///
/// `UnicodeEncodeError` for a `str` that is not valid Unicode (lone surrogates).
#[inline]
pub(crate) fn to_str<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    #[cfg(not(Py_LIMITED_API))]
    {
        s.to_str()
    }
    #[cfg(Py_LIMITED_API)]
    {
        use pyo3::ffi;
        unsafe extern "C" {
            fn PyUnicode_AsUTF8AndSize(
                unicode: *mut ffi::PyObject,
                size: *mut ffi::Py_ssize_t,
            ) -> *const std::ffi::c_char;
        }
        let mut size: ffi::Py_ssize_t = 0;
        // SAFETY: `s` is a live str and the GIL is held; on success the function returns the
        // string's own UTF-8 (valid, cached in the object, freed with it) and its length.
        let data = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
        if data.is_null() {
            return Err(PyErr::fetch(s.py()));
        }
        let len = usize::try_from(size).unwrap_or_default();
        // SAFETY: as above; `s` outlives the borrow.
        Ok(unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(data.cast(), len)) })
    }
}

/// The fast path does not handle this value; the stdlib must decide.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Declined;

/// Index of the first byte at or after `from` that a JSON string cannot hold verbatim (`"`,
/// `\` or a control character below 0x20), or `s.len()` when there is none.
///
/// Both directions stop at exactly these bytes: the decoder for the end of a string or an
/// escape, the encoder for what `json.dumps(..., ensure_ascii=False)` escapes. Eight bytes per
/// step (SWAR): a 6 MB string is scanned in well under a millisecond.
#[inline]
pub(crate) fn find_special(s: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    const SPACES: u64 = ONES * 0x20;
    let mut i = from;
    while let Some(chunk) = s.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let w = u64::from_le_bytes(*chunk);
        let q = w ^ QUOTES;
        let b = w ^ BACKSLASHES;
        // A byte's high bit is set where it is zero in `q`/`b` or below 0x20 in `w`. Borrows
        // can only flag bytes *after* a true hit, so the lowest flag is the first hit.
        let hits = ((q.wrapping_sub(ONES) & !q)
            | (b.wrapping_sub(ONES) & !b)
            | (w.wrapping_sub(SPACES) & !w))
            & HIGH;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = s.get(i) {
        if is_special(c) {
            return i;
        }
        i += 1;
    }
    s.len()
}

/// `"`, `\` or a control character: the bytes [`find_special`] stops at.
#[inline]
fn is_special(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

#[cfg(test)]
mod tests {
    use super::{find_special, is_special};

    #[test]
    fn find_special_agrees_with_a_byte_by_byte_scan_at_every_offset() {
        let specials = [b'"', b'\\', 0x00, 0x1f, b'\n'];
        // Bytes around the thresholds, and non-ASCII ones that must never match.
        let plain = [
            b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xc3, 0xa9, 0xff, b'x',
        ];
        for len in 0..24 {
            for at in 0..=len {
                for &plain_byte in &plain {
                    let mut s = vec![plain_byte; len];
                    if at < len {
                        for &sp in &specials {
                            s[at] = sp;
                            for from in 0..=at {
                                let want = (from..s.len()).find(|&i| is_special(s[i]));
                                assert_eq!(find_special(&s, from), want.unwrap_or(s.len()));
                            }
                        }
                    } else {
                        assert_eq!(find_special(&s, 0), len);
                    }
                }
            }
        }
    }

    #[test]
    fn find_special_first_of_several_hits_in_one_word() {
        assert_eq!(find_special(b"ab\x01\"\\cdefgh", 0), 2);
        assert_eq!(find_special(b"abcdefg\"\x00", 0), 7);
        assert_eq!(find_special(b"\x00\x00\x00\x00\x00\x00\x00\x00", 3), 3);
    }
}
