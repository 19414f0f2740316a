//! The documents a flow names that wfc reads when it builds the flow (a Serverless Workflow
//! `call: openapi`'s description): fetched from a URL, or read from a file relative to the
//! flow's, into `BuildOptions::documents`. The library itself does no I/O.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use wfc::SourceFile;

/// The most of a description wfc reads.
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Every document `source` names: its text, or why it could not be read.
pub fn read(source: &SourceFile) -> BTreeMap<String, Result<String, String>> {
    let references = wfc::external_documents(source);
    let folder = Path::new(&source.path).parent().unwrap_or(Path::new(""));
    references
        .into_iter()
        .map(|reference| {
            let text = if reference.starts_with("http://") || reference.starts_with("https://") {
                fetch(&reference)
            } else {
                let path = folder.join(reference.strip_prefix("file://").unwrap_or(&reference));
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
            };
            (reference, text)
        })
        .collect()
}

/// Reads `merged` documents of several flows into one map (a build of many flows).
pub fn read_all<'a>(sources: impl IntoIterator<Item = &'a SourceFile>) -> BTreeMap<String, Result<String, String>> {
    sources.into_iter().flat_map(read).collect()
}

fn fetch(url: &str) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().map_err(|e| e.to_string())?;
        let response = client.get(url).send().await.map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("the server answered {}", response.status()));
        }
        let bytes = response.bytes().await.map_err(|e| e.without_url().to_string())?;
        if bytes.len() > MAX_BYTES {
            return Err(format!("it is larger than {} MiB", MAX_BYTES / 1024 / 1024));
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| "it is not UTF-8 text".to_string())
    })
}
