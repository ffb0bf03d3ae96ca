//! OpenWrt's UCI format (`/etc/config/dynhost`), read directly so that the init script
//! stays a few lines of procd boilerplate. Pure: text in, sections out, then a
//! translation into the same spanned tree the TOML walker validates, so that both
//! formats get the same checks and the same located errors.
//!
//! ```text
//! config dynhost 'global'
//!     option debounce '1s'
//! config record 'home'
//!     option hostname 'home.example.com'
//!     option interface 'wan'        # a logical name: mapped to its device (pppoe-wan)
//! ```

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::checks::suggest;
use super::settings::{Kind, SETTINGS, Setting};

/// One `option` or `list` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub name: String,
    pub name_span: Range<usize>,
    /// Values with their spans; one for `option`, any number for `list`.
    pub values: Vec<(String, Range<usize>)>,
    pub list: bool,
}

/// One `config TYPE ['NAME']` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub kind: String,
    pub name: Option<String>,
    pub span: Range<usize>,
    pub options: Vec<Opt>,
}

impl Section {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|o| o.name == name && !o.list)
            .and_then(|o| o.values.first())
            .map(|(v, _)| v.as_str())
    }
}

/// A problem at a place in the text.
pub type Problem = (Range<usize>, String);

/// Whether `text` looks like UCI rather than TOML: its first statement is
/// `config`/`package` followed by a word, with no `=`.
pub fn looks_like_uci(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| {
            let word = l.split_whitespace().next().unwrap_or("");
            // uci also takes the one-letter forms.
            let short = matches!(word, "c" | "p") && l.split_whitespace().nth(1).is_some();
            (word == "config" || word == "package" || short) && !l.contains('=')
        })
}

/// Parses UCI text exactly as uci reads it, so that dynhost sees the sections and
/// options the init script sees through `config_load`: the same quoting (multi-line
/// quoted values, backslash line continuations, `#` and `;` anywhere a word may end),
/// the same one-letter commands, and the same results for repeated names (a section
/// named twice is one section; a repeated option replaces; `list` after `option` makes
/// a list; an empty `option` value does nothing).
///
/// Everything that strict uci rejects is a problem at its place, worded for the
/// operator. The non-strict reader of `config_load` skips such a line silently (a
/// section whose name it rejects is never opened, and its options land in the
/// previous section), so a file with problems is never used. After a problem the
/// reader goes on at the next line, as uci does, so that all of them are reported.
pub fn parse(text: &str) -> (Vec<Section>, Vec<Problem>) {
    let mut r = Reader {
        text: text.as_bytes(),
        next_line: 0,
        buf: Vec::new(),
        at: Vec::new(),
        pos: 0,
        sections: Vec::new(),
        current: None,
        problems: Vec::new(),
    };
    // uci reads a NUL byte as the end of its line buffer and then the rest of the line
    // as a new one; nobody writes that on purpose.
    let nul: Vec<Problem> = text
        .match_indices('\0')
        .map(|(i, _)| (i..i + 1, "a NUL byte: this is not a text file".to_string()))
        .collect();
    if !nul.is_empty() {
        return (Vec::new(), nul);
    }
    while r.next_line < text.len() {
        r.buf.clear();
        r.at.clear();
        r.pos = 0;
        r.getln(0);
        if let Err(p) = r.line() {
            r.problems.push(p);
        }
    }
    // A problem found at a byte inside a multi-byte character covers the character.
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let ceil = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    for (span, _) in &mut r.problems {
        *span = floor(span.start)..ceil(span.end.max(span.start));
    }
    (r.sections, r.problems)
}

/// libuci's reader, step for step: a buffer holding the current line (and the lines a
/// quote or a continuation pulls in), a read position, and words compacted in place.
/// `at` maps each buffer byte back to its offset in the text, for spans.
struct Reader<'t> {
    text: &'t [u8],
    next_line: usize,
    buf: Vec<u8>,
    at: Vec<usize>,
    pos: usize,
    sections: Vec<Section>,
    current: Option<usize>,
    problems: Vec<Problem>,
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// uci's rule for names (sections, options): letters, digits and `_` (they become
/// shell variable names in `config_load`). Types may also hold any other printable
/// ASCII but space; a package name may hold `-`.
fn is_ident(s: &str, kind: Ident) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || c == b'_'
                || (c == b'-' && kind == Ident::Package)
                || (kind != Ident::Name && (33..=126).contains(&c))
        })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ident {
    Name,
    Type,
    Package,
}

