//! Voiceflow's compiled projects (issue 18): a `.vfr` export, or a `.vf` that carries
//! `programs`, read into Parley's own [`Project`], so that one engine runs both.
//!
//! A compiled project has `version` (settings, `prototype.model` or `platformData` with the
//! intents and slots, `variables`, `rootDiagramID`), `project`, and `programs` keyed by diagram
//! id, each with `startId`, `lines` (its nodes by id) and `commands` (global intents: `push`
//! runs a diagram and comes back, `jump` goes to a node). The node shapes are those of
//! `@voiceflow/base-types` (`packages/base-types/src/node/`), their meaning that of Voiceflow's
//! runtime handlers; each maps onto Parley's blocks, and the version's expressions become
//! JavaScript (`settings.expressionLanguage`), which the engine runs in QuickJS.
//!
//! Parley's own settings, which Voiceflow has no place for, may sit beside the export's keys in
//! a top-level `parley` object: `allowPrivateNetwork` (API steps may call private and loopback
//! addresses).
//!
//! A node Parley cannot run becomes an `unsupported` block and is listed in
//! [`Import::unsupported`] (diagram, node id, type, why): the caller refuses the project or,
//! told to skip them, serves it with those blocks ending the turn with a `debug` trace.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::blocks::{
    ActionPath, ApiCallBlock, Assignment, Block, Branch, ButtonDef, CaptureBlock, CardBlock,
    CardDef, CarouselBlock, ChoiceBlock, CodeBlock, CodePath, ConditionBlock, CustomActionBlock,
    EndBlock, GotoFlowBlock, GotoIntentBlock, ImageBlock, JumpBlock, Mapping, OwnNoReply,
    RandomBlock, Reprompts, ReturnBlock, SetBlock, SpeakBlock, TextBlock, UnsupportedBlock,
};
use crate::project::{
    Entity, EntityValue, ExpressionLanguage, Flow, GlobalIntent, Intent, NoReply, Project,
    Settings, Slot, Variable, Version,
};

/// A Voiceflow project read into Parley's format.
#[derive(Debug)]
pub struct Import {
    pub project: Project,
    /// Every node that became an `unsupported` block.
    pub unsupported: Vec<UnsupportedNode>,
}

/// A node Parley cannot run: where it is and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedNode {
    /// The diagram's id (its name in parentheses when the export has one).
    pub diagram: String,
    pub node: String,
    pub node_type: String,
    pub reason: String,
}

impl std::fmt::Display for UnsupportedNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "diagram {}, node {}, type {}: {}",
            self.diagram, self.node, self.node_type, self.reason
        )
    }
}

/// Whether a JSON document is a Voiceflow export with compiled programs (not Parley's own
/// format, which has `versions`).
pub fn is_voiceflow(document: &Value) -> bool {
    document.get("programs").is_some() && document.get("versions").is_none()
}

/// Reads a `.vfr` (or a `.vf` with `programs`). The error says what is missing.
pub fn import(text: &str) -> Result<Import, String> {
    let document: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    import_value(&document)
}

