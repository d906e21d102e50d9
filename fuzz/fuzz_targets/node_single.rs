#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| seqtun_fuzzing::node::single(data));
