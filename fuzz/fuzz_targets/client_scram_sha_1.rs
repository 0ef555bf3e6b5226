#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| saslmech_fuzz::client_scram_sha_1(data));