/// [`import`] from a parsed document.
pub fn import_value(document: &Value) -> Result<Import, String> {
    if !is_voiceflow(document) {
        return Err(
            "not a Voiceflow export with compiled programs (no `programs`): export \
                    the agent from Voiceflow as a .vfr, or a .vf that holds its programs"
                .to_owned(),
        );
    }
    let version = document.get("version").unwrap_or(&Value::Null);
    let programs: Vec<(String, &Value)> = match &document["programs"] {
        Value::Object(map) => map.iter().map(|(k, v)| (program_id(k, v), v)).collect(),
        Value::Array(items) => items.iter().map(|v| (program_id("", v), v)).collect(),
        _ => return Err("`programs` is neither an object nor an array".to_owned()),
    };
    if programs.is_empty() {
        return Err("`programs` is empty: the export holds no compiled diagram".to_owned());
    }
    let model = version
        .pointer("/prototype/model")
        .or_else(|| version.get("platformData"))
        .unwrap_or(&Value::Null);
    let mut cx = Importer {
        slot_names: BTreeMap::new(),
        slot_entities: BTreeMap::new(),
        slot_variables: BTreeMap::new(),
        variables: BTreeSet::new(),
        unsupported: Vec::new(),
        global_intents: BTreeSet::new(),
        intents: BTreeSet::new(),
        jumps: Vec::new(),
    };
    let (entities, intents) = cx.model(model);
    cx.intents = intents.iter().map(|i| i.name.clone()).collect();
    // Commands first: a goTo node needs to know which intents are global.
    let mut global_intents = Vec::new();
    let mut jumps = Vec::new();
    for (id, program) in &programs {
        for command in items(program.get("commands")) {
            let Some(intent) = command.pointer("/event/intent").and_then(Value::as_str) else {
                continue;
            };
            let diagram = text_of(command.get("diagramID")).unwrap_or_else(|| id.clone());
            let flow = match text_of(command.get("type")).as_deref() {
                Some("jump") => match text_of(command.get("nextID")) {
                    Some(node) => {
                        let flow = format!("{diagram}@{node}");
                        jumps.push((diagram.clone(), node, flow.clone()));
                        flow
                    }
                    None => diagram,
                },
                _ => diagram,
            };
            if cx.global_intents.insert(intent.to_owned()) {
                global_intents.push(GlobalIntent {
                    intent: intent.to_owned(),
                    flow,
                });
            }
        }
    }
    let names: BTreeMap<&str, Option<&str>> = programs
        .iter()
        .map(|(id, p)| (id.as_str(), p.get("name").and_then(Value::as_str)))
        .collect();
    let mut flows = Vec::new();
    for (id, program) in &programs {
        let name = names.get(id.as_str()).copied().flatten();
        flows.push(cx.program(id, name, program));
    }
    // A jump command or a go-to-block goes to a node of a diagram: Parley starts a copy of that
    // flow there.
    jumps.append(&mut cx.jumps);
    for (diagram, node, flow_id) in jumps {
        if let Some(flow) = flows.iter().find(|f| f.id == diagram).cloned()
            && !flows.iter().any(|f| f.id == flow_id)
        {
            let start = resolve_in(&flow, &node);
            flows.push(Flow {
                id: flow_id,
                name: flow.name.clone(),
                start,
                blocks: flow.blocks,
            });
        }
    }
    let root = text_of(version.get("rootDiagramID"))
        .filter(|r| flows.iter().any(|f| &f.id == r))
        .or_else(|| flows.first().map(|f| f.id.clone()))
        .unwrap_or_default();
    for name in items(version.get("variables")) {
        if let Some(name) = name.as_str() {
            cx.variables.insert(name.to_owned());
        }
    }
    let variables = cx
        .variables
        .iter()
        .filter(|v| !crate::compile::BUILTIN_VARIABLES.contains(&v.as_str()))
        .filter(|v| crate::template::is_identifier(v))
        .map(|name| Variable {
            name: name.clone(),
            default: Value::from(0),
            settable: false,
        })
        .collect();
    let settings_doc = version
        .pointer("/platformData/settings")
        .or_else(|| version.get("settings"))
        .unwrap_or(&Value::Null);
    let mut settings = Settings {
        global_intents,
        expression_language: ExpressionLanguage::Javascript,
        ..Settings::default()
    };
    if let Some(prompt) = settings_doc
        .pointer("/globalNoMatch/prompt/content")
        .and_then(prompt_text)
        .filter(|p| !p.is_empty())
    {
        settings.no_match = vec![prompt];
    }
    if let Some(delay) = settings_doc
        .pointer("/globalNoReply/delay")
        .and_then(Value::as_u64)
    {
        let prompts = settings_doc
            .pointer("/globalNoReply/prompt/content")
            .and_then(prompt_text)
            .into_iter()
            .collect();
        settings.no_reply = Some(NoReply {
            timeout: u32::try_from(delay).unwrap_or(u32::MAX),
            prompts,
        });
    }
    // Parley's own settings for an export, beside Voiceflow's (which has no such guard).
    if document
        .pointer("/parley/allowPrivateNetwork")
        .and_then(Value::as_bool)
        == Some(true)
    {
        settings.allow_private_network = true;
    }
    let version_id = text_of(version.get("_id")).unwrap_or_else(|| "voiceflow".to_owned());
    let project_doc = document.get("project").unwrap_or(&Value::Null);
    let project_id = text_of(project_doc.get("_id"))
        .or_else(|| text_of(version.get("projectID")))
        .unwrap_or_else(|| "voiceflow".to_owned());
    let name = text_of(project_doc.get("name"))
        .or_else(|| text_of(version.get("name")))
        .unwrap_or_else(|| "Voiceflow agent".to_owned());
    let project = Project {
        schema: None,
        id: project_id,
        name,
        aliases: [
            ("development".to_owned(), version_id.clone()),
            ("production".to_owned(), version_id.clone()),
        ]
        .into_iter()
        .collect(),
        allowed_origins: Vec::new(),
        public_access: None,
        public_requests_per_minute: crate::project::DEFAULT_PUBLIC_REQUESTS_PER_MINUTE,
        assistant: None,
        versions: vec![Version {
            id: version_id,
            start_flow: root,
            flows,
            intents,
            entities,
            variables,
            settings,
        }],
    };
    Ok(Import {
        project,
        unsupported: cx.unsupported,
    })
}

fn program_id(key: &str, program: &Value) -> String {
    text_of(program.get("id"))
        .or_else(|| text_of(program.get("diagramID")))
        .unwrap_or_else(|| key.to_owned())
}

/// The state of one import.
struct Importer {
    /// Slot key → name (utterances and interactions name slots by key).
    slot_names: BTreeMap<String, String>,
    /// Slot name → its entity (a custom type's name, or `number`, `email`).
    slot_entities: BTreeMap<String, String>,
    /// Slot name → the variable an interaction's mapping stores it in.
    slot_variables: BTreeMap<String, String>,
    variables: BTreeSet<String>,
    unsupported: Vec<UnsupportedNode>,
    global_intents: BTreeSet<String>,
    intents: BTreeSet<String>,
    /// Go-to-blocks into other diagrams: (diagram, node, the flow that starts there).
    jumps: Vec<(String, String, String)>,
}