type Step<T> = Result<T, Problem>;

impl Reader<'_> {
    fn cur(&self) -> u8 {
        self.byte(self.pos)
    }

    fn byte(&self, i: usize) -> u8 {
        self.buf.get(i).copied().unwrap_or(0)
    }

    fn put(&mut self, i: usize, c: u8) {
        if let Some(b) = self.buf.get_mut(i) {
            *b = c;
        }
    }

    /// The text offset of buffer position `i` (the last byte's, past the end).
    fn origin(&self, i: usize) -> usize {
        match self.at.get(i).or(self.at.last()) {
            Some(&o) if i < self.at.len() => o,
            Some(&o) => o + 1,
            None => self.next_line,
        }
    }

    /// A problem at the read position, on the line uci would name.
    fn fail<T>(&self, message: String) -> Step<T> {
        let i = self.pos.min(self.buf.len().saturating_sub(1));
        let o = self.origin(i);
        Err((o..o + 1, message))
    }

    /// Reads the next line of the text into the buffer at `offset`, replacing what
    /// was there (uci_getln). At the end of the text the buffer ends at `offset`.
    fn getln(&mut self, offset: usize) {
        let rest = &self.text[self.next_line.min(self.text.len())..];
        if rest.is_empty() {
            self.put(offset, 0);
            return;
        }
        let len = rest
            .iter()
            .position(|&c| c == b'\n')
            .map_or(rest.len(), |i| i + 1);
        self.buf.truncate(offset);
        self.at.truncate(offset);
        self.buf.extend_from_slice(&rest[..len]);
        self.at.extend(self.next_line..self.next_line + len);
        self.next_line += len;
    }

    fn skip_space(&mut self) {
        while self.cur() != 0 && is_space(self.cur()) {
            self.pos += 1;
        }
    }

    fn addc(&mut self, target: &mut usize) {
        let c = self.cur();
        self.put(*target, c);
        *target += 1;
        self.pos += 1;
    }

    /// After a backslash: false when it ended the line, which then continues with the
    /// next one.
    fn backslash(&mut self) -> bool {
        self.pos += 1;
        let c = self.cur();
        let crlf_end =
            c == b'\r' && self.byte(self.pos + 1) == b'\n' && self.byte(self.pos + 2) == 0;
        if c == 0 || c == b'\n' || crlf_end {
            self.getln(self.pos);
            return false;
        }
        true
    }

    fn quoted(&mut self, quote: u8, target: &mut usize) -> Step<()> {
        self.pos += 1;
        loop {
            match self.cur() {
                c if c == quote => {
                    self.pos += 1;
                    return Ok(());
                }
                0 => {
                    // The value goes on over the next line.
                    self.getln(self.pos);
                    if self.cur() == 0 {
                        let q = quote as char;
                        return self.fail(format!(
                            "the text ends inside a value quoted with {q}: close the quote"
                        ));
                    }
                }
                b'\\' if quote == b'"' => {
                    if self.backslash() {
                        self.addc(target);
                    }
                }
                _ => self.addc(target),
            }
        }
    }

    /// One word, compacted in place from `target` (uci's parse_str). Returns the read
    /// position where it ended.
    fn word(&mut self, target: &mut usize) -> Step<usize> {
        let mut next = true;
        loop {
            match self.cur() {
                b'\'' => self.quoted(b'\'', target)?,
                b'"' => self.quoted(b'"', target)?,
                b'#' => {
                    self.put(self.pos, 0);
                    break;
                }
                0 => break,
                b';' => {
                    next = false;
                    break;
                }
                b'\\' => {
                    if self.backslash() {
                        self.addc(target);
                    }
                }
                _ => self.addc(target),
            }
            let c = self.cur();
            if c == 0 || is_space(c) {
                break;
            }
        }
        let end = self.pos;
        if self.cur() != 0 && next {
            self.pos += 1;
        }
        self.put(*target, 0);
        Ok(end)
    }

    /// The next argument and its span in the text; empty when there is none.
    fn arg(&mut self) -> Step<(String, Range<usize>)> {
        self.skip_space();
        let start = self.pos;
        let from = self.origin(start);
        let mut target = start;
        let end = if self.cur() == b';' {
            self.put(self.pos, 0);
            self.pos += 1;
            start
        } else {
            self.word(&mut target)?
        };
        let end = if end > start {
            self.origin(end - 1) + 1
        } else {
            from
        };
        let bytes = self.buf.get(start..target.max(start)).unwrap_or(&[]);
        let text = String::from_utf8_lossy(bytes).into_owned();
        Ok((text, from..end))
    }

    fn name(&mut self, what: &str, kind: Ident) -> Step<(String, Range<usize>)> {
        let (name, span) = self.arg()?;
        if name.is_empty() {
            return self.fail(format!("{what} is missing"));
        }
        if !is_ident(&name, kind) {
            let allowed = match kind {
                Ident::Name => "letters, digits and _",
                Ident::Package => "letters, digits, _ and -",
                Ident::Type => "printable characters other than space",
            };
            return Err((
                span,
                format!("{what} {name:?} is refused by uci, which allows only {allowed}"),
            ));
        }
        Ok((name, span))
    }

    fn end_of_command(&mut self, keyword: &str) -> Step<()> {
        self.skip_space();
        let (extra, span) = self.arg()?;
        if extra.is_empty() {
            return Ok(());
        }
        Err((
            span,
            format!(
                "too many words after '{keyword}': {extra:?} (quote a value that holds spaces)"
            ),
        ))
    }

    /// One line (with what it pulls in), command by command (uci_parse_line).
    fn line(&mut self) -> Step<()> {
        self.skip_space();
        loop {
            let mut s = self.pos;
            while matches!(self.byte(s), b' ' | b'\t') {
                s += 1;
            }
            if self.byte(s) == 0 {
                return Ok(());
            }
            let mut e = s;
            while !matches!(self.byte(e), 0 | b' ' | b'\t') {
                e += 1;
            }
            let word = self.buf[s..e].to_vec();
            self.put(e, 0);
            let kspan = self.origin(s)..self.origin(e - 1) + 1;
            let keyword = match &word[..] {
                [b'#', ..] => return Ok(()),
                b"p" | b"package" => "package",
                b"c" | b"config" => "config",
                b"o" | b"option" => "option",
                b"l" | b"list" => "list",
                _ => {
                    let shown = String::from_utf8_lossy(&word);
                    return Err((
                        kspan,
                        format!(
                            "unknown command {:?} (expected config, option or list)",
                            shown.trim_end()
                        ),
                    ));
                }
            };
            if (keyword == "option" || keyword == "list") && self.current.is_none() {
                return Err((kspan, format!("'{keyword}' before any 'config' section")));
            }
            if e + 1 > self.buf.len() {
                return Err((kspan, format!("'{keyword}' without anything after it")));
            }
            self.pos = e + 1;
            match keyword {
                "package" => {
                    self.name("the package name", Ident::Package)?;
                    self.end_of_command(keyword)?;
                }
                "config" => self.config(kspan)?,
                _ => self.option(keyword == "list")?,
            }
        }
    }

    fn config(&mut self, kspan: Range<usize>) -> Step<()> {
        let (kind, _) = self.name("the section type", Ident::Type)?;
        let (name, nspan) = self.arg()?;
        if !name.is_empty() && !is_ident(&name, Ident::Name) {
            return Err((
                nspan,
                format!(
                    "section name {name:?} is refused by uci, which allows only letters, \
                     digits and _; uci would read this section's options into the previous \
                     section. Rename it, e.g. {:?}",
                    name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_")
                ),
            ));
        }
        self.end_of_command("config")?;
        let last = self.origin(self.pos.min(self.buf.len()).saturating_sub(1)) + 1;
        let span = kspan.start..trim_end(self.text, kspan.start..last.max(kspan.end));
        let existing = (!name.is_empty())
            .then(|| {
                self.sections
                    .iter()
                    .position(|s| s.name.as_deref() == Some(&name))
            })
            .flatten();
        match existing {
            // A name given twice is one section: uci adds the second one's options to it.
            Some(i) => {
                self.current = Some(i);
                let before = &self.sections[i].kind;
                if *before != kind {
                    let msg = format!(
                        "section {name:?} was defined before with type {before:?}: uci would \
                         turn it into a {kind:?} section"
                    );
                    self.sections[i].kind = kind;
                    return Err((span, msg));
                }
            }
            None => {
                self.sections.push(Section {
                    kind,
                    name: (!name.is_empty()).then_some(name),
                    span,
                    options: Vec::new(),
                });
                self.current = Some(self.sections.len() - 1);
            }
        }
        Ok(())
    }

    fn option(&mut self, list: bool) -> Step<()> {
        let (name, name_span) = self.name("the option name", Ident::Name)?;
        let value = self.arg()?;
        self.end_of_command(if list { "list" } else { "option" })?;
        let Some(section) = self.current.and_then(|i| self.sections.get_mut(i)) else {
            return Ok(());
        };
        let options = &mut section.options;
        let found = options.iter().position(|o| o.name == name);
        let fresh = |values| Opt {
            name: name.clone(),
            name_span: name_span.clone(),
            values,
            list,
        };
        match (found, list) {
            // uci ignores an option set to nothing.
            (_, false) if value.0.is_empty() => {}
            (Some(i), false)
                if !options[i].list
                    && options[i].values.first().map(|v| &v.0) == Some(&value.0) => {}
            // A new value replaces the old one (a list too), at the end.
            (Some(i), false) => {
                options.remove(i);
                options.push(fresh(vec![value]));
            }
            (Some(i), true) if options[i].list => options[i].values.push(value),
            // `list` after `option`: a list of the old value and the new one, at the end.
            (Some(i), true) => {
                let old = options.remove(i);
                let mut values = old.values;
                values.push(value);
                options.push(fresh(values));
            }
            (None, _) => options.push(fresh(vec![value])),
        }
        Ok(())
    }
}

