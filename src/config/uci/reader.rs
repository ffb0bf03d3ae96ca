//! The UCI text read as libuci reads it: sections and options with their spans, and
//! every line strict uci rejects as a located problem.

use std::ops::Range;

use super::{Opt, Problem, Section};

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