/// The block a null link leads to: the flow ends there (Voiceflow pops the diagram).
const END: &str = "__end";

impl Importer {
    /// The intents and the custom slot types (entities) of the language model.
    fn model(&mut self, model: &Value) -> (Vec<Entity>, Vec<Intent>) {
        let mut entities = Vec::new();
        let mut slot_entity = BTreeMap::new();
        for slot in items(model.get("slots")) {
            let (Some(key), Some(name)) = (text_of(slot.get("key")), text_of(slot.get("name")))
            else {
                continue;
            };
            self.slot_names.insert(key.clone(), name.clone());
            let kind = text_of(slot.pointer("/type/value")).unwrap_or_default();
            let entity = match kind.to_ascii_uppercase().as_str() {
                "VF.NUMBER" => "number".to_owned(),
                "VF.EMAIL" => "email".to_owned(),
                "VF.DATE" | "VF.DATETIME" => "date".to_owned(),
                // Every other type (custom, or a built-in Parley lacks) by its listed values.
                _ => {
                    let values: Vec<EntityValue> = items(slot.get("inputs"))
                        .filter_map(Value::as_str)
                        .filter_map(|line| {
                            let mut words = line
                                .split(',')
                                .map(str::trim)
                                .filter(|w| !w.is_empty())
                                .map(str::to_owned);
                            let value = words.next()?;
                            Some(EntityValue {
                                value,
                                synonyms: words.collect(),
                            })
                        })
                        .collect();
                    if values.is_empty() {
                        continue;
                    }
                    entities.push(Entity {
                        name: name.clone(),
                        values,
                    });
                    name.clone()
                }
            };
            slot_entity.insert(name, entity);
        }
        self.slot_entities.clone_from(&slot_entity);
        let mut intents = Vec::new();
        for intent in items(model.get("intents")) {
            let Some(name) = text_of(intent.get("name")) else {
                continue;
            };
            let mut utterances: Vec<String> = items(intent.get("inputs"))
                .filter_map(|i| i.get("text").and_then(Value::as_str))
                .map(|u| self.utterance(u))
                .filter(|u| !u.trim().is_empty())
                .collect();
            if utterances.is_empty() {
                // A built-in intent exported without samples (`VF.HELP`): its own name.
                utterances.push(
                    name.trim_start_matches("VF.")
                        .replace('_', " ")
                        .to_lowercase(),
                );
            }
            let slots = items(intent.get("slots"))
                .filter_map(|s| text_of(s.get("id")))
                .filter_map(|key| self.slot_names.get(&key).cloned())
                .filter_map(|slot| {
                    Some(Slot {
                        entity: slot_entity.get(&slot)?.clone(),
                        name: slot,
                        variable: None,
                    })
                })
                .collect();
            intents.push(Intent {
                name,
                utterances,
                slots,
            });
        }
        (entities, intents)
    }

