//! The performance issue's memory target: a server session value is at most 256 bytes. (What
//! it holds on the heap after each step is measured by `benches/footprint.rs`; the number of
//! allocations by `tests/alloc_count.rs`.)

use saslmech::ServerSession;

#[test]
fn server_session_value_is_at_most_256_bytes() {
    let n = std::mem::size_of::<ServerSession>();
    println!("size_of::<ServerSession>() = {n}");
    assert!(n <= 256, "size_of::<ServerSession>() = {n}");
}
