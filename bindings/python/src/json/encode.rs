//! Python objects to JSON bytes, exactly as `json.dumps(value, ensure_ascii=False)` writes them.
//!
//! The stdlib's C encoder with the default options: separators `", "` and `": "`; `None`,
//! `True`, `False` as `null`, `true`, `false`; an `int` as `int.__repr__`; a `float` as
//! `float.__repr__` (the shortest digits that read back the same, so `1e+16`, `1e-07`, `0.1`) and the
//! non-finite ones as `Infinity`, `-Infinity`, `NaN`; a `str` with only `"`, `\`, `\n`, `\r`,
//! `\t`, `\b`, `\f` escaped by name and the other control characters as `\u00XX` (everything
//! else verbatim UTF-8); lists and tuples as arrays; dicts in their order, with `str`, `int`,
//! `float`, `bool` and `None` keys written as json coerces them (`True` -> `"true"`, `1.5` ->
//! `"1.5"`).
//!
//! Only exact builtin types are handled, so no user code runs (no `__repr__`, `items()`,
//! `__iter__` or `default`); the encoder declines anything else (see the module
//! [`crate::json`]) and the caller hands the whole value to `json.dumps` instead, for its
//! output or its exception.

use std::ffi::c_int;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::{Declined, MAX_DEPTH, find_special, to_str};

/// `json.dumps(value, ensure_ascii=False)` as UTF-8 bytes, or declined.
///
/// # Errors
///
/// [`Declined`] for a value this encoder leaves to the stdlib: a type that is not exactly a
/// JSON builtin (or a subclass of one), a dict key json would refuse, a `str` that is not
/// valid Unicode, an `int` whose `repr` fails, or nesting deeper than [`MAX_DEPTH`] (which is
/// where a circular reference ends up).
pub(crate) fn dumps(value: &Bound<'_, PyAny>) -> Result<Vec<u8>, Declined> {
    let mut encoder = Encoder {
        out: Vec::new(),
        depth: 0,
    };
    encoder.value(value)?;
    Ok(encoder.out)
}

struct Encoder {
    out: Vec<u8>,
    depth: usize,
}

impl Encoder {
    fn value(&mut self, obj: &Bound<'_, PyAny>) -> Result<(), Declined> {
        if let Ok(s) = obj.cast_exact::<PyString>() {
            write_str(&mut self.out, to_str(s).map_err(|_| Declined)?);
        } else if let Ok(i) = obj.cast_exact::<PyInt>() {
            write_int(&mut self.out, i)?;
        } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
            write_float(&mut self.out, f.value());
        } else if let Ok(d) = obj.cast_exact::<PyDict>() {
            self.dict(d)?;
        } else if let Ok(l) = obj.cast_exact::<PyList>() {
            // The list iterator reads the current length at each step: never out of bounds.
            self.array(l.iter())?;
        } else if let Ok(t) = obj.cast_exact::<PyTuple>() {
            self.array(t.iter())?;
        } else if obj.is_none() {
            self.out.extend_from_slice(b"null");
        } else if let Ok(b) = obj.cast_exact::<PyBool>() {
            self.out
                .extend_from_slice(if b.is_true() { b"true" } else { b"false" });
        } else {
            return Err(Declined);
        }
        Ok(())
    }

    /// One nesting level more; declined beyond [`MAX_DEPTH`] (a circular reference gets
    /// there too, and json.dumps then raises its `ValueError`).
    fn enter(&mut self) -> Result<(), Declined> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Declined);
        }
        Ok(())
    }

    fn array<'py>(
        &mut self,
        items: impl Iterator<Item = Bound<'py, PyAny>>,
    ) -> Result<(), Declined> {
        self.enter()?;
        self.out.push(b'[');
        for (n, item) in items.enumerate() {
            if n > 0 {
                self.out.extend_from_slice(b", ");
            }
            self.value(&item)?;
        }
        self.out.push(b']');
        self.depth -= 1;
        Ok(())
    }

    fn dict(&mut self, dict: &Bound<'_, PyDict>) -> Result<(), Declined> {
        self.enter()?;
        let py = dict.py();
        let len = dict.len();
        self.out.push(b'{');
        let mut pos: ffi::Py_ssize_t = 0;
        for n in 0usize.. {
            let mut key = std::ptr::null_mut();
            let mut value = std::ptr::null_mut();
            // Not pyo3's dict iterator, which panics when the size changes. Nothing here runs
            // Python code, but the GC may (finalizers) when an exception object is allocated.
            // SAFETY: `dict` is a live dict and the GIL is held; PyDict_Next checks `pos`
            // against the dict's current entries and lends references that are made strong
            // before anything else runs.
            let (key, value) = unsafe {
                if ffi::PyDict_Next(dict.as_ptr(), &mut pos, &mut key, &mut value) == 0 {
                    break;
                }
                (
                    Bound::from_borrowed_ptr(py, key),
                    Bound::from_borrowed_ptr(py, value),
                )
            };
            if n > 0 {
                self.out.extend_from_slice(b", ");
            }
            self.key(&key)?;
            self.out.extend_from_slice(b": ");
            self.value(&value)?;
            if dict.len() != len {
                return Err(Declined); // changed under us: the stdlib starts over
            }
        }
        self.out.push(b'}');
        self.depth -= 1;
        Ok(())
    }

    /// A dict key, coerced to a string as json does; other key types are declined (json.dumps
    /// raises its TypeError for them).
    fn key(&mut self, key: &Bound<'_, PyAny>) -> Result<(), Declined> {
        if let Ok(s) = key.cast_exact::<PyString>() {
            write_str(&mut self.out, to_str(s).map_err(|_| Declined)?);
            return Ok(());
        }
        // The other key types' texts (numbers, literals) never need escaping.
        self.out.push(b'"');
        if let Ok(i) = key.cast_exact::<PyInt>() {
            write_int(&mut self.out, i)?;
        } else if let Ok(f) = key.cast_exact::<PyFloat>() {
            write_float(&mut self.out, f.value());
        } else if let Ok(b) = key.cast_exact::<PyBool>() {
            self.out
                .extend_from_slice(if b.is_true() { b"true" } else { b"false" });
        } else if key.is_none() {
            self.out.extend_from_slice(b"null");
        } else {
            return Err(Declined);
        }
        self.out.push(b'"');
        Ok(())
    }
}

