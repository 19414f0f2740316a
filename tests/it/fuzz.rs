//! The fuzzer, bounded: generated documents and mutations of the committed corpus through
//! `check` and `build`, with the promises of `wfc_tests::fuzz::run_one` (no panic, spanned
//! diagnostics, check and build agreeing). `bash scripts/bench.sh fuzz` runs 10^6.

use wfc_tests::fuzz::{Fuzzer, corpus, run_one};
use wfc_tests::repo_root;

#[test]
fn random_and_mutated_documents_never_panic_and_every_rejection_is_spanned() {
    let mut fuzzer = Fuzzer::new(0x5eed_cafe_f00d_1234, corpus(&repo_root()));
    let (mut tried, mut accepted) = (0, 0);
    for i in 0..6000 {
        let text = fuzzer.next_document();
        let outcome = run_one(&text).unwrap_or_else(|problem| panic!("document {i}: {problem}:\n{text}"));
        tried += 1;
        accepted += usize::from(outcome.accepted);
    }
    eprintln!("fuzz: {tried} documents, {accepted} accepted and built, no panic");
    assert!(accepted > 100, "the fuzzer also makes valid documents ({accepted})");
}
