//! Imports among the library's modules run one way, bottom to top:
//!
//! primitives → vocabulary → mechanisms → sessions → adapters → C ABI
//!
//! Each module of `src/` is placed in a layer below; a module may name (`crate::x`, in a `use`
//! or in a path) only modules of its own layer or lower ones, and the modules together must
//! form no cycle. Names re-exported at the crate root (`crate::Answer`) count as the module
//! that defines them. Test code (`#[cfg(test)]` modules) is left out: a mechanism's tests may
//! drive real sessions.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom first, and the top-level modules in each.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "primitives",
        &["error", "secret", "b64", "saslprep", "crypto"],
    ),
    (
        "vocabulary",
        &[
            "mechanism",
            "channel_binding",
            "nonce",
            "keys",
            "request",
            "config",
            "credentials",
        ],
    ),
    ("mechanisms", &["mech"]),
    ("sessions", &["server", "client"]),
    ("adapters", &["proto"]),
    ("C ABI", &["ffi"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for `lib.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs");
    (name != "lib").then(|| name.to_owned())
}

/// The code of a file without comments, test modules and files declared `#[cfg(test)]`.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|n| n.trim_start().starts_with("mod ") && n.trim_end().ends_with('{'))
        {
            // A test module: skip to its closing brace at the same indentation.
            let indent = line.len() - t.len();
            let close = format!("{}}}", " ".repeat(indent));
            for l in lines.by_ref() {
                if l == close {
                    break;
                }
            }
            continue;
        }
        let without_comment = match t.find("//") {
            Some(i) => &t[..i],
            None => t,
        };
        out.push_str(without_comment);
        out.push('\n');
    }
    out
}

/// Files declared as test-only modules (`#[cfg(test)] mod name;`).
fn test_only_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for f in files {
        let text = fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for w in lines.windows(2) {
            if let [attr, decl] = w
                && attr.starts_with("#[cfg(test)]")
                && let Some(name) = decl
                    .strip_prefix("mod ")
                    .or(decl.strip_prefix("pub(crate) mod "))
                    .and_then(|d| d.strip_suffix(';'))
            {
                let dir = if f.ends_with("mod.rs") || f.ends_with("lib.rs") {
                    f.parent().unwrap().to_path_buf()
                } else {
                    f.with_extension("")
                };
                out.insert(dir.join(format!("{name}.rs")));
            }
        }
    }
    out
}

/// `crate::<name>` references in `code`, `crate::{a, b::c}` groups included.
fn crate_refs(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        // `crate::` must start a path (not `saslmech_crate::`).
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // A group: the first identifier of each comma-separated path, nesting respected.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => {
                        out.push(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out
}

/// Names `lib.rs` re-exports, and the module each comes from.
fn root_exports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let lib: String = lib.split_whitespace().collect::<Vec<_>>().join(" ");
    for stmt in lib.split(';') {
        let Some(path) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let (module, names) = path.split_once("::").unwrap();
        let names = names.trim_start_matches('{').trim_end_matches('}');
        for n in names.split(',') {
            let n = n.trim();
            let n = n.rsplit(" as ").next().unwrap().trim();
            let n = n.rsplit("::").next().unwrap();
            if !n.is_empty() {
                out.insert(n.to_owned(), module.trim().to_owned());
            }
        }
    }
    out
}

/// The module graph: module → modules it names (outside its own tree).
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let exports = root_exports(&fs::read_to_string(src.join("lib.rs")).unwrap());
    let tests = test_only_files(&files);
    let mut g: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in &files {
        let Some(module) = module_of(&src, f) else {
            continue;
        };
        let edges = g.entry(module.clone()).or_default();
        if tests.contains(f) {
            continue;
        }
        let rel = f.strip_prefix(root).unwrap().display().to_string();
        for name in crate_refs(&code(&fs::read_to_string(f).unwrap())) {
            let target = exports.get(&name).cloned().unwrap_or(name);
            if target != module {
                edges.entry(target).or_insert_with(|| rel.clone());
            }
        }
    }
    g
}

#[test]
fn every_module_has_a_layer() {
    for module in graph().keys() {
        assert!(
            layer_of(module).is_some(),
            "src/{module}: place it in a layer in tests/layers.rs"
        );
    }
}

#[test]
fn imports_run_down_the_layers() {
    let mut wrong = Vec::new();
    for (module, edges) in graph() {
        let Some(from) = layer_of(&module) else {
            continue;
        };
        for (target, file) in edges {
            let Some(to) = layer_of(&target) else {
                wrong.push(format!("{file}: names crate::{target}, which is no module"));
                continue;
            };
            if to > from {
                wrong.push(format!(
                    "{file}: {module} ({}) names crate::{target} ({}), a layer above it",
                    LAYERS[from].0, LAYERS[to].0
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_import_cycle() {
    let g = graph();
    // Depth-first search; a node met again while on the stack closes a cycle.
    fn visit(
        g: &BTreeMap<String, BTreeMap<String, String>>,
        node: &str,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in g.get(node).into_iter().flat_map(|e| e.keys()) {
            if let Some(c) = visit(g, next, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in g.keys() {
        if let Some(cycle) = visit(&g, node, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_checker_sees_a_mechanism_importing_a_session() {
    // The parser finds what a careless edit would add.
    let refs = crate_refs(&code(
        "use crate::server::ServerSession;\nuse crate::{b64, config::ServerConfig};\n// crate::ffi\nlet _ = crate::ServerSession::new;",
    ));
    assert_eq!(refs, ["server", "b64", "config", "ServerSession"]);
    let exports = root_exports("pub use server::{ServerSession, ServerStep};\npub use x::Y as Z;");
    assert_eq!(
        exports.get("ServerSession").map(String::as_str),
        Some("server")
    );
    assert_eq!(exports.get("Z").map(String::as_str), Some("x"));
    assert!(layer_of("server") > layer_of("mech"));
}
