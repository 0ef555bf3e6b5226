#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| saslmech::fuzzing::server_oauthbearer(data));
