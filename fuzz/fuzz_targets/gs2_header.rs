#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| saslmech_fuzz::gs2_header(data));
