//! Tags every line the handler prints or logs with the request id.
//!
//! `run` wraps `sys.stdout` and `sys.stderr` in a [`TaggedStream`] for its lifetime. While an
//! invocation is in flight, each line written starts with `<request_id>\t`; between
//! invocations the text passes through untouched. `logging`'s handlers write to these streams
//! (the root logger's stream handlers are re-pointed when `logging` was configured earlier),
//! so their lines carry the id too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyString;

/// The prefix of the invocation in flight, shared by the tagged streams of one `run`.
#[derive(Default)]
pub(crate) struct Tag {
    prefix: Mutex<Option<String>>,
}

impl Tag {
    /// Start tagging with `request_id` (or stop, with `None`).
    pub(crate) fn set(&self, request_id: Option<&str>) {
        let mut prefix = self.prefix.lock().unwrap_or_else(PoisonError::into_inner);
        *prefix = request_id.map(|id| format!("{id}\t"));
    }
}

/// A text stream that prefixes each line with the request id and forwards to the stream it
/// wraps; other attributes (`encoding`, `fileno`, `buffer`...) are the wrapped stream's.
#[pyclass(frozen, module = "scfruntime._scfruntime")]
pub(crate) struct TaggedStream {
    inner: Py<PyAny>,
    tag: Arc<Tag>,
    at_line_start: AtomicBool,
}

#[pymethods]
impl TaggedStream {
    fn write(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let inner = self.inner.bind(py);
        let write = intern!(py, "write");
        let Ok(s) = text.cast::<PyString>() else {
            return Ok(inner.call_method1(write, (text,))?.unbind());
        };
        let tagged = {
            let prefix = self
                .tag
                .prefix
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match (prefix.as_deref(), s.to_str()) {
                (Some(prefix), Ok(t)) if !t.is_empty() => {
                    let mut start = self.at_line_start.load(Ordering::Relaxed);
                    let mut out = String::with_capacity(t.len() + prefix.len());
                    for piece in t.split_inclusive('\n') {
                        if start {
                            out.push_str(prefix);
                        }
                        out.push_str(piece);
                        start = piece.ends_with('\n');
                    }
                    self.at_line_start.store(start, Ordering::Relaxed);
                    Some(out)
                }
                (_, Ok(t)) => {
                    if let Some(last) = t.chars().last() {
                        self.at_line_start.store(last == '\n', Ordering::Relaxed);
                    }
                    None
                }
                // Lone surrogates: let the wrapped stream apply its own error handler.
                (_, Err(_)) => None,
            }
        };
        match tagged {
            Some(out) => {
                inner.call_method1(write, (out,))?;
                // `write` returns the number of characters of *its* argument.
                Ok(s.len()?.into_pyobject(py)?.into_any().unbind())
            }
            None => Ok(inner.call_method1(write, (s,))?.unbind()),
        }
    }

    fn writelines(&self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            self.write(py, &line?)?;
        }
        Ok(())
    }

    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.bind(py).call_method0(intern!(py, "flush"))?;
        Ok(())
    }

    fn __getattr__(&self, py: Python<'_>, name: &Bound<'_, PyString>) -> PyResult<Py<PyAny>> {
        Ok(self.inner.bind(py).getattr(name)?.unbind())
    }
}

/// The streams `run` replaced, put back by [`Installed::restore`].
pub(crate) struct Installed {
    saved: Vec<(&'static str, Py<PyAny>, Py<TaggedStream>)>,
}

/// Wrap `sys.stdout` and `sys.stderr`, and re-point the root logger's stream handlers that
/// write to them.
pub(crate) fn install(py: Python<'_>, tag: &Arc<Tag>) -> PyResult<Installed> {
    let sys = py.import(intern!(py, "sys"))?;
    let mut saved = Vec::new();
    for name in ["stdout", "stderr"] {
        let orig = sys.getattr(name)?;
        if orig.is_none() || orig.is_instance_of::<TaggedStream>() {
            continue;
        }
        let tagged = Py::new(
            py,
            TaggedStream {
                inner: orig.clone().unbind(),
                tag: Arc::clone(tag),
                at_line_start: AtomicBool::new(true),
            },
        )?;
        sys.setattr(name, &tagged)?;
        saved.push((name, orig.unbind(), tagged));
    }
    // Only when the handler already imported logging: importing it here would cost startup.
    let modules = sys.getattr(intern!(py, "modules"))?;
    if let Ok(logging) = modules.get_item("logging") {
        let handlers = logging.getattr("root")?.getattr("handlers")?;
        for handler in handlers.try_iter()? {
            let handler = handler?;
            let Ok(stream) = handler.getattr(intern!(py, "stream")) else {
                continue;
            };
            for (_, orig, tagged) in &saved {
                if stream.is(orig) {
                    handler.setattr(intern!(py, "stream"), tagged)?;
                }
            }
        }
    }
    Ok(Installed { saved })
}

impl Installed {
    /// Put the original streams back where `install` left its wrappers in place.
    pub(crate) fn restore(self, py: Python<'_>) {
        let Ok(sys) = py.import(intern!(py, "sys")) else {
            return;
        };
        for (name, orig, tagged) in self.saved {
            if sys.getattr(name).is_ok_and(|cur| cur.is(&tagged)) {
                let _ = sys.setattr(name, orig);
            }
        }
    }
}