    /// `I want a {{[size].k4j2}} pizza` → `I want a {size} pizza`.
    fn utterance(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{[") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 3..];
            let Some(close) = after.find("}}") else {
                out.push_str(&rest[open..]);
                return out;
            };
            let inner = &after[..close];
            let name = inner.split("].").next().unwrap_or(inner);
            let key = inner.split("].").nth(1).unwrap_or_default();
            let name = self.slot_names.get(key).map_or(name, String::as_str);
            out.push('{');
            out.push_str(name);
            out.push('}');
            rest = &after[close + 2..];
        }
        out.push_str(rest);
        out
    }

    fn program(&mut self, id: &str, name: Option<&str>, program: &Value) -> Flow {
        for variable in items(program.get("variables")) {
            if let Some(v) = variable.as_str() {
                self.variables.insert(v.to_owned());
            }
        }
        let lines: BTreeMap<String, &Value> = match program.get("lines") {
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
            _ => BTreeMap::new(),
        };
        let diagram = match name {
            Some(name) => format!("{id} ({name})"),
            None => id.to_owned(),
        };
        let cx = Lines { lines: &lines };
        let mut blocks = Vec::new();
        let mut needs_end = false;
        for (node_id, node) in &lines {
            let kind = text_of(node.get("type")).unwrap_or_default();
            if cx.is_alias(node) {
                continue;
            }
            match self.node(&cx, node_id, node, &kind) {
                Ok(converted) => blocks.extend(converted),
                Err(reason) => {
                    self.unsupported.push(UnsupportedNode {
                        diagram: diagram.clone(),
                        node: node_id.clone(),
                        node_type: kind.clone(),
                        reason,
                    });
                    blocks.push(Block::Unsupported(UnsupportedBlock {
                        id: node_id.clone(),
                        node_type: kind,
                    }));
                }
            }
        }
        let start = cx.target(program.get("startId"));
        for block in &blocks {
            needs_end |= serde_json::to_string(block).is_ok_and(|s| s.contains("\"__end\""));
        }
        if needs_end || start == END {
            blocks.push(Block::Return(ReturnBlock { id: END.to_owned() }));
        }
        Flow {
            id: id.to_owned(),
            name: name.map(str::to_owned),
            start,
            blocks,
        }
    }

    /// One node as Parley blocks (the first has the node's id), or why it cannot run.
    #[expect(
        clippy::too_many_lines,
        reason = "one arm per node type, as the runtime's handlers"
    )]
    fn node(
        &mut self,
        cx: &Lines<'_>,
        id: &str,
        node: &Value,
        kind: &str,
    ) -> Result<Vec<Block>, String> {
        let next = |key: &str| cx.next(node.get(key));
        let id = id.to_owned();
        // A custom action (`_v: 1`), whatever its type.
        if node.get("_v").and_then(Value::as_u64) == Some(1) {
            let paths: Vec<ActionPath> = items(node.get("paths"))
                .enumerate()
                .map(|(i, p)| ActionPath {
                    name: p
                        .pointer("/event/type")
                        .and_then(Value::as_str)
                        .map_or_else(|| format!("path-{i}"), str::to_owned),
                    next: cx.next(p.get("nextID")),
                })
                .collect();
            if paths.is_empty() {
                return Err("a custom action without paths".to_owned());
            }
            return Ok(vec![Block::CustomAction(CustomActionBlock {
                id,
                name: kind.to_owned(),
                payload: node.get("payload").cloned().unwrap_or(Value::Null),
                default_path: node
                    .get("defaultPath")
                    .and_then(Value::as_u64)
                    .map_or(0, |d| d as usize)
                    .min(paths.len() - 1),
                paths,
                stop: node.get("stop").and_then(Value::as_bool).unwrap_or(true),
            })]);
        }
        Ok(match kind {
            "text" => {
                let texts: Vec<String> = items(node.get("texts"))
                    .filter_map(|t| t.get("content"))
                    .map(slate_markdown)
                    .collect();
                if texts.is_empty() {
                    return Err("a text node without texts".to_owned());
                }
                let delay = node
                    .get("delay")
                    .and_then(Value::as_u64)
                    .and_then(|d| u32::try_from(d).ok());
                vec![Block::Text(TextBlock {
                    id,
                    texts,
                    delay,
                    next: next("nextId"),
                })]
            }
            "speak" => {
                let mut variants: Vec<String> = items(node.get("random_speak"))
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                if let Some(one) = node.get("speak").and_then(Value::as_str) {
                    variants.push(one.to_owned());
                }
                match variants.len() {
                    0 => return Err("a speak node with nothing to say".to_owned()),
                    1 => vec![Block::Speak(SpeakBlock {
                        id,
                        message: variants.remove(0),
                        src: None,
                        next: next("nextId"),
                    })],
                    _ => {
                        let mut blocks = vec![Block::Random(RandomBlock {
                            id: id.clone(),
                            paths: (0..variants.len()).map(|i| format!("{id}#{i}")).collect(),
                            no_duplicates: false,
                        })];
                        for (i, message) in variants.into_iter().enumerate() {
                            blocks.push(Block::Speak(SpeakBlock {
                                id: format!("{id}#{i}"),
                                message,
                                src: None,
                                next: next("nextId"),
                            }));
                        }
                        blocks
                    }
                }
            }
            "visual" => {
                let data = node.get("data").unwrap_or(&Value::Null);
                if text_of(data.get("visualType")).as_deref() != Some("image") {
                    return Err("an APL visual (Alexa only)".to_owned());
                }
                let Some(url) = text_of(data.get("image")) else {
                    return Err("an image node without an image".to_owned());
                };
                let size = |k: &str| {
                    data.pointer(&format!("/dimensions/{k}"))
                        .and_then(Value::as_f64)
                        .map(|n| n.round() as u32)
                };
                vec![Block::Image(ImageBlock {
                    id,
                    url,
                    width: size("width"),
                    height: size("height"),
                    next: next("nextId"),
                })]
            }
            "cardV2" => vec![Block::Card(CardBlock {
                id,
                card: self.card(node)?,
                next: next("nextId"),
                go_on: !blocking(node),
            })],
            "carousel" => {
                let cards = items(node.get("cards"))
                    .map(|c| self.card(c))
                    .collect::<Result<Vec<_>, _>>()?;
                if cards.is_empty() {
                    return Err("a carousel without cards".to_owned());
                }
                vec![Block::Carousel(CarouselBlock {
                    id,
                    cards,
                    next: next("nextId"),
                    go_on: !blocking(node),
                })]
            }
            "interaction" => vec![self.interaction(cx, id, node)?],
            "captureV2" => vec![self.capture(cx, id, node)?],
            "ifV2" => {
                let expressions: Vec<&Value> =
                    items(node.pointer("/payload/expressions")).collect();
                let paths: Vec<&Value> = items(node.get("paths")).collect();
                let branches = expressions
                    .iter()
                    .enumerate()
                    .map(|(i, e)| Branch {
                        condition: expression(e),
                        next: cx.target(paths.get(i).and_then(|p| p.get("nextID"))),
                    })
                    .collect::<Vec<_>>();
                if branches.is_empty() {
                    // No condition: always the else path.
                    return Ok(vec![alias_block(
                        &id,
                        cx.next(node.pointer("/payload/elseId")),
                    )]);
                }
                vec![Block::Condition(ConditionBlock {
                    id,
                    branches,
                    otherwise: cx.next(node.pointer("/payload/elseId")),
                })]
            }
            "setV2" => {
                let assignments: Vec<Assignment> = items(node.get("sets"))
                    .filter_map(|s| {
                        let variable = text_of(s.get("variable"))?;
                        self.variables.insert(variable.clone());
                        let value = match s.get("expression") {
                            Some(Value::String(e)) if e.trim().is_empty() => "undefined".into(),
                            Some(e) => expression(e),
                            None => "undefined".into(),
                        };
                        Some(Assignment { variable, value })
                    })
                    .collect();
                if assignments.is_empty() {
                    return Ok(vec![alias_block(&id, next("nextId"))]);
                }
                vec![Block::Set(SetBlock {
                    id,
                    assignments,
                    next: next("nextId"),
                })]
            }
            "random" => {
                let paths: Vec<String> = items(node.get("nextIds"))
                    .map(|n| cx.target(Some(n)))
                    .collect();
                if paths.is_empty() {
                    return Err("a random node without paths".to_owned());
                }
                vec![Block::Random(RandomBlock {
                    id,
                    paths,
                    // `random: 2`: no duplicates (general-runtime's random handler).
                    no_duplicates: node.get("random").and_then(Value::as_u64) == Some(2),
                })]
            }
            "api" | "integrations" => vec![self.api(cx, id, node)?],
            "code" => {
                let Some(code) = text_of(node.get("code")) else {
                    return Err("a code node without code".to_owned());
                };
                let paths = items(node.get("paths"))
                    .filter_map(|p| {
                        Some(CodePath {
                            label: text_of(p.get("label")).or_else(|| text_of(p.get("key")))?,
                            next: cx.next(p.get("nextId")),
                        })
                    })
                    .collect();
                vec![Block::Code(CodeBlock {
                    id,
                    code,
                    paths,
                    next: next("success_id"),
                    fail: next("fail_id"),
                })]
            }
            "goTo" => {
                let Some(intent) = node
                    .pointer("/request/payload/intent/name")
                    .and_then(Value::as_str)
                else {
                    return Err("a go-to-intent node without an intent".to_owned());
                };
                if !self.global_intents.contains(intent) {
                    return Err(format!(
                        "goes to the intent `{intent}`, which no command of the project handles"
                    ));
                }
                vec![Block::GotoIntent(GotoIntentBlock {
                    id,
                    intent: intent.to_owned(),
                })]
            }
            "goToNode" => {
                // Within its diagram it is a link (`is_alias`); into another one, a jump to a
                // flow that starts at that block.
                let (Some(diagram), Some(node)) =
                    (text_of(node.get("diagramID")), text_of(node.get("nextId")))
                else {
                    return Err("a go-to-block without a block".to_owned());
                };
                let flow = format!("{diagram}@{node}");
                self.jumps.push((diagram, node, flow.clone()));
                vec![Block::Jump(JumpBlock { id, flow })]
            }
            "flow" | "component" => {
                let Some(flow) =
                    text_of(node.get("diagram_id")).or_else(|| text_of(node.get("diagramID")))
                else {
                    return Err("a flow node without a diagram".to_owned());
                };
                vec![Block::GotoFlow(GotoFlowBlock {
                    id,
                    flow,
                    next: next("nextId"),
                })]
            }
            "exit" => vec![Block::End(EndBlock { id })],
            other => {
                return Err(format!(
                    "Parley has no `{other}` step (see docs/voiceflow-import.md)"
                ));
            }
        })
    }

    /// A card's title, description, image and buttons.
    fn card(&self, node: &Value) -> Result<CardDef, String> {
        let description = match node.get("description") {
            Some(Value::String(s)) => s.clone(),
            Some(slate @ Value::Array(_)) => slate_markdown(slate),
            Some(object @ Value::Object(_)) => object
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| object.get("slate").map(slate_markdown))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let mut buttons = Vec::new();
        for button in items(node.get("buttons")) {
            let name = text_of(button.get("name")).unwrap_or_default();
            match button
                .pointer("/request/payload/intent/name")
                .and_then(Value::as_str)
            {
                Some(intent) if self.global_intents.contains(intent) => buttons.push(ButtonDef {
                    label: name,
                    next: None,
                    intent: Some(intent.to_owned()),
                    hidden: false,
                }),
                _ => {
                    return Err(format!(
                        "the card button `{name}` leads nowhere Parley can follow (only buttons \
                         of intents that a command handles)"
                    ));
                }
            }
        }
        Ok(CardDef {
            title: text_of(node.get("title")).unwrap_or_default(),
            description,
            image_url: text_of(node.get("imageUrl")),
            buttons,
        })
    }

    fn interaction(&mut self, cx: &Lines<'_>, id: String, node: &Value) -> Result<Block, String> {
        let shown: Vec<&Value> = items(node.get("buttons")).collect();
        let mut buttons = Vec::new();
        let mut used = BTreeSet::new();
        for interaction in items(node.get("interactions")) {
            let event = interaction.get("event").unwrap_or(&Value::Null);
            let kind = text_of(event.get("type")).unwrap_or_default();
            let next = cx.next(interaction.get("nextId"));
            let (intent, label) = if kind == "intent" {
                let Some(intent) = text_of(event.get("intent")) else {
                    return Err("a choice of no intent".to_owned());
                };
                for mapping in items(event.get("mappings")) {
                    if let (Some(slot), Some(variable)) = (
                        text_of(mapping.get("slot")),
                        text_of(mapping.get("variable")),
                    ) {
                        let slot = self.slot_names.get(&slot).cloned().unwrap_or(slot);
                        self.variables.insert(variable.clone());
                        self.slot_variables.entry(slot).or_insert(variable);
                    }
                }
                let button = shown.iter().position(|b| {
                    b.pointer("/request/payload/intent/name")
                        .and_then(Value::as_str)
                        == Some(intent.as_str())
                });
                (Some(intent.clone()), button.map(|i| (i, intent)))
            } else {
                let button = shown.iter().position(|b| {
                    b.pointer("/request/type").and_then(Value::as_str) == Some(&kind)
                });
                if button.is_none() {
                    return Err(format!(
                        "a choice waits for a `{kind}` event no button sends"
                    ));
                }
                (None, button.map(|i| (i, kind)))
            };
            if intent.as_ref().is_some_and(|i| !self.intents.contains(i)) {
                return Err(format!(
                    "a choice of the intent `{}`, which the model does not define",
                    intent.unwrap_or_default()
                ));
            }
            let (label, hidden) = match label {
                Some((i, _)) => {
                    used.insert(i);
                    (text_of(shown[i].get("name")).unwrap_or_default(), false)
                }
                None => (intent.clone().unwrap_or_default(), true),
            };
            buttons.push(ButtonDef {
                label,
                next: Some(next.unwrap_or_else(|| END.to_owned())),
                intent,
                hidden,
            });
        }
        // Buttons of no choice: intents a command handles.
        for (i, button) in shown.iter().enumerate() {
            if used.contains(&i) {
                continue;
            }
            let name = text_of(button.get("name")).unwrap_or_default();
            match button
                .pointer("/request/payload/intent/name")
                .and_then(Value::as_str)
            {
                Some(intent) if self.global_intents.contains(intent) => buttons.push(ButtonDef {
                    label: name,
                    next: None,
                    intent: Some(intent.to_owned()),
                    hidden: false,
                }),
                _ => return Err(format!("the button `{name}` leads nowhere")),
            }
        }
        if buttons.is_empty() {
            return Err("a choice with no choices".to_owned());
        }
        Ok(Block::Choice(ChoiceBlock {
            id,
            buttons,
            no_match: no_match(cx, node),
            no_reply: no_reply(cx, node),
        }))
    }

    fn capture(&mut self, cx: &Lines<'_>, id: String, node: &Value) -> Result<Block, String> {
        let own = no_match(cx, node);
        let (prompts, fail) = own.map_or((Vec::new(), None), |r| (r.prompts, r.next));
        let retries = u32::try_from(prompts.len()).unwrap_or(u32::MAX);
        let next = cx.next(node.get("nextId"));
        if let Some(variable) = text_of(node.get("variable")) {
            self.variables.insert(variable.clone());
            return Ok(Block::Capture(CaptureBlock {
                id,
                variable,
                entity: None,
                no_match: prompts,
                retries,
                next,
                fail,
                // Voiceflow's no-match handler: spent reprompts, then the global no-match.
                then_global_no_match: true,
            }));
        }
        let entities: Vec<String> = items(node.pointer("/intent/entities"))
            .filter_map(Value::as_str)
            .map(|key| {
                self.slot_names
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| key.to_owned())
            })
            .collect();
        let [slot] = entities.as_slice() else {
            return Err(format!(
                "captures {} entities at once (Parley's capture takes one)",
                entities.len()
            ));
        };
        // The slot's value goes to the variable a choice maps it to, else one of its name.
        let variable = self
            .slot_variables
            .get(slot)
            .cloned()
            .unwrap_or_else(|| slot.clone());
        self.variables.insert(variable.clone());
        Ok(Block::Capture(CaptureBlock {
            id,
            variable,
            entity: Some(
                self.slot_entities
                    .get(slot)
                    .cloned()
                    .unwrap_or_else(|| slot.clone()),
            ),
            no_match: prompts,
            retries,
            next,
            fail,
            then_global_no_match: true,
        }))
    }

    fn api(&mut self, cx: &Lines<'_>, id: String, node: &Value) -> Result<Block, String> {
        let data = node.get("action_data").unwrap_or(node);
        let integration = text_of(node.get("selected_integration")).unwrap_or_default();
        if !integration.is_empty() && integration != "Custom API" {
            return Err(format!("the `{integration}` integration"));
        }
        let Some(mut url) = text_of(data.get("url")) else {
            return Err("an API call without a URL".to_owned());
        };
        let pairs = |key: &str| -> Vec<(String, String)> {
            items(data.get(key))
                .filter_map(|p| Some((text_of(p.get("key"))?, text_of(p.get("val"))?)))
                .filter(|(k, _)| !k.is_empty())
                .collect()
        };
        let params = pairs("params");
        if !params.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            url.push_str(&query.join("&"));
        }
        let mut headers: BTreeMap<String, String> = pairs("headers").into_iter().collect();
        let body = match text_of(data.get("bodyInputType")).as_deref() {
            Some("rawInput") => text_of(data.get("content")).filter(|c| !c.is_empty()),
            Some("formData" | "urlEncoded") => {
                let form = pairs("body");
                (!form.is_empty()).then(|| {
                    headers
                        .entry("content-type".to_owned())
                        .or_insert_with(|| "application/x-www-form-urlencoded".to_owned());
                    form.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("&")
                })
            }
            _ => None,
        };
        let mappings = items(data.get("mapping").or_else(|| data.get("mappings")))
            .filter_map(|m| {
                let variable = text_of(m.get("var"))?;
                let path = text_of(m.get("path"))?;
                self.variables.insert(variable.clone());
                // Voiceflow's paths start at `response` (the body).
                let path = path
                    .strip_prefix("response.")
                    .or_else(|| path.strip_prefix("response"))
                    .unwrap_or(&path)
                    .to_owned();
                Some(Mapping { path, variable })
            })
            .collect();
        Ok(Block::ApiCall(ApiCallBlock {
            id,
            method: text_of(data.get("method")).unwrap_or_else(|| "GET".to_owned()),
            url,
            headers,
            body,
            timeout_ms: 10_000,
            mappings,
            success: cx.next(node.get("success_id")),
            failure: cx.next(node.get("fail_id")),
        }))
    }
}

