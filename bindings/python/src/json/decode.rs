//! JSON text to Python objects, exactly as `json.loads` builds them.
//!
//! What the handler sees is the same value `json.loads(text)` returns: dicts in the text's key
//! order, a duplicate key's last value at the first key's position (`dict.__setitem__`, as
//! json does), integers of any size as exact `int`s (via `int()`, with its digit limit),
//! floats correctly rounded (Rust's `f64::from_str` is, like `float()`), `NaN`, `Infinity` and
//! `-Infinity` as json's `parse_constant` makes them, and json's whitespace, escapes and
//! strictness (no control characters inside strings).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

use super::{Declined, MAX_DEPTH, find_special};

/// Decode `body` as `json.loads(body.decode())` would, or decline.
///
/// The body is not validated as UTF-8 up front: outside strings the grammar admits only
/// ASCII, and each string's bytes are decoded by CPython's strict UTF-8 decoder (the one
/// `bytes.decode()` uses), so a body that is not UTF-8 is always declined. Validating it whole
/// first would cost ~10 instructions per byte of non-ASCII text (Chinese, say) again.
///
/// # Errors
///
/// [`Declined`] when the body is not UTF-8 or not JSON, holds something this decoder leaves to
/// the stdlib (a lone surrogate escape, nesting deeper than [`MAX_DEPTH`], an integer `int()`
/// refuses), or Python failed to allocate an object. The caller then decides: the bytes when
/// the body is not UTF-8, else what `json.loads` gives (its value, or the text when it raises).
pub(crate) fn loads<'py>(py: Python<'py>, body: &[u8]) -> Result<Bound<'py, PyAny>, Declined> {
    let mut decoder = Decoder {
        py,
        s: body,
        pos: 0,
        depth: 0,
        items: Vec::new(),
        scratch: Vec::new(),
        keys: HashMap::default(),
    };
    decoder.skip_whitespace();
    let value = decoder.value()?;
    decoder.skip_whitespace();
    if decoder.pos != decoder.s.len() {
        return Err(Declined); // json's "Extra data"
    }
    Ok(value)
}

struct Decoder<'a, 'py> {
    py: Python<'py>,
    s: &'a [u8],
    pos: usize,
    depth: usize,
    /// The elements of every array being decoded, innermost last: one buffer for all levels
    /// instead of a `Vec` per array.
    items: Vec<Bound<'py, PyAny>>,
    /// The UTF-8 of a string with escapes, reused across strings.
    scratch: Vec<u8>,
    /// One `str` per distinct (short, unescaped) key, as json.loads' memo: an array of
    /// objects allocates and hashes its keys once, not once per object.
    keys: HashMap<&'a [u8], Bound<'py, PyString>, BuildHasherDefault<KeyHasher>>,
}

/// Keys longer than this are not memoised (they are rarely repeated).
const MEMO_KEY_MAX: usize = 64;
/// At most this many distinct keys are memoised per body.
const MEMO_KEYS_MAX: usize = 4096;

/// FxHash (rustc's): the keys are short and come from one request body, so a fast hash
/// matters more than flooding resistance (the memo is bounded and per body).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut rest = bytes;
        while let Some((word, tail)) = rest.split_first_chunk::<8>() {
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(*word)).wrapping_mul(K);
            rest = tail;
        }
        for &b in rest {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Python failed (MemoryError, `int()`'s digit limit, bytes that are not UTF-8): leave it to
/// the caller and the stdlib, which will fail the same way or succeed.
fn py_failed(_: PyErr) -> Declined {
    Declined
}

/// A `str` of UTF-8 bytes, decoded strictly by CPython (surrogates and overlong forms refused,
/// as `bytes.decode()` does).
fn py_str<'py>(py: Python<'py>, utf8: &[u8]) -> Result<Bound<'py, PyString>, Declined> {
    PyString::from_bytes(py, utf8).map_err(py_failed)
}

