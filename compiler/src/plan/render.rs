//! The plan for people: text, JSON, Mermaid and DOT (`wfc plan --format`). Flow content appears
//! only inside quoted, escaped labels, so node names cannot change a diagram's structure.

use std::fmt::Write;

use super::{EdgeKind, FanOutPlan, Plan, RegionIdx, RegionKind, Role, Step, StepIdx};

pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "workflow {}", plan.name);
    region_text(plan, &Layout::new(plan), RegionIdx::WORKFLOW, 1, &mut out);
    if !plan.dropped.is_empty() {
        let _ = writeln!(out, "dropped (unreachable): {}", plan.dropped.join(", "));
    }
    out
}

/// Who is where, indexed once so that every renderer is linear in the plan.
struct Layout {
    /// Per region: its steps, start first and end last.
    members: Vec<Vec<StepIdx>>,
    /// Per region: the regions directly inside it.
    children: Vec<Vec<RegionIdx>>,
    /// Per step: its outgoing edges, in plan order.
    outgoing: Vec<Vec<usize>>,
}

impl Layout {
    fn new(plan: &Plan) -> Layout {
        let mut inner: Vec<Vec<StepIdx>> = vec![Vec::new(); plan.regions.len()];
        for (i, step) in plan.steps.iter().enumerate() {
            if !matches!(step.role, Role::Start | Role::End) {
                inner[step.region.index()].push(StepIdx(i as u32));
            }
        }
        let members = plan.regions.iter().zip(inner).map(|(r, inner)| std::iter::once(r.start).chain(inner).chain(std::iter::once(r.end)).collect()).collect();
        let mut children = vec![Vec::new(); plan.regions.len()];
        for (i, region) in plan.regions.iter().enumerate() {
            if let Some(parent) = region.parent {
                children[parent.index()].push(RegionIdx(i as u32));
            }
        }
        let mut outgoing = vec![Vec::new(); plan.steps.len()];
        for (i, edge) in plan.edges.iter().enumerate() {
            outgoing[edge.from.index()].push(i);
        }
        Layout { members, children, outgoing }
    }
}

fn region_text(plan: &Plan, layout: &Layout, region: RegionIdx, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for &idx in &layout.members[region.index()] {
        let step = plan.step(idx);
        let what = match step.role {
            Role::Start | Role::End => String::new(),
            Role::Choice => format!(": {} (choice)", step.type_name),
            _ => format!(": {} ({})", step.type_name, step.run.name()),
        };
        let join = if step.join { "  [join: waits for every incoming edge; runs if any is live, else skipped]" } else { "" };
        let _ = writeln!(out, "{pad}{}{what}{join}", step.id);
        for &e in &layout.outgoing[idx.index()] {
            let edge = &plan.edges[e];
            let _ = writeln!(out, "{pad}  --{}--> {}", edge.kind.label(), plan.step(edge.to).id);
        }
        if let Role::Container(inner) = step.role {
            let _ = writeln!(out, "{pad}  {}", describe(plan, inner));
            region_text(plan, layout, inner, depth + 2, out);
        }
        // A static parallel's branches hang off its start.
        if idx == plan.region(region).start {
            for &branch in &layout.children[region.index()] {
                if matches!(plan.region(branch).kind, RegionKind::Branch { .. }) {
                    let _ = writeln!(out, "{pad}  {}", describe(plan, branch));
                    region_text(plan, layout, branch, depth + 2, out);
                }
            }
        }
    }
}

fn describe(plan: &Plan, region: RegionIdx) -> String {
    match &plan.region(region).kind {
        RegionKind::Workflow => "workflow".into(),
        RegionKind::Scope { type_name, transparent: true } => format!("{type_name}:"),
        RegionKind::Scope { type_name, transparent: false } => format!("{type_name} (its children's outputs are not guaranteed after it):"),
        RegionKind::Loop { description } => format!("loop {description} (`loop.*` in scope):"),
        RegionKind::Parallel { fan_out, batch_size } => {
            let batch = batch_size.map(|b| format!(", {b} at a time")).unwrap_or_default();
            match fan_out {
                FanOutPlan::Static(n) => format!("parallel: {n} static branches{batch} (`parallel.*` in scope):"),
                FanOutPlan::Dynamic(collection) => format!("parallel: one branch per item of `{collection}`{batch}, at run time (`parallel.*` in scope):"),
            }
        }
        RegionKind::Branch { index } => format!("branch {index}:"),
    }
}

