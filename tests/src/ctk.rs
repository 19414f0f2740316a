//! The Serverless Workflow Conformance Test Kit's features (`ctk/features/*.feature`), read into
//! typed scenarios: a workflow definition, an input, and what must hold after the run. A small
//! reader for the Gherkin the kit uses (features, scenarios, steps, `"""` docstrings); a step it
//! does not know is an error, so a new kind of assertion is never silently ignored.

use serde_json::Value;

/// One scenario of a feature file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The feature file's stem, e.g. `switch`.
    pub feature: String,
    pub name: String,
    /// The workflow document, as written.
    pub definition: String,
    pub input: Value,
    pub expect: Vec<Expect>,
}

/// What a scenario asserts about its run.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    Complete,
    /// Completes with exactly this output.
    CompleteWith(Value),
    Fault,
    /// Faults with an error having at least these fields.
    FaultWith(Value),
    /// The output has each of these (dotted) properties.
    HasProperties(Vec<String>),
    /// The output's (dotted) property equals the value.
    PropertyIs(String, Value),
    /// The output's (dotted) property is a list of this many items.
    PropertyItems(String, usize),
    RunsFirst(String),
    RunsLast(String),
    /// `.0` starts after `.1`.
    RunsAfter(String, String),
}

/// The scenarios of one feature file's text.
pub fn read(feature: &str, text: &str) -> Result<Vec<Scenario>, String> {
    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((at, line)) = lines.next() {
        let step = line.trim();
        let fail = |what: &str| Err(format!("{feature}.feature:{}: {what}: `{step}`", at + 1));
        if step.is_empty() || step.starts_with('#') || step.starts_with("Feature:") {
            continue;
        }
        if let Some(name) = step.strip_prefix("Scenario:") {
            scenarios.push(Scenario { feature: feature.to_string(), name: name.trim().to_string(), definition: String::new(), input: Value::Null, expect: Vec::new() });
            continue;
        }
        let Some(scenario) = scenarios.last_mut() else { continue }; // the feature's description
        let step = step.trim_start_matches("Given ").trim_start_matches("When ").trim_start_matches("Then ").trim_start_matches("And ");
        let mut docstring = || -> Result<String, String> {
            let (_, open) = lines.next().ok_or("a docstring is missing")?;
            let indent = open.len() - open.trim_start().len();
            if !open.trim().starts_with("\"\"\"") {
                return Err(format!("a docstring was expected, found `{}`", open.trim()));
            }
            let mut body = String::new();
            for (_, line) in lines.by_ref() {
                if line.trim() == "\"\"\"" {
                    return Ok(body);
                }
                // Docstrings lose the indentation of their opening delimiter.
                let cut = line.char_indices().take(indent).take_while(|(_, c)| *c == ' ').count();
                body.push_str(&line[cut..]);
                body.push('\n');
            }
            Err("a docstring does not end".into())
        };
        let quoted = |text: &str| -> Vec<String> { text.split('\'').skip(1).step_by(2).map(str::to_string).collect() };
        match step {
            "a workflow with definition:" => scenario.definition = docstring()?,
            "given the workflow input is:" => scenario.input = yaml(&docstring()?)?,
            "the workflow is executed" => {}
            "the workflow should complete" => scenario.expect.push(Expect::Complete),
            "the workflow should complete with output:" => scenario.expect.push(Expect::CompleteWith(yaml(&docstring()?)?)),
            "the workflow should fault" => scenario.expect.push(Expect::Fault),
            "the workflow should fault with error:" => scenario.expect.push(Expect::FaultWith(yaml(&docstring()?)?)),
            _ if step.starts_with("the workflow output should have properties ") => scenario.expect.push(Expect::HasProperties(quoted(step))),
            _ if step.starts_with("the workflow output should have a '") && step.ends_with("property with value:") => {
                let property = quoted(step).into_iter().next().unwrap_or_default();
                scenario.expect.push(Expect::PropertyIs(property, yaml(&docstring()?)?));
            }
            _ if step.starts_with("the workflow output should have a '") && step.ends_with(" items") => {
                let property = quoted(step).into_iter().next().unwrap_or_default();
                let count = step.rsplit(' ').nth(1).and_then(|n| n.parse().ok()).ok_or_else(|| format!("no item count in `{step}`"))?;
                scenario.expect.push(Expect::PropertyItems(property, count));
            }
            _ => {
                let words: Vec<&str> = step.split_whitespace().collect();
                match words[..] {
                    [task, "should", "run", "first"] => scenario.expect.push(Expect::RunsFirst(task.to_string())),
                    [task, "should", "run", "last"] => scenario.expect.push(Expect::RunsLast(task.to_string())),
                    [task, "should", "run", "after", other] => scenario.expect.push(Expect::RunsAfter(task.to_string(), other.to_string())),
                    _ => return fail("a step this reader does not know"),
                }
            }
        }
    }
    Ok(scenarios)
}

/// A docstring's YAML as JSON, read by wfc's own YAML reader.
fn yaml(text: &str) -> Result<Value, String> {
    match wfc::syntax::parse(text) {
        (Some(value), diagnostics) if diagnostics.is_empty() => Ok(value.to_json()),
        (_, diagnostics) => Err(format!("a docstring is not YAML: {:?}", diagnostics.first().map(|d| &d.message))),
    }
}

/// Every scenario of the kit's `features` folder, in file order.
pub fn scenarios(features: &std::path::Path) -> Result<Vec<Scenario>, String> {
    let mut files: Vec<_> = std::fs::read_dir(features).map_err(|e| e.to_string())?.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "feature")).collect();
    files.sort();
    let mut all = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        let stem = file.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        all.extend(read(&stem, &text)?);
    }
    Ok(all)
}
