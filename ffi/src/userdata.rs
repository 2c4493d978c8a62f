//! A C `userdata` pointer together with its optional finalizer.

use std::ffi::c_void;

/// Called once to release a `userdata` pointer the library took ownership of.
///
/// It runs from `scf_runtime_free` (or when a registration is replaced), on the thread making
/// that call. NULL means the library never releases the pointer.
pub type scf_free_fn = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// A `userdata` pointer owned by the library: its finalizer runs exactly once, on drop.
pub(crate) struct Userdata {
    ptr: *mut c_void,
    free: scf_free_fn,
}

impl Userdata {
    pub(crate) fn new(ptr: *mut c_void, free: scf_free_fn) -> Userdata {
        Userdata { ptr, free }
    }

    /// The raw pointer, passed back to the callbacks.
    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr
    }
}

impl Drop for Userdata {
    fn drop(&mut self) {
        if let Some(free) = self.free.take() {
            // SAFETY: the registering caller supplied `free` for exactly this pointer and
            // promised it may be called once, from whichever thread frees the runtime.
            unsafe { free(self.ptr) };
        }
    }
}