/// `span` without the blanks and newline at its end.
fn trim_end(text: &[u8], span: Range<usize>) -> usize {
    let mut end = span.end.min(text.len());
    while end > span.start && is_space(text[end - 1]) {
        end -= 1;
    }
    end
}

/// The kernel device behind an OpenWrt logical interface (`wan` → `pppoe-wan`), guessed
/// from `/etc/config/network` the way netifd names devices. `None` if `name` is not a
/// logical interface there (it is then taken as a device name); `Some(Err(proto))` for
/// a logical interface whose device only netifd knows (a modem's `wwan0` behind qmi).
pub fn device_of(network: &[Section], name: &str) -> Option<Result<String, String>> {
    device_of_depth(network, name, 0)
}

fn device_of_depth(
    network: &[Section],
    name: &str,
    depth: usize,
) -> Option<Result<String, String>> {
    let s = network
        .iter()
        .rev()
        .find(|s| s.kind == "interface" && s.name.as_deref() == Some(name))?;
    let proto = s.get("proto").unwrap_or("none");
    // netifd names the devices of PPP and tunnel protocols "<prefix>-<interface>".
    const NAMED_BY_PROTO: &[(&str, &str)] = &[
        ("pppoe", "pppoe"),
        ("pppoa", "pppoa"),
        ("pptp", "pptp"),
        ("l2tp", "l2tp"),
        ("ppp", "ppp"),
        ("3g", "3g"),
        ("6in4", "6in4"),
        ("6to4", "6to4"),
        ("6rd", "6rd"),
        ("dslite", "ds"),
        ("map", "map"),
        ("464xlat", "464"),
    ];
    if let Some((_, prefix)) = NAMED_BY_PROTO.iter().find(|(p, _)| *p == proto) {
        return Some(Ok(format!("{prefix}-{name}")));
    }
    if proto == "wireguard" {
        return Some(Ok(name.to_string()));
    }
    // Modems: the device appears when the modem connects.
    if ["qmi", "mbim", "ncm", "modemmanager"].contains(&proto) {
        return Some(Err(proto.to_string()));
    }
    if s.get("type") == Some("bridge") {
        return Some(Ok(format!("br-{name}")));
    }
    let dev = s.get("device").or_else(|| s.get("ifname"))?;
    match dev.strip_prefix('@') {
        // An alias (wan6 on top of wan): the other interface's device.
        Some(other) if depth < 8 => device_of_depth(network, other, depth + 1),
        Some(_) => None,
        None => Some(Ok(dev.split_whitespace().next().unwrap_or(dev).to_string())),
    }
}

