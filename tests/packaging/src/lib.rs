//! No library code: the tests are in `tests/`.
