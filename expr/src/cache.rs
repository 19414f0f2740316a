//! Parsed expressions, by source text: an expression of the flow is parsed once per process,
//! not once per evaluation (the CEL parser is a generated ANTLR parser, the costliest step).
//! Generated workers evaluate only their flow's own expressions, so the cache holds at most
//! those; a bound keeps it finite whatever text reaches it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use crate::bounds::Size;
use crate::{ALIASES, FieldPath, References, SyntaxError, compile, free_variables};

/// How many parsed expressions a process keeps; past it, expressions are parsed per use.
const CAPACITY: usize = 4096;

/// An expression ready to evaluate.
pub(crate) struct Compiled {
    pub program: cel::parser::Expression,
    pub size: Size,
    /// The top-level names it reads: as the scope knows them, as CEL binds them, and the
    /// field paths it selects from each (`None` when it reads the value whole).
    pub names: Vec<(String, String, Option<Vec<FieldPath>>)>,
    pub references: References,
}

static CACHE: LazyLock<RwLock<HashMap<Box<str>, Arc<Compiled>>>> = LazyLock::new(RwLock::default);

/// The parsed form of `source`, from the cache when it was parsed before.
pub(crate) fn compiled(source: &str) -> Result<Arc<Compiled>, SyntaxError> {
    if let Some(found) = CACHE.read().unwrap_or_else(|e| e.into_inner()).get(source) {
        return Ok(found.clone());
    }
    let (program, size) = compile(source)?;
    let references = free_variables(&program);
    let names = references
        .variables
        .iter()
        .map(|name| {
            let bound = ALIASES.iter().find(|(n, _)| n == name).map_or_else(|| name.clone(), |(_, alias)| alias.to_string());
            let paths = references.paths.get(name).filter(|paths| !paths.iter().any(Vec::is_empty)).cloned();
            (name.clone(), bound, paths)
        })
        .collect();
    let compiled = Arc::new(Compiled { program, size, names, references });
    let mut cache = CACHE.write().unwrap_or_else(|e| e.into_inner());
    if cache.len() < CAPACITY {
        cache.insert(source.into(), compiled.clone());
    }
    Ok(compiled)
}
