//! Echo on `tencent_scf`: the event bytes back as the response.
use std::convert::Infallible;

use tencent_scf::{make_scf, start, Context};

fn main() {
    start(make_scf(
        |event: Vec<u8>, _context: Context| -> Result<Vec<u8>, Infallible> { Ok(event) },
    ));
}