/// The device a record's `interface` names: netifd's own answer while it runs, else
/// the guess from `/etc/config/network` (with a note for the log), else the name itself.
fn resolve(
    name: &str,
    network: &[Section],
    netifd: &dyn Fn(&str) -> Result<String, String>,
    notes: &mut Vec<String>,
) -> Option<String> {
    let guess = device_of(network, name);
    match (netifd(name), guess) {
        (Ok(dev), _) => Some(dev),
        (Err(_), None) => None,
        (Err(why), Some(Ok(dev))) => {
            notes.push(format!(
                "interface {name:?}: {why}; following {dev:?}, the device netifd normally \
                 gives it. dynhost asks netifd again at the next reload"
            ));
            Some(dev)
        }
        (Err(why), Some(Err(proto))) => {
            notes.push(format!(
                "interface {name:?}: {why}, and a {proto} interface's device cannot be \
                 guessed; following {name:?} until a reload finds the device (the hotplug \
                 script asks for one when the interface comes up), or set the device name"
            ));
            None
        }
    }
}

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
            Kind::Sources(_) | Kind::Urls | Kind::Hosts { many: true }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An /etc/config/dynhost as a user would write it.
    const DYNHOST: &str = r#"
# dynhost: one section per DynHost record.
config dynhost 'global'
	option debounce '2s'
	option state_dir "/var/lib/dynhost"   # tmpfs on OpenWrt

