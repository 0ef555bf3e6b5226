#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| saslmech::fuzzing::server_scram_sha_1_plus(data));