/// A node's own no-match: its prompts (`noMatch.prompts`, or the older `noMatches`) and its
/// else path (`noMatch.nodeID`, or the older `elseId`).
fn no_match(cx: &Lines<'_>, node: &Value) -> Option<Reprompts> {
    let own = node.get("noMatch").filter(|n| n.is_object());
    let prompts: Vec<String> = items(
        own.and_then(|n| n.get("prompts"))
            .or_else(|| node.get("noMatches")),
    )
    .filter_map(prompt_text)
    .filter(|p| !p.trim().is_empty())
    .collect();
    let next = cx.next(
        own.and_then(|n| n.get("nodeID"))
            .or_else(|| node.get("elseId")),
    );
    let randomize = own
        .and_then(|n| n.get("randomize"))
        .or_else(|| node.get("randomize"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    (!prompts.is_empty() || next.is_some()).then_some(Reprompts {
        prompts,
        next,
        randomize,
    })
}

/// A node's own no-reply: `noReply.timeout`, `prompts`, `nodeID` (or the older `reprompt`).
fn no_reply(cx: &Lines<'_>, node: &Value) -> Option<OwnNoReply> {
    let own = node.get("noReply").filter(|n| n.is_object());
    let prompts: Vec<String> = items(own.and_then(|n| n.get("prompts")))
        .chain(node.get("reprompt"))
        .filter_map(prompt_text)
        .filter(|p| !p.trim().is_empty())
        .collect();
    let next = cx.next(own.and_then(|n| n.get("nodeID")));
    let timeout = own
        .and_then(|n| n.get("timeout"))
        .and_then(Value::as_u64)
        .and_then(|t| u32::try_from(t).ok());
    (!prompts.is_empty() || next.is_some() || timeout.is_some()).then_some(OwnNoReply {
        timeout,
        prompts,
        next,
    })
}

/// The nodes of one program, for following links.
struct Lines<'a> {
    lines: &'a BTreeMap<String, &'a Value>,
}

impl Lines<'_> {
    /// A node that is only a link: a start, a go-to-block within its diagram.
    fn is_alias(&self, node: &Value) -> bool {
        match text_of(node.get("type")).as_deref() {
            Some("start") => true,
            // Within its own diagram: the target is one of these lines.
            Some("goToNode") => {
                text_of(node.get("nextId")).is_some_and(|n| self.lines.contains_key(&n))
            }
            _ => false,
        }
    }

    /// A link's block, through starts and go-to-blocks; `None` for a null link.
    fn next(&self, link: Option<&Value>) -> Option<String> {
        let mut id = text_of(link)?;
        // Bounded: a cycle of links is cut after as many steps as there are nodes.
        for _ in 0..=self.lines.len() {
            let Some(node) = self.lines.get(&id) else {
                return Some(id);
            };
            if !self.is_alias(node) {
                return Some(id);
            }
            id = text_of(node.get("nextId"))?;
        }
        Some(id)
    }

    /// As [`Lines::next`], with a null link ending the flow.
    fn target(&self, link: Option<&Value>) -> String {
        self.next(link).unwrap_or_else(|| END.to_owned())
    }
}