config record 'home'
	option enabled '1'
	option hostname 'home.example.com'
	option username example.com-home
	option password_file '/etc/dynhost/home.secret'
	option interface 'wan'
	option ipv6 '1'

config record
	option enabled 'no'
	option hostname "it's.example.com"
	option username 'a'\''b'
	option password 'p"w\x'
	option interface 'eth0.2'
"#;

    /// A realistic /etc/config/network (trimmed OpenWrt 23.05 default plus PPPoE).
    const NETWORK: &str = r#"
config interface 'loopback'
	option device 'lo'
	option proto 'static'
	option ipaddr '127.0.0.1'

config globals 'globals'
	option ula_prefix 'fd12:3456:789a::/48'

config device
	option name 'br-lan'
	option type 'bridge'
	list ports 'lan1'
	list ports 'lan2'

config interface 'lan'
	option device 'br-lan'
	option proto 'static'
	list dns '192.0.2.53'
	list dns '198.51.100.53'

config interface 'wan'
	option device 'wan'
	option proto 'pppoe'
	option username 'isp-user'
	option password 'isp-secret'
	option ipv6 'auto'

config interface 'wan6'
	option device '@wan'
	option proto 'dhcpv6'

config interface 'iot'
	option ifname 'eth1 eth2'
	option proto 'dhcp'

config interface 'oldlan'
	option type 'bridge'
	option ifname 'eth0'
	option proto 'static'

config interface 'vpn'
	option proto 'wireguard'