impl<'py> Decoder<'_, 'py> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Skip json's whitespace: space, tab, newline, carriage return (nothing else).
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consume `c` if it is next.
    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Consume `word` (a keyword) if it is next.
    fn eat_word(&mut self, word: &[u8]) -> bool {
        let found = self
            .s
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(word));
        if found {
            self.pos += word.len();
        }
        found
    }

    fn value(&mut self) -> Result<Bound<'py, PyAny>, Declined> {
        let py = self.py;
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                Ok(self.string()?.into_any())
            }
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') if self.eat_word(b"true") => Ok(PyBool::new(py, true).to_owned().into_any()),
            Some(b'f') if self.eat_word(b"false") => {
                Ok(PyBool::new(py, false).to_owned().into_any())
            }
            Some(b'n') if self.eat_word(b"null") => Ok(py.None().into_bound(py)),
            // json.loads' parse_constant: float('nan') and float('inf').
            Some(b'N') if self.eat_word(b"NaN") => Ok(PyFloat::new(py, f64::NAN).into_any()),
            Some(b'I') if self.eat_word(b"Infinity") => {
                Ok(PyFloat::new(py, f64::INFINITY).into_any())
            }
            _ => Err(Declined),
        }
    }

    /// One nesting level more; declined beyond [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), Declined> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Declined);
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Bound<'py, PyAny>, Declined> {
        self.pos += 1; // '{'
        self.enter()?;
        let dict = PyDict::new(self.py);
        self.skip_whitespace();
        if !self.eat(b'}') {
            loop {
                if !self.eat(b'"') {
                    return Err(Declined);
                }
                let key = self.key()?;
                self.skip_whitespace();
                if !self.eat(b':') {
                    return Err(Declined);
                }
                self.skip_whitespace();
                let value = self.value()?;
                // Assignment, as json.loads does it: a repeated key keeps its first position
                // and takes the last value.
                dict.set_item(key, value).map_err(py_failed)?;
                self.skip_whitespace();
                if self.eat(b',') {
                    self.skip_whitespace();
                } else if self.eat(b'}') {
                    break;
                } else {
                    return Err(Declined);
                }
            }
        }
        self.depth -= 1;
        Ok(dict.into_any())
    }

    fn array(&mut self) -> Result<Bound<'py, PyAny>, Declined> {
        self.pos += 1; // '['
        self.enter()?;
        let base = self.items.len();
        self.skip_whitespace();
        if !self.eat(b']') {
            loop {
                let value = self.value()?;
                self.items.push(value);
                self.skip_whitespace();
                if self.eat(b',') {
                    self.skip_whitespace();
                } else if self.eat(b']') {
                    break;
                } else {
                    return Err(Declined);
                }
            }
        }
        self.depth -= 1;
        let list = PyList::new(self.py, self.items.drain(base..)).map_err(py_failed)?;
        Ok(list.into_any())
    }

    /// The rest of a key whose opening quote was consumed: from the memo when it was seen
    /// before in this body.
    fn key(&mut self) -> Result<Bound<'py, PyString>, Declined> {
        let start = self.pos;
        let stop = find_special(self.s, start);
        if self.s.get(stop) != Some(&b'"') || stop - start > MEMO_KEY_MAX {
            return self.string();
        }
        let text = self.s.get(start..stop).ok_or(Declined)?;
        self.pos = stop + 1;
        if let Some(key) = self.keys.get(text) {
            return Ok(key.clone());
        }
        let key = py_str(self.py, text)?;
        if self.keys.len() < MEMO_KEYS_MAX {
            self.keys.insert(text, key.clone());
        }
        Ok(key)
    }

    /// The rest of a string whose opening quote was consumed.
    fn string(&mut self) -> Result<Bound<'py, PyString>, Declined> {
        let start = self.pos;
        let stop = find_special(self.s, start);
        match self.s.get(stop) {
            Some(b'"') => {
                let text = self.s.get(start..stop).ok_or(Declined)?;
                self.pos = stop + 1;
                py_str(self.py, text)
            }
            Some(b'\\') => self.escaped_string(start, stop),
            // A raw control character (json.loads is strict) or the end of the text.
            _ => Err(Declined),
        }
    }

    /// A string with escapes: `start` is its first byte, `stop` its first backslash.
    fn escaped_string(
        &mut self,
        start: usize,
        mut stop: usize,
    ) -> Result<Bound<'py, PyString>, Declined> {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        out.extend_from_slice(self.s.get(start..stop).ok_or(Declined)?);
        loop {
            // At a backslash.
            self.pos = stop + 1;
            let c = match self.peek() {
                Some(b'u') => {
                    self.pos += 1;
                    self.unicode_escape()?
                }
                Some(letter) => {
                    let c = match letter {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        _ => return Err(Declined), // json's "Invalid \escape"
                    };
                    self.pos += 1;
                    c
                }
                None => return Err(Declined),
            };
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            let from = self.pos;
            stop = find_special(self.s, from);
            out.extend_from_slice(self.s.get(from..stop).ok_or(Declined)?);
            match self.s.get(stop) {
                Some(b'"') => {
                    self.pos = stop + 1;
                    break;
                }
                Some(b'\\') => {}
                _ => return Err(Declined),
            }
        }
        let string = py_str(self.py, &out);
        self.scratch = out;
        string
    }

    /// The character of `\uXXXX` (the `\u` consumed), joining a surrogate pair written as two
    /// escapes. A lone surrogate is declined: Rust's `char` cannot hold one, the stdlib's
    /// `str` can.
    fn unicode_escape(&mut self) -> Result<char, Declined> {
        let first = self.hex4()?;
        let code = match first {
            0xd800..=0xdbff => {
                if !self.eat_word(b"\\u") {
                    return Err(Declined);
                }
                let second = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&second) {
                    return Err(Declined);
                }
                0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(Declined),
            _ => first,
        };
        char::from_u32(code).ok_or(Declined)
    }

    /// Four hex digits, either case, as json requires after `\u`.
    fn hex4(&mut self) -> Result<u32, Declined> {
        let digits = self.s.get(self.pos..self.pos + 4).ok_or(Declined)?;
        let mut code = 0u32;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or(Declined)?;
            code = code << 4 | v;
        }
        self.pos += 4;
        Ok(code)
    }

    /// A number (or `-Infinity`) as json.loads reads it: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`,
    /// an `int` without fraction and exponent, a `float` with either.
    fn number(&mut self) -> Result<Bound<'py, PyAny>, Declined> {
        let py = self.py;
        let start = self.pos;
        let negative = self.eat(b'-');
        if negative && self.eat_word(b"Infinity") {
            return Ok(PyFloat::new(py, f64::NEG_INFINITY).into_any());
        }
        let digits_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(Declined),
        }
        let int_end = self.pos;
        // A '.' or 'e' not followed by digits ends the number; what follows is then an error
        // wherever it stands, as in json.loads.
        if self.peek() == Some(b'.') && self.digit_at(self.pos + 1) {
            self.pos += 1;
            self.skip_digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            let sign = usize::from(matches!(self.s.get(self.pos + 1), Some(b'+' | b'-')));
            if self.digit_at(self.pos + 1 + sign) {
                self.pos += 1 + sign;
                self.skip_digits();
            }
        }
        let digits = self.s.get(digits_start..int_end).unwrap_or_default();
        if self.pos == int_end && digits.len() <= 18 {
            // Up to 18 digits fit an i64: the common case, without a text round trip.
            let magnitude = digits
                .iter()
                .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
            let v = if negative { -magnitude } else { magnitude };
            return Ok(PyInt::new(py, v).into_any());
        }
        // Only ASCII digits, signs, '.' and 'e' were consumed.
        let text = self
            .s
            .get(start..self.pos)
            .and_then(|t| std::str::from_utf8(t).ok())
            .ok_or(Declined)?;
        if self.pos == int_end {
            // Longer integers go through int(), its digit limit included.
            return py.get_type::<PyInt>().call1((text,)).map_err(py_failed);
        }
        // Correctly rounded, like float(); out of range gives inf or 0.0, as float() does.
        let v: f64 = text.parse().map_err(|_| Declined)?;
        Ok(PyFloat::new(py, v).into_any())
    }

    fn digit_at(&self, i: usize) -> bool {
        self.s.get(i).is_some_and(u8::is_ascii_digit)
    }

    fn skip_digits(&mut self) {
        while self.digit_at(self.pos) {
            self.pos += 1;
        }
    }
}
