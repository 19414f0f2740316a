//! btree's own examples (../shared/conformance/btree) are accepted unmodified.

use wfc::SourceFile;
use wfc_tests::shared_kit;

#[test]
fn the_btree_examples_pass_check_unmodified() {
    let Some(dir) = shared_kit("conformance/btree") else { return };
    let entries = std::fs::read_dir(&dir).expect("the kit is readable");
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    assert_eq!(files.len(), 5);
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        let source = SourceFile::new(path.display().to_string(), text);
        let checked = wfc::check(&source, &wfc::BuildOptions::default());
        assert!(checked.diagnostics.is_empty(), "{}: {:#?}", path.display(), checked.diagnostics);
        let built = wfc::build(&source, &wfc::BuildOptions::with_runtime(wfc::RuntimeSource::Path("runtime".into())));
        assert!(built.is_ok(), "{}: {:#?}", path.display(), built.err());
    }
}