/// A JSON string as `json.dumps(s, ensure_ascii=False)` writes it.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    // Room for the quotes and what usually follows (`", "`, closing brackets): a large string
    // must not make the buffer grow, and copy, again right after it.
    out.reserve(b.len() + 32);
    out.push(b'"');
    let mut from = 0;
    loop {
        let stop = find_special(b, from);
        out.extend_from_slice(b.get(from..stop).unwrap_or_default());
        let Some(&c) = b.get(stop) else { break };
        write_escape(out, c);
        from = stop + 1;
    }
    out.push(b'"');
}

/// A JSON string as `json.dumps(s)` writes it (`ensure_ascii=True`): also every character
/// outside `' '..='~'` as `\uXXXX`, astral ones as a surrogate pair.
pub(crate) fn write_str_ascii(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match u8::try_from(c) {
            Ok(byte) if byte < 0x7f => {
                if is_named_or_control(byte) {
                    write_escape(out, byte);
                } else {
                    out.push(byte);
                }
            }
            _ => {
                let mut units = [0u16; 2];
                for &unit in c.encode_utf16(&mut units).iter() {
                    write_u_escape(out, unit);
                }
            }
        }
    }
    out.push(b'"');
}

fn is_named_or_control(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// The escape of one byte [`find_special`] stopped at, as json's encoder writes it.
fn write_escape(out: &mut Vec<u8>, c: u8) {
    let named: &[u8] = match c {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0c => b"\\f",
        _ => return write_u_escape(out, u16::from(c)),
    };
    out.extend_from_slice(named);
}

/// `\uXXXX` with json's lowercase hex digits.
fn write_u_escape(out: &mut Vec<u8>, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)]);
    }
}

/// `int.__repr__`: the digits of an i64 directly, `repr()` for the rest (exact at any size;
/// declined when Python refuses, e.g. beyond its integer-string digit limit).
fn write_int(out: &mut Vec<u8>, i: &Bound<'_, PyInt>) -> Result<(), Declined> {
    let mut overflow: c_int = 0;
    // SAFETY: `i` is an exact int (no __index__ to call) and the GIL is held. Overflow is
    // reported through the flag, without raising.
    let v = unsafe { ffi::PyLong_AsLongLongAndOverflow(i.as_ptr(), &mut overflow) };
    if overflow == 0 {
        if v == -1 && PyErr::take(i.py()).is_some() {
            return Err(Declined);
        }
        write_i64(out, v);
        return Ok(());
    }
    let repr = i.repr().map_err(|_| Declined)?;
    out.extend_from_slice(to_str(&repr).map_err(|_| Declined)?.as_bytes());
    Ok(())
}

fn write_i64(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[at..]);
}

/// `float.__repr__`, or json's `Infinity`, `-Infinity`, `NaN`.
fn write_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"Infinity");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Infinity");
    } else {
        write_float_repr(out, v);
    }
}