pub fn json(plan: &Plan) -> serde_json::Value {
    use serde_json::json;
    let steps: Vec<_> = plan
        .steps
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "node": s.node, "type": s.type_name, "role": role(s), "region": s.region.0,
                "run": s.run.name(), "join": s.join,
            })
        })
        .collect();
    let edges: Vec<_> = plan.edges.iter().map(|e| json!({"from": plan.step(e.from).id, "to": plan.step(e.to).id, "kind": e.kind.label()})).collect();
    let regions: Vec<_> = plan
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({
                "index": i, "kind": describe(plan, RegionIdx(i as u32)).trim_end_matches(':'), "parent": r.parent.map(|p| p.0),
                "container": r.container.map(|c| plan.step(c).id.clone()), "start": plan.step(r.start).id, "end": plan.step(r.end).id,
            })
        })
        .collect();
    json!({"name": plan.name, "steps": steps, "edges": edges, "regions": regions, "dropped": plan.dropped})
}

fn role(step: &Step) -> &'static str {
    match step.role {
        Role::Action => "action",
        Role::Choice => "choice",
        Role::Container(_) => "container",
        Role::Start => "start",
        Role::End => "end",
    }
}

/// Mermaid `flowchart`: regions are subgraphs; labels are quoted with `"` escaped.
pub fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    mermaid_region(plan, &Layout::new(plan), RegionIdx::WORKFLOW, 1, &mut out);
    for edge in &plan.edges {
        let arrow = if edge.kind == EdgeKind::Back { "-.->" } else { "-->" };
        let label = match edge.kind {
            EdgeKind::Success => String::new(),
            _ => format!("|\"{}\"|", mermaid_escape(&edge.kind.label())),
        };
        let _ = writeln!(out, "  s{} {arrow}{label} s{}", edge.from.0, edge.to.0);
    }
    out
}

fn mermaid_region(plan: &Plan, layout: &Layout, region: RegionIdx, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for &idx in &layout.members[region.index()] {
        let step = plan.step(idx);
        let label = mermaid_escape(&step_label(step));
        let shape = match step.role {
            Role::Start | Role::End => format!("((\"{label}\"))"),
            Role::Choice => format!("{{\"{label}\"}}"),
            _ => format!("[\"{label}\"]"),
        };
        let _ = writeln!(out, "{pad}s{}{shape}", idx.0);
    }
    for &inner in &layout.children[region.index()] {
        let _ = writeln!(out, "{pad}subgraph r{} [\"{}\"]", inner.0, mermaid_escape(describe(plan, inner).trim_end_matches(':')));
        mermaid_region(plan, layout, inner, depth + 1, out);
        let _ = writeln!(out, "{pad}end");
    }
}

fn step_label(step: &Step) -> String {
    match step.role {
        Role::Start => "start".into(),
        Role::End => "end".into(),
        _ => format!("{}\n{}", step.id, step.type_name),
    }
}

fn mermaid_escape(text: &str) -> String {
    text.replace('&', "#amp;").replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;").replace('\n', "<br/>")
}

/// Graphviz DOT: regions are clusters.
pub fn dot(plan: &Plan) -> String {
    let mut out = String::from("digraph plan {\n  compound=true;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    dot_region(plan, &Layout::new(plan), RegionIdx::WORKFLOW, 1, &mut out);
    for edge in &plan.edges {
        let style = if edge.kind == EdgeKind::Back { ", style=dashed" } else { "" };
        let color = if edge.kind == EdgeKind::Error { ", color=red" } else { "" };
        let _ = writeln!(out, "  s{} -> s{} [label=\"{}\"{style}{color}];", edge.from.0, edge.to.0, dot_escape(&edge.kind.label()));
    }
    out.push_str("}\n");
    out
}

fn dot_region(plan: &Plan, layout: &Layout, region: RegionIdx, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for &idx in &layout.members[region.index()] {
        let step = plan.step(idx);
        let shape = match step.role {
            Role::Start | Role::End => ", shape=circle",
            Role::Choice => ", shape=diamond",
            _ => "",
        };
        let _ = writeln!(out, "{pad}s{} [label=\"{}\"{shape}];", idx.0, dot_escape(&step_label(step)));
    }
    for &inner in &layout.children[region.index()] {
        let _ = writeln!(out, "{pad}subgraph cluster_r{} {{", inner.0);
        let _ = writeln!(out, "{pad}  label=\"{}\";", dot_escape(describe(plan, inner).trim_end_matches(':')));
        dot_region(plan, layout, inner, depth + 1, out);
        let _ = writeln!(out, "{pad}}}");
    }
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
