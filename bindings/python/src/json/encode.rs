//! Python objects to JSON bytes, exactly as `json.dumps(value, ensure_ascii=False)` writes them.
//!
//! The stdlib's C encoder with the default options: separators `", "` and `": "`; `None`,
//! `True`, `False` as `null`, `true`, `false`; an `int` as `int.__repr__`; a `float` as
//! `float.__repr__` (CPython's own `PyOS_double_to_string`, so `1e+16`, `1e-07`, `0.1`) and the
//! non-finite ones as `Infinity`, `-Infinity`, `NaN`; a `str` with only `"`, `\`, `\n`, `\r`,
//! `\t`, `\b`, `\f` escaped by name and the other control characters as `\u00XX` (everything
//! else verbatim UTF-8); lists and tuples as arrays; dicts in their order, with `str`, `int`,
//! `float`, `bool` and `None` keys written as json coerces them (`True` -> `"true"`, `1.5` ->
//! `"1.5"`).
//!
//! Only exact builtin types are handled; the encoder declines anything else (see the module
//! [`crate::json`]) before a single byte of user code could run, so the caller can hand the
//! whole value to `json.dumps` instead and get its output or its exception.

use std::ffi::{CStr, c_char};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::{Declined, MAX_DEPTH, find_special};

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
            write_str(&mut self.out, s.to_str().map_err(|_| Declined)?);
        } else if let Ok(i) = obj.cast_exact::<PyInt>() {
            write_int(&mut self.out, i)?;
        } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
            write_float(&mut self.out, obj.py(), f.value())?;
        } else if let Ok(d) = obj.cast_exact::<PyDict>() {
            self.dict(d)?;
        } else if let Ok(l) = obj.cast_exact::<PyList>() {
            self.enter()?;
            self.out.push(b'[');
            for (n, item) in l.iter().enumerate() {
                if n > 0 {
                    self.out.extend_from_slice(b", ");
                }
                self.value(&item)?;
            }
            self.out.push(b']');
            self.depth -= 1;
        } else if let Ok(t) = obj.cast_exact::<PyTuple>() {
            self.enter()?;
            self.out.push(b'[');
            for (n, item) in t.iter().enumerate() {
                if n > 0 {
                    self.out.extend_from_slice(b", ");
                }
                self.value(&item)?;
            }
            self.out.push(b']');
            self.depth -= 1;
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

    fn dict(&mut self, dict: &Bound<'_, PyDict>) -> Result<(), Declined> {
        self.enter()?;
        self.out.push(b'{');
        for (n, (key, value)) in dict.iter().enumerate() {
            if n > 0 {
                self.out.extend_from_slice(b", ");
            }
            self.key(&key)?;
            self.out.extend_from_slice(b": ");
            self.value(&value)?;
        }
        self.out.push(b'}');
        self.depth -= 1;
        Ok(())
    }

    /// A dict key, coerced to a string as json does; other key types are declined (json.dumps
    /// raises its TypeError for them).
    fn key(&mut self, key: &Bound<'_, PyAny>) -> Result<(), Declined> {
        if let Ok(s) = key.cast_exact::<PyString>() {
            write_str(&mut self.out, s.to_str().map_err(|_| Declined)?);
            return Ok(());
        }
        // The other key types' texts (numbers, literals) never need escaping.
        self.out.push(b'"');
        if let Ok(i) = key.cast_exact::<PyInt>() {
            write_int(&mut self.out, i)?;
        } else if let Ok(f) = key.cast_exact::<PyFloat>() {
            write_float(&mut self.out, key.py(), f.value())?;
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
    match i.extract::<i64>() {
        Ok(v) => write_i64(out, v),
        Err(_) => {
            let repr = i.repr().map_err(|_| Declined)?;
            out.extend_from_slice(repr.to_str().map_err(|_| Declined)?.as_bytes());
        }
    }
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
fn write_float(out: &mut Vec<u8>, _py: Python<'_>, v: f64) -> Result<(), Declined> {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"Infinity");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Infinity");
    } else {
        // float.__repr__ is exactly this call (Objects/floatobject.c, float_repr).
        // SAFETY: the GIL is held (`_py`); the function returns NULL with an exception set, or
        // a NUL-terminated buffer from PyMem_Malloc that we own and free right after copying.
        unsafe {
            let text = pyo3::ffi::PyOS_double_to_string(
                v,
                b'r' as c_char,
                0,
                pyo3::ffi::Py_DTSF_ADD_DOT_0,
                std::ptr::null_mut(),
            );
            if text.is_null() {
                pyo3::ffi::PyErr_Clear();
                return Err(Declined);
            }
            out.extend_from_slice(CStr::from_ptr(text).to_bytes());
            pyo3::ffi::PyMem_Free(text.cast());
        }
    }
    Ok(())
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
    fn i64_digits() {
        for v in [0, 1, -1, 9, 10, -10, 1234567890, i64::MAX, i64::MIN] {
            assert_eq!(s(|o| write_i64(o, v)), v.to_string());
        }
    }
}