/// `float.__repr__` of a finite float, several times faster than CPython's own (~800 ns).
///
/// Python's repr is the shortest digit string that reads back as `v`, the closest to `v` among
/// those, a tie going to the even digit (`_Py_dg_dtoa` mode 0). zmij (already in the
/// dependency tree through serde_json) computes the same digits; Rust's `{:e}` does not (it
/// rounds ties up: `564643404952508.25` gives `...508.3`, Python `...508.2`). The digits are
/// then laid out as CPython's `format_float_short` does for repr: fixed notation while the
/// decimal point falls within -4 < decpt <= 16 (`0.0001`, `1234.5`; `1e+16`, `1e-05`
/// beyond), `.0` after an integral value, an exponent with a sign and at least two digits.
fn write_float_repr(out: &mut Vec<u8>, v: f64) {
    let mut buffer = zmij::Buffer::new();
    let (negative, digits, exponent) = shortest_digits(buffer.format_finite(v).as_bytes());
    let digits = digits.as_slice();
    let n = digits.len();
    // CPython's decpt: the value is 0.<digits> * 10^decpt.
    let decpt = exponent + 1;
    if negative {
        out.push(b'-');
    }
    if !(-4 < decpt && decpt <= 16) {
        out.extend_from_slice(digits.get(..1).unwrap_or(b"0"));
        if n > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exponent < 0 { b'-' } else { b'+' });
        let e = exponent.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        write_i64(out, i64::from(e));
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', decpt.unsigned_abs() as usize));
        out.extend_from_slice(digits);
    } else {
        let point = decpt as usize;
        if point < n {
            out.extend_from_slice(&digits[..point]);
            out.push(b'.');
            out.extend_from_slice(&digits[point..]);
        } else {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', point - n));
            out.extend_from_slice(b".0");
        }
    }
}

/// The sign, significant digits (no leading or trailing zeros; `0` for zero) and decimal
/// exponent (`d.ddd * 10^exponent`) of zmij's text, whatever its layout: `1.5e-7`, `1e16`,
/// `0.001`, `12340000000.0`.
fn shortest_digits(text: &[u8]) -> (bool, Digits, i32) {
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let e_at = text.iter().position(|&c| c == b'e').unwrap_or(text.len());
    let (mantissa, exponent) = text.split_at(e_at);
    let exponent: i32 = std::str::from_utf8(exponent.get(1..).unwrap_or_default())
        .ok()
        .and_then(|e| e.trim_start_matches('+').parse().ok())
        .unwrap_or(0);
    let int_len = mantissa
        .iter()
        .position(|&c| c == b'.')
        .unwrap_or(mantissa.len());
    let mut digits = Digits::default();
    let mut leading_zeros = 0;
    for &c in mantissa.iter().filter(|c| c.is_ascii_digit()) {
        if digits.is_empty() && c == b'0' {
            leading_zeros += 1;
        } else {
            digits.push(c);
        }
    }
    digits.trim_trailing_zeros();
    if digits.is_empty() {
        digits.push(b'0');
        return (negative, digits, 0);
    }
    let exponent = exponent + int_len as i32 - leading_zeros - 1;
    (negative, digits, exponent)
}

/// The significant digits of one float, without allocating: a double never needs more than
/// 17; pushes beyond the capacity are dropped.
#[derive(Default)]
struct Digits {
    bytes: [u8; 32],
    len: usize,
}

impl Digits {
    fn push(&mut self, c: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = c;
            self.len += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn trim_trailing_zeros(&mut self) {
        while self.len > 0 && self.bytes[self.len - 1] == b'0' {
            self.len -= 1;
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::{write_i64, write_str, write_str_ascii};

    fn s(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn str_escapes_as_json_with_ensure_ascii_false() {
        assert_eq!(s(|o| write_str(o, "")), r#""""#);
        assert_eq!(
            s(|o| write_str(o, "a\"b\\c\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}é你😀/")),
            "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0000\\u001f\u{7f}é你😀/\""
        );
    }

    #[test]
    fn str_escapes_as_json_with_ensure_ascii_true() {
        assert_eq!(
            s(|o| write_str_ascii(o, "a\"\\\n\u{1}\u{7f}é😀~ ")),
            r#""a\"\\\n\u0001\u007f\u00e9\ud83d\ude00~ ""#
        );
    }

    #[test]
    fn float_repr_layout_as_python() {
        // repr() of each, from CPython 3.11.
        for (v, want) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345.67, "123456789012345.67"),
            (9007199254740993.0, "9007199254740992.0"),
            (1e-4, "0.0001"),
            (1.5e-4, "0.00015"),
            (1e-5, "1e-05"),
            (1e-7, "1e-07"),
            (-2.5e-300, "-2.5e-300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (1e100, "1e+100"),
            (0.30000000000000004, "0.30000000000000004"),
            (100.0, "100.0"),
            (-1234.5, "-1234.5"),
            // Ties between two shortest candidates go to the even digit, as in CPython.
            (564_643_404_952_508.0 + 0.25, "564643404952508.2"),
            (72_822_345_749_305.0 + 0.625, "72822345749305.62"),
            (1e23, "1e+23"),
            (123e-20, "1.23e-18"),
        ] {
            assert_eq!(s(|o| super::write_float(o, v)), want, "{v:e}");
        }
    }

    #[test]
    fn i64_digits() {
        for v in [0, 1, -1, 9, 10, -10, 1234567890, i64::MAX, i64::MIN] {
            assert_eq!(s(|o| write_i64(o, v)), v.to_string());
        }
    }
}
