#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| saslmech::fuzzing::client_xoauth2(data));