/// A block that only goes on (a node with nothing to do): a condition that is always true.
fn alias_block(id: &str, next: Option<String>) -> Block {
    Block::Condition(ConditionBlock {
        id: id.to_owned(),
        branches: vec![Branch {
            condition: "true".to_owned(),
            next: next.unwrap_or_else(|| END.to_owned()),
        }],
        otherwise: None,
    })
}

/// The block a jump starts at, in a flow already converted (starts resolved by the caller).
fn resolve_in(flow: &Flow, node: &str) -> String {
    if flow.blocks.iter().any(|b| b.id() == node) {
        node.to_owned()
    } else {
        flow.start.clone()
    }
}

/// Whether a card or carousel waits for a click (`isBlocking`).
fn blocking(node: &Value) -> bool {
    node.get("isBlocking").and_then(Value::as_bool) == Some(true)
}

/// An expression as Voiceflow stores it: a string, or a bare number.
fn expression(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "undefined".to_owned(),
        other => other.to_string(),
    }
}

fn text_of(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn items(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_array).into_iter().flatten()
}

/// A prompt: a string, slate, or `{ content }` of either.
fn prompt_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(_) => Some(slate_markdown(value)),
        Value::Object(map) => map.get("content").and_then(prompt_text),
        _ => None,
    }
}

