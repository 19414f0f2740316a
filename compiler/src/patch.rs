//! Automatic patching (`wfc build NEW --previous OLD`) of an `auto-upgrade` flow: runs started
//! on the old build move to the new one at their next workflow task, and must replay their
//! history on it. Every node [`crate::diff`] reports as breaking is put on a Temporal patch: an
//! added node runs only where the patch is taken (new runs, and old runs that reach it under the
//! new build), and a removed node's code is kept, run only where it is not (old runs replaying
//! past it). Each run decides each patch once, so it follows either the old or the new flow
//! around each edit, from where it is.
//!
//! What is patched: a node added to or removed from a `Sequence` that both versions have. What
//! is refused, with a located diagnostic: any other breaking edit (a move, a node that now
//! issues other commands, a changed decision, a read of an added node's output, an edit of a
//! graph), since no single patch point keeps both histories replayable. A `pinned` flow needs
//! no patch: its runs never meet the new code.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{Code, Diagnostic};
use crate::diff::{Change, Edit, Verdict};
use crate::model::{Body, Flow, Node, NodeKind, Patch, Versioning};
use crate::source::{SourceFile, Span};
use crate::{BuildOptions, Checked};

/// The flow to generate: the new one with the previous one's removed nodes kept and every
/// breaking edit on a patch, or `None` when nothing needs a patch.
pub fn merge(previous: &SourceFile, source: &SourceFile, checked: &Checked, options: &BuildOptions) -> Result<Option<Flow>, Vec<Diagnostic>> {
    let Some(new) = &checked.flow else { return Ok(None) };
    if new.settings.versioning == Versioning::Pinned {
        return Ok(None);
    }
    let old_checked = crate::check(previous, options);
    let Some(old) = &old_checked.flow else {
        let first = old_checked.diagnostics.iter().find(|d| d.is_error()).map_or(String::new(), |d| format!(" (first: {})", d.message));
        return Err(vec![
            Diagnostic::error(Code::Unpatchable, Span::new(0, 0), format!("the previous flow {} does not check{first}", previous.path))
                .label("built with --previous")
                .help(format!("run `wfc check {}` and pass the flow the running build was made from", previous.path)),
        ]);
    };
    let changes = crate::diff::diff(&crate::diff::Side { source: previous, flow: old, checked: &old_checked }, &crate::diff::Side { source, flow: new, checked });
    let breaking: Vec<&Change> = changes.iter().filter(|c| c.verdict == Verdict::Breaks).collect();
    if breaking.is_empty() {
        return Ok(None);
    }
    let (old_parent, new_parent) = (parents(old), parents(new));
    let (old_nodes, new_nodes): (BTreeMap<&str, &Node>, BTreeMap<&str, &Node>) =
        (old.nodes().into_iter().map(|n| (n.id.as_str(), n)).collect(), new.nodes().into_iter().map(|n| (n.id.as_str(), n)).collect());
    let added: BTreeSet<&str> = changes.iter().filter(|c| c.edit == Edit::Added).map(|c| c.node.as_str()).collect();
    let removed: BTreeSet<&str> = changes.iter().filter(|c| c.edit == Edit::Removed).map(|c| c.node.as_str()).collect();
    let mut diagnostics = Vec::new();
    let mut add = Vec::new();
    let mut keep = Vec::new();
    let refuse = |change: &Change, span: Span, why: &str| {
        Diagnostic::error(
            Code::Unpatchable,
            span,
            format!("`{}` ({}) is {} in a way that breaks running workflows: {}", change.node, change.type_name, change.edit.as_str(), change.reason),
        )
        .label(why.to_string())
        .help("keep the flow `pinned` (runs finish on the build that started them), or make this edit in a build of its own and let the old runs drain first")
    };
    for change in breaking {
        let id = change.node.as_str();
        let in_both = |parent: &str| {
            matches!(old_nodes.get(parent).map(|n| &n.kind), Some(NodeKind::Sequence(_))) && matches!(new_nodes.get(parent).map(|n| &n.kind), Some(NodeKind::Sequence(_)))
        };
        match change.edit {
            Edit::Added => {
                let span = new_nodes.get(id).map_or(Span::default(), |n| n.type_span);
                if ancestors(&new_parent, id).any(|a| added.contains(a)) {
                    continue;
                }
                if matches!(new.body, Body::Graph(_)) || !change.in_sequence.as_deref().is_some_and(in_both) {
                    diagnostics.push(refuse(change, span, "only a node added to a `Sequence` both versions have can be patched"));
                    continue;
                }
                let subtree: BTreeSet<&str> = new_nodes[id].walk().into_iter().map(|n| n.id.as_str()).collect();
                if let Some((reader, _)) = checked.reads.iter().find(|(reader, read)| subtree.contains(read.as_str()) && !subtree.contains(reader.as_str())) {
                    diagnostics.push(refuse(change, span, &format!("`{reader}` reads its output, which runs started on the old build do not have")));
                    continue;
                }
                add.push(id.to_string());
            }
            Edit::Removed => {
                if ancestors(&old_parent, id).any(|a| removed.contains(a)) {
                    continue;
                }
                let parent = change.in_sequence.as_deref();
                let span = parent.and_then(|p| new_nodes.get(p)).map_or(Span::default(), |n| n.id_span);
                if matches!(old.body, Body::Graph(_)) || !parent.is_some_and(in_both) {
                    diagnostics.push(refuse(change, span, "only a node removed from a `Sequence` both versions have can be patched"));
                    continue;
                }
                // The kept code runs in the new flow: what it reads must still be there.
                let subtree: BTreeSet<&str> = old_nodes[id].walk().into_iter().map(|n| n.id.as_str()).collect();
                let gone =
                    old_checked.reads.iter().find(|(reader, read)| subtree.contains(reader.as_str()) && !subtree.contains(read.as_str()) && !new_nodes.contains_key(read.as_str()));
                if let Some((_, read)) = gone {
                    diagnostics.push(refuse(change, span, &format!("its kept code reads `{read}`, which the new flow no longer has")));
                    continue;
                }
                keep.push(id.to_string());
            }
            Edit::Changed | Edit::Moved => {
                let span = new_nodes.get(id).map_or(Span::default(), |n| n.type_span);
                diagnostics.push(refuse(change, span, "a changed or moved node cannot run the old and the new way behind one patch"));
            }
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let mut merged = new.clone();
    let Body::Tree(root) = &mut merged.body else { return Ok(None) };
    for id in &add {
        if let Some(node) = find_mut(root, id) {
            node.patch = Some(Patch { id: format!("wfc:added:{id}"), when_patched: true });
        }
    }
    for id in &keep {
        let (Some(parent), Some(node)) = (old_parent.get(id.as_str()), old_nodes.get(id.as_str())) else { continue };
        let NodeKind::Sequence(old_order) = &parent.kind else { continue };
        let mut kept = (*node).clone();
        kept.patch = Some(Patch { id: format!("wfc:removed:{id}"), when_patched: false });
        let Some(sequence) = find_mut(root, &parent.id) else { continue };
        let NodeKind::Sequence(children) = &mut sequence.kind else { continue };
        // After the nearest sibling before it (in the old order) that the merged flow has.
        let before: Vec<&str> = old_order.iter().map(|c| c.id.as_str()).take_while(|c| c != id).collect();
        let at = before.iter().rev().find_map(|b| children.iter().position(|c| c.id == *b)).map_or(0, |i| i + 1);
        children.insert(at, kept);
    }
    Ok(Some(merged))
}

/// Each node's parent.
fn parents(flow: &Flow) -> BTreeMap<&str, &Node> {
    let mut parents = BTreeMap::new();
    for node in flow.nodes() {
        for child in node.children().into_iter().chain(node.on_error.as_deref()) {
            parents.insert(child.id.as_str(), node);
        }
    }
    parents
}

fn ancestors<'a>(parents: &'a BTreeMap<&'a str, &'a Node>, id: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    std::iter::successors(parents.get(id).map(|p| p.id.as_str()), move |at| parents.get(at).map(|p| p.id.as_str()))
}

fn find_mut<'n>(node: &'n mut Node, id: &str) -> Option<&'n mut Node> {
    if node.id == id {
        return Some(node);
    }
    node.owned_mut().into_iter().find_map(|child| find_mut(child, id))
}
