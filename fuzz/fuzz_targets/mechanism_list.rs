#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| saslmech::fuzzing::mechanism_list(data));