/// Slate (Voiceflow's rich text: paragraphs of leaves with marks, links) as the markdown
/// subset Parley's text blocks speak: `**bold**`, `*italic*`, `~~struck~~`, `[text](url)`.
/// Variables (`{name}`) are text and stay as they are.
pub(crate) fn slate_markdown(slate: &Value) -> String {
    fn inline(node: &Value, out: &mut String) {
        if let Some(text) = node.get("text").and_then(Value::as_str) {
            let bold = node.get("fontWeight").and_then(Value::as_str) == Some("700")
                || node.get("bold").and_then(Value::as_bool) == Some(true);
            let italic = node.get("italic").and_then(Value::as_bool) == Some(true);
            let struck = node.get("strikeThrough").and_then(Value::as_bool) == Some(true);
            let (lead, rest) = text.split_at(text.len() - text.trim_start().len());
            let trimmed = rest.trim_end();
            let trail = &rest[trimmed.len()..];
            out.push_str(lead);
            if !trimmed.is_empty() {
                let marks = [(struck, "~~"), (bold, "**"), (italic, "*")];
                for (on, m) in marks {
                    if on {
                        out.push_str(m);
                    }
                }
                out.push_str(trimmed);
                for (on, m) in marks.iter().rev() {
                    if *on {
                        out.push_str(m);
                    }
                }
            }
            out.push_str(trail);
            return;
        }
        let children = node.get("children").and_then(Value::as_array);
        if node.get("type").and_then(Value::as_str) == Some("link") {
            let mut label = String::new();
            for child in children.into_iter().flatten() {
                inline(child, &mut label);
            }
            let url = node.get("url").and_then(Value::as_str).unwrap_or_default();
            out.push_str(&format!("[{label}]({url})"));
            return;
        }
        for child in children.into_iter().flatten() {
            inline(child, out);
        }
    }
    match slate {
        Value::String(s) => s.clone(),
        Value::Array(paragraphs) => paragraphs
            .iter()
            .map(|p| {
                let mut line = String::new();
                inline(p, &mut line);
                line
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => {
            let mut line = String::new();
            inline(other, &mut line);
            line
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slate_to_markdown() {
        let slate = json!([
            { "children": [{ "text": "Hi " }, { "text": "{name}", "fontWeight": "700" }, { "text": "!" }] },
            { "children": [{ "type": "link", "url": "https://x.example", "children": [{ "text": "menu", "italic": true }] }] }
        ]);
        assert_eq!(
            slate_markdown(&slate),
            "Hi **{name}**!\n[*menu*](https://x.example)"
        );
    }

    #[test]
    fn utterances_name_their_slots() {
        let mut cx = Importer {
            slot_names: [("k1".to_owned(), "size".to_owned())].into_iter().collect(),
            slot_entities: BTreeMap::new(),
            slot_variables: BTreeMap::new(),
            variables: BTreeSet::new(),
            unsupported: Vec::new(),
            global_intents: BTreeSet::new(),
            intents: BTreeSet::new(),
            jumps: Vec::new(),
        };
        assert_eq!(cx.utterance("a {{[size].k1}} pizza"), "a {size} pizza");
        assert_eq!(cx.utterance("a {{[other].zz}} one {{"), "a {other} one {{");
        cx.slot_names.clear();
    }

    #[test]
    fn not_voiceflow_is_refused() {
        let e = import(r#"{ "id": "p", "name": "P", "versions": [] }"#).unwrap_err();
        assert!(e.contains("programs"), "{e}");
    }
}