"#;

    #[test]
    fn sections_options_quoting_and_comments() {
        let (s, problems) = parse(DYNHOST);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[0].kind.as_str(), s[0].name.as_deref()),
            ("dynhost", Some("global"))
        );
        assert_eq!(s[0].get("state_dir"), Some("/var/lib/dynhost"));
        assert_eq!(s[1].get("username"), Some("example.com-home"));
        assert_eq!(s[2].name, None, "anonymous section");
        assert_eq!(s[2].get("hostname"), Some("it's.example.com"));
        assert_eq!(
            s[2].get("username"),
            Some("a'b"),
            "quoted pieces are joined"
        );
        assert_eq!(s[2].get("password"), Some("p\"w\\x"));
        // Spans point at the value in the text.
        let (v, span) = &s[1].options[1].values[0];
        assert_eq!(&DYNHOST[span.clone()], format!("'{v}'"));
    }

    #[test]
    fn lists_collect_their_values() {
        let (s, problems) = parse(NETWORK);
        assert!(problems.is_empty(), "{problems:?}");
        let lan = s.iter().find(|s| s.name.as_deref() == Some("lan")).unwrap();
        let dns = lan.options.iter().find(|o| o.name == "dns").unwrap();
        assert!(dns.list);
        let values: Vec<&str> = dns.values.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(values, ["192.0.2.53", "198.51.100.53"]);
    }

    #[test]
    fn logical_interfaces_map_to_devices() {
        let (mut net, _) = parse(NETWORK);
        let (more, _) = parse(
            "config interface 'aftr'\n\toption proto 'dslite'\n\
             config interface 'lte'\n\toption proto 'qmi'\n\toption device '/dev/cdc-wdm0'\n\
             config interface 'clat'\n\toption proto '464xlat'\n",
        );
        net.extend(more);
        for (logical, device) in [
            ("wan", Some(Ok("pppoe-wan"))),
            ("wan6", Some(Ok("pppoe-wan"))),
            ("lan", Some(Ok("br-lan"))),
            ("iot", Some(Ok("eth1"))),
            ("oldlan", Some(Ok("br-oldlan"))),
            ("vpn", Some(Ok("vpn"))),
            ("loopback", Some(Ok("lo"))),
            ("aftr", Some(Ok("ds-aftr"))),
            ("clat", Some(Ok("464-clat"))),
            ("lte", Some(Err("qmi"))),
            ("eth0.2", None),
        ] {
            let got = device_of(&net, logical);
            let got = got
                .as_ref()
                .map(|r| r.as_ref().map(String::as_str).map_err(String::as_str));
            assert_eq!(got, device, "{logical}");
        }
        let (loops, _) = parse(
            "config interface 'a'\n\toption device '@b'\nconfig interface 'b'\n\toption device '@a'\n",
        );
        assert_eq!(device_of(&loops, "a"), None, "alias loops end");
    }

    /// netifd's answer wins; a guess stands in for it only with a note; a modem's
    /// device is never guessed.
    #[test]
    fn netifd_is_asked_first() {
        let (net, _) = parse(NETWORK);
        let (more, _) = parse("config interface 'lte'\n\toption proto 'qmi'\n");
        let net: Vec<Section> = net.into_iter().chain(more).collect();
        let netifd = |name: &str| match name {
            "wan" => Ok("pppoe-wan".to_string()),
            "wan_6" => Ok("pppoe-wan".to_string()),
            "lte" | "lan" => Err("netifd reports no device for it (it is down)".to_string()),
            _ => Err("netifd does not know it".to_string()),
        };
        for (name, want, noted) in [
            ("wan", Some("pppoe-wan"), false),
            ("wan_6", Some("pppoe-wan"), false),
            ("lan", Some("br-lan"), true),
            ("lte", None, true),
            ("eth0.2", None, false),
        ] {
            let mut notes = Vec::new();
            assert_eq!(
                resolve(name, &net, &netifd, &mut notes).as_deref(),
                want,
                "{name}"
            );
            assert_eq!(notes.len(), usize::from(noted), "{name}: {notes:?}");
            if noted {
                assert!(notes[0].contains("it is down"), "{notes:?}");
            }
        }
    }

    /// Sections as `uci export` prints them (anonymous ones unnamed), for comparisons.
    pub(crate) fn export(sections: &[Section]) -> String {
        let q = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
        let mut out = String::new();
        for s in sections {
            out.push_str(&format!("config {}", s.kind));
            if let Some(n) = &s.name {
                out.push_str(&format!(" {}", q(n)));
            }
            out.push('\n');
            for o in &s.options {
                let word = if o.list { "list" } else { "option" };
                for (v, _) in &o.values {
                    out.push_str(&format!("\t{word} {} {}\n", o.name, q(v)));
                }
            }
        }
        out
    }

    /// The line of each problem.
    fn lines(text: &str, problems: &[Problem]) -> Vec<usize> {
        problems
            .iter()
            .map(|(span, _)| text[..span.start.min(text.len())].matches('\n').count() + 1)
            .collect()
    }

    /// What uci reads, quirk by quirk (libuci's file parser): the sections as `uci
    /// export` would print them, and the lines strict uci rejects.
    #[test]
    fn reads_what_uci_reads() {
        let cases: &[(&str, &str, &[usize])] = &[
            // Names: letters, digits, _. uci never opens 'my-home' and puts its options
            // into the previous section; dynhost refuses the file.
            (
                "config record 'home'\n\toption a '1'\nconfig record 'my-home'\n\toption b '2'\n",
                "config record 'home'\n\toption a '1'\n\toption b '2'\n",
                &[3],
            ),
            ("config record 'home 2'\n", "", &[1]),
            ("config record 'héme'\n", "", &[1]),
            (
                "config record\n\toption my-opt 'x'\n",
                "config record\n",
                &[2],
            ),
            // Types allow any printable character but space.
            ("config my-type 'a'\n", "config my-type 'a'\n", &[]),
            ("config 'my type' 'a'\n", "", &[1]),
            // A name given twice is one section; another type is refused.
            (
                "config r 'a'\n\toption x '1'\nconfig r 'a'\n\toption y '2'\n",
                "config r 'a'\n\toption x '1'\n\toption y '2'\n",
                &[],
            ),
            ("config r 'a'\nconfig s 'a'\n", "config s 'a'\n", &[2]),
            // Quoting: literal single quotes, double quotes with backslashes, pieces joined.
            (
                "config r\n\toption a 'it'\\''s'\n\toption b \"x\\\"y\\\\z\\n\"\n\toption c 'p\"w\\'\n",
                "config r\n\toption a 'it'\\''s'\n\toption b 'x\"y\\zn'\n\toption c 'p\"w\\'\n",
                &[],
            ),
            // A quoted value may span lines; a backslash at the end of a line continues it.
            (
                "config r\n\toption a 'one\ntwo'\n\toption b abc\\\ndef\n\toption c \"x\\\ny\"\n",
                "config r\n\toption a 'one\ntwo'\n\toption b 'abcdef'\n\toption c 'xy'\n",
                &[],
            ),
            // The text ends inside a quote: refused at the last line.
            (
                "config r\n\toption a 'x\n\toption b 'y'\n",
                "config r\n",
                &[3],
            ),
            // '#' ends the line wherever a word may, even inside an unquoted one.
            (
                "config r # comment\n\toption url http://x/#frag\n\toption v 'a'#b\n# config s\n",
                "config r\n\toption url 'http://x/'\n\toption v 'a'\n",
                &[],
            ),
            // ';' separates commands, but a bare word right before it swallows the rest.
            (
                "config r 'a'; option x '1'; option y 2 ; option z 3;option w 4\n",
                "config r 'a'\n\toption x '1'\n\toption y '2'\n\toption z '3'\n",
                &[],
            ),
            // One-letter commands.
            (
                "c r 'a'\no x '1'\nl y '2'\np dynhost\n",
                "config r 'a'\n\toption x '1'\n\tlist y '2'\n",
                &[],
            ),
            // An empty value sets nothing; a new value replaces; list after option makes
            // a list, option after list a single value.
            (
                "config r\n\toption a 'x'\n\toption a ''\n\toption b\n\toption c '1'\n\
                 \tlist c '2'\n\tlist d ''\n\tlist e '1'\n\toption e '2'\n\toption f '1'\n\
                 \toption g '1'\n\toption f '3'\n",
                "config r\n\toption a 'x'\n\tlist c '1'\n\tlist c '2'\n\tlist d ''\n\
                 \toption e '2'\n\toption g '1'\n\toption f '3'\n",
                &[],
            ),
            // Windows line ends.
            (
                "config r 'a'\r\n\toption x 'y'\r\n",
                "config r 'a'\n\toption x 'y'\n",
                &[],
            ),
            // What strict uci rejects.
            ("option x 'y'\nconfig r\n", "config r\n", &[1]),
            ("config r 'a' 'b'\n", "", &[1]),
            ("config r\n\toption a b c\n", "config r\n", &[2]),
            ("config\nconfig r\n", "config r\n", &[1]),
            ("config r\n\toption\n\toptions a b\n", "config r\n", &[2, 3]),
            ("config r\n\toption a 'x' config s\n", "config r\n", &[2]),
            ("package 'my pkg'\nconfig r\n", "config r\n", &[1]),
            ("config r\n\tfrobnicate 1\n", "config r\n", &[2]),
            ("config r\n\toption a b\0c\n", "", &[2]),
            // A problem at the end of a multi-byte character (found by tests/properties.rs).
            (
                "config record\n\toption hostname '''\n\u{10ec2}",
                "config record\n",
                &[3],
            ),
        ];
        for (text, want, want_lines) in cases {
            let (sections, problems) = parse(text);
            assert_eq!(export(&sections), *want, "{text:?}");
            assert_eq!(
                lines(text, &problems),
                *want_lines,
                "{text:?}: {problems:?}"
            );
        }
    }

    #[test]
    fn problems_say_what_and_what_to_do() {
        let text = "config record 'home'\nconfig record 'my-home'\n";
        let (_, problems) = parse(text);
        let (span, msg) = &problems[0];
        assert_eq!(&text[span.clone()], "'my-home'");
        assert!(msg.contains("\"my-home\" is refused by uci"), "{msg}");
        assert!(msg.contains("into the previous section"), "{msg}");
        assert!(msg.contains("\"my_home\""), "{msg}");
    }

    #[test]
    fn detection() {
        assert!(looks_like_uci(DYNHOST));
        assert!(looks_like_uci(NETWORK));
        assert!(!looks_like_uci("state_dir = \"/x\"\n[[record]]\n"));
        assert!(!looks_like_uci("config = 1\n"));
        assert!(!looks_like_uci(""));
        assert!(looks_like_uci("c record 'a'\n"));
        assert!(looks_like_uci("# x\np dynhost\n"));
        assert!(!looks_like_uci("c = 1\n"));
        assert!(!looks_like_uci("c\n"));
    }

    #[test]
    fn translation_maps_keys_and_interfaces() {
        let (s, _) = parse(DYNHOST);
        let (net, _) = parse(NETWORK);
        let mut aliases = Vec::new();
        let (t, problems) = to_table(&s, &net, &mut aliases);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(aliases, vec![(0, "wan".to_string())]);
        let records = t.get("record").unwrap().get_ref().as_array().unwrap();
        let home = records[0].get_ref().as_table().unwrap();
        assert_eq!(
            home.get("interface").unwrap().get_ref().as_str(),
            Some("pppoe-wan")
        );
        assert_eq!(home.get("ipv6").unwrap().get_ref().as_bool(), Some(true));
        let other = records[1].get_ref().as_table().unwrap();
        assert_eq!(
            other.get("enabled").unwrap().get_ref().as_bool(),
            Some(false)
        );
        assert_eq!(t.get("debounce").unwrap().get_ref().as_str(), Some("2s"));
    }

    #[test]
    fn translation_refuses_strangers() {
        let (s, _) = parse(
            "config dynhost\n\toption debounse '1s'\n\tlist url 'x'\nconfig dynhost\nconfig frob 'x'\n",
        );
        let (_, problems) = to_table(&s, &[], &mut Vec::new());
        let msgs: Vec<&str> = problems.iter().map(|(_, m)| m.as_str()).collect();
        assert!(msgs[0].contains("did you mean `debounce`"), "{msgs:?}");
        assert!(msgs[1].contains("'list' is not used"), "{msgs:?}");
        assert!(msgs[2].contains("only one 'config dynhost'"), "{msgs:?}");
        assert!(
            msgs[3].contains("unknown section type \"frob\""),
            "{msgs:?}"
        );
    }
}
