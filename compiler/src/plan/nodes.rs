//! Stage 3, node: steps are placed. Every region template is instantiated; a parallel
//! container with a static count gets one `Branch` region per copy, its members renamed
//! `id[i]`, and a collection becomes one dynamic fan-out. Each step gets its execution
//! metadata (where it runs, whether it chooses among its edges).

use std::collections::HashMap;

use super::loops::{Regions, TemplateKind};
use super::path::is_container;
use super::{EdgeKind, FanOutPlan, Plan, RegionIdx, RegionKind, Role, Step, StepIdx, run_of};
use crate::model::{Graph, NodeKind};

/// The result of the node stage.
#[derive(Debug, Clone)]
pub struct Expanded {
    pub plan: Plan,
    pub regions: Regions,
    /// Every instance of every template (copies of a parallel body are separate instances).
    pub instances: Vec<Instance>,
}

#[derive(Debug, Clone)]
pub struct Instance {
    pub template: usize,
    pub region: RegionIdx,
    /// Member node → its step in this instance.
    pub steps: HashMap<usize, StepIdx>,
}

pub fn nodes(graph: &Graph, regions: Regions) -> Expanded {
    let mut plan = Plan { name: regions.name.clone(), ..Plan::default() };
    let span = graph.nodes.first().map(|n| n.node.span).unwrap_or_default();
    let workflow = plan.push_region(RegionKind::Workflow, None, None, "workflow", span);
    let mut expanded = Expanded { plan, regions, instances: Vec::new() };
    instantiate(graph, &mut expanded, 0, workflow, "");
    expanded
}

fn instantiate(graph: &Graph, out: &mut Expanded, template: usize, region: RegionIdx, suffix: &str) {
    let mut steps = HashMap::new();
    for m in out.regions.templates[template].members.clone() {
        let node = &graph.nodes[m].node;
        let id = format!("{}{suffix}", node.id);
        let role = match node.kind {
            NodeKind::Condition { .. } | NodeKind::Router { .. } => Role::Choice,
            _ => Role::Action,
        };
        let step = out.plan.push_step(Step {
            id: id.clone(),
            node: node.id.clone(),
            type_name: node.type_name.clone(),
            role,
            region,
            span: node.span,
            run: run_of(&node.kind),
            join: false,
        });
        steps.insert(m, step);
        let Some(&child) = out.regions.template_of.get(&m).filter(|_| is_container(&node.kind)) else { continue };
        let kind = match &out.regions.templates[child].kind {
            TemplateKind::Loop { description } => RegionKind::Loop { description: description.clone() },
            TemplateKind::Parallel { fan_out, batch_size } => RegionKind::Parallel { fan_out: fan_out.clone(), batch_size: *batch_size },
            TemplateKind::Workflow => RegionKind::Workflow,
        };
        let inner = out.plan.push_region(kind.clone(), Some(region), Some(step), &id, node.span);
        out.plan.steps[step.index()].role = Role::Container(inner);
        match kind {
            RegionKind::Parallel { fan_out: FanOutPlan::Static(count), .. } => {
                let (start, end) = (out.plan.region(inner).start, out.plan.region(inner).end);
                for i in 0..count {
                    let branch = out.plan.push_region(RegionKind::Branch { index: i }, Some(inner), None, &format!("{id}[{i}]"), node.span);
                    let (branch_start, branch_end) = (out.plan.region(branch).start, out.plan.region(branch).end);
                    out.plan.edge(start, branch_start, EdgeKind::Success);
                    out.plan.edge(branch_end, end, EdgeKind::Success);
                    instantiate(graph, out, child, branch, &format!("{suffix}[{i}]"));
                }
            }
            _ => instantiate(graph, out, child, inner, suffix),
        }
    }
    out.instances.push(Instance { template, region, steps });
}
