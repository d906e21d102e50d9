#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| seqtun_fuzzing::relay::js_json(data));
