//! dynhost's UCI sections translated into the spanned tree the config walker validates.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::network::resolve;
use super::{Opt, Problem, Section};
use crate::config::SETTINGS;
use crate::config::checks::suggest;
use crate::config::settings::{Kind, Setting};

/// Translates dynhost's UCI sections into the tree the config walker validates: a
/// `config dynhost` option goes where its setting's key says (`url` to
/// `provider.url`), a `config record` section becomes a `[[record]]`. Record
/// interfaces that name a logical interface in `network` become its device; `aliases`
/// receives (record index, logical name) for each such mapping.
pub fn to_table(
    sections: &[Section],
    network: &[Section],
    aliases: &mut Vec<(usize, String)>,
) -> (DeTable<'static>, Vec<Problem>) {
    let not_asked = |_: &str| Err("netifd is not asked".to_string());
    to_table_asking(sections, network, &not_asked, aliases, &mut Vec::new())
}

/// `to_table`, asking `netifd` for each record interface's device first; the notes
/// say where a guess stood in for its answer.
pub fn to_table_asking(
    sections: &[Section],
    network: &[Section],
    netifd: &dyn Fn(&str) -> Result<String, String>,
    aliases: &mut Vec<(usize, String)>,
    notes: &mut Vec<String>,
) -> (DeTable<'static>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut root = DeTable::new();
    let mut tables: Vec<(&'static str, DeTable<'static>)> = Vec::new();
    let mut records = DeArray::new();
    let mut seen_global = false;
    let key = |k: &str, span: &Range<usize>| Spanned::new(span.clone(), Cow::Owned(k.to_string()));
    let globals: Vec<&'static Setting> = SETTINGS.iter().filter(|s| !s.is_record()).collect();
    for s in sections {
        match s.kind.as_str() {
            "dynhost" => {
                if seen_global {
                    problems.push((
                        s.span.clone(),
                        "only one 'config dynhost' section is allowed".into(),
                    ));
                }
                seen_global = true;
                for o in &s.options {
                    let Some(setting) = globals.iter().find(|g| g.uci == o.name) else {
                        let names: Vec<&str> = globals.iter().map(|g| g.uci).collect();
                        let hint = suggest(&o.name, &names, "");
                        problems.push((
                            o.name_span.clone(),
                            format!("{}: unknown option{hint}", o.name),
                        ));
                        continue;
                    };
                    let Some(value) = single(o, setting, &mut problems) else {
                        continue;
                    };
                    let leaf = key(setting.leaf(), &o.name_span);
                    match setting.section() {
                        "" => {
                            root.insert(leaf, value);
                        }
                        section => {
                            let i = match tables.iter().position(|(n, _)| *n == section) {
                                Some(i) => i,
                                None => {
                                    tables.push((section, DeTable::new()));
                                    tables.len() - 1
                                }
                            };
                            tables[i].1.insert(leaf, value);
                        }
                    }
                }
            }
            "record" => {
                let mut t = DeTable::new();
                for o in &s.options {
                    let setting = SETTINGS.iter().find(|r| r.is_record() && r.uci == o.name);
                    // An unknown option is kept: the walker reports it with the others.
                    let Some(mut value) = single_any(o, setting, &mut problems) else {
                        continue;
                    };
                    if o.name == "interface"
                        && let DeValue::String(name) = value.get_ref()
                        && let Some(dev) = resolve(name, network, netifd, notes)
                    {
                        aliases.push((records.len(), name.to_string()));
                        value = Spanned::new(value.span(), DeValue::String(Cow::Owned(dev)));
                    }
                    let name = setting.map_or(o.name.as_str(), |s| s.leaf());
                    t.insert(key(name, &o.name_span), value);
                }
                records.push(Spanned::new(s.span.clone(), DeValue::Table(t)));
            }
            other => problems.push((
                s.span.clone(),
                format!("unknown section type {other:?} (expected 'dynhost' or 'record')"),
            )),
        }
    }
    for (name, table) in tables {
        root.insert(
            key(name, &(0..0)),
            Spanned::new(0..0, DeValue::Table(table)),
        );
    }
    if !records.is_empty() {
        root.insert(
            key("record", &(0..0)),
            Spanned::new(0..0, DeValue::Array(records)),
        );
    }
    (root, problems)
}

fn single(o: &Opt, s: &Setting, problems: &mut Vec<Problem>) -> Option<Spanned<DeValue<'static>>> {
    single_any(o, Some(s), problems)
}

/// The one value of an `option` line as a spanned TOML value (booleans for the
/// boolean settings, strings otherwise).
fn single_any(
    o: &Opt,
    setting: Option<&Setting>,
    problems: &mut Vec<Problem>,
) -> Option<Spanned<DeValue<'static>>> {
    let listed = setting.is_some_and(|s| {
        matches!(
            s.kind,
            Kind::Sources(_)
                | Kind::Urls
                | Kind::Hosts { many: true }
                | Kind::Strings { many: true, .. }
        )
    });
    if o.list && listed {
        // `list ipv4_source 'gateway'` then `list ipv4_source 'web'`: one array.
        let start = o.values.first()?.1.start;
        let items = o
            .values
            .iter()
            .map(|(v, span)| Spanned::new(span.clone(), DeValue::String(Cow::Owned(v.clone()))))
            .collect();
        return Some(Spanned::new(start..start, DeValue::Array(items)));
    }
    if o.list {
        problems.push((
            o.name_span.clone(),
            format!(
                "{}: 'list' is not used by dynhost; write 'option {}'",
                o.name, o.name
            ),
        ));
        return None;
    }
    let (v, span) = o.values.first()?;
    let value = if setting.is_some_and(|s| matches!(s.kind, Kind::Bool)) {
        match v.as_str() {
            "1" | "yes" | "on" | "true" | "enabled" => DeValue::Boolean(true),
            "0" | "no" | "off" | "false" | "disabled" => DeValue::Boolean(false),
            _ => DeValue::String(Cow::Owned(v.clone())),
        }
    } else {
        DeValue::String(Cow::Owned(v.clone()))
    };
    Some(Spanned::new(span.clone(), value))
}
