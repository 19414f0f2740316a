//! btree's own examples (../shared/conformance/btree) are accepted unmodified.

use wfc::SourceFile;
use wfc_tests::repo_root;

#[test]
fn the_btree_examples_pass_check_unmodified() {
    let dir = repo_root().join("../shared/conformance/btree");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("{} is missing: CI clones main with shared/ beside it", dir.display());
    };
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    assert_eq!(files.len(), 5);
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        let source = SourceFile::new(path.display().to_string(), text);
        let checked = wfc::check(&source);
        assert!(checked.diagnostics.is_empty(), "{}: {:#?}", path.display(), checked.diagnostics);
        let built = wfc::build(&source, wfc::RuntimeSource::Path("runtime".into()));
        assert!(built.is_ok(), "{}: {:#?}", path.display(), built.err());
    }
}
