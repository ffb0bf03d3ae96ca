//! A small, strict XML reader for UPnP device descriptions and SOAP answers: elements
//! and their text, nothing more. Namespace prefixes are dropped (local names only),
//! attributes are skipped, and anything unusual (a DOCTYPE, an unknown entity, a
//! mismatched tag, too deep a tree) is an error. The caller bounds the input size.

/// How deep elements may nest (a description is about 8 deep).
pub const MAX_DEPTH: usize = 32;

/// One step through the document.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// An element opened; `path` (in [`walk`]'s callback) now ends with it.
    Start(&'a str),
    /// Character data (entities decoded, surrounding whitespace kept) directly inside
    /// the innermost open element. Whitespace-only runs between elements are skipped.
    Text(String),
    /// An element closed; `path` still ends with it.
    End(&'a str),
}

/// Why a document was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Error(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, Error> {
    Err(Error(msg.into()))
}

/// The local part of a qualified name (`s:Envelope` -> `Envelope`).
fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// Decodes the five predefined entities and character references.
fn unescape(raw: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let Some(end) = rest.bytes().take(12).position(|b| b == b';') else {
            return err("an unterminated entity");
        };
        let name = &rest[..end];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                match code.and_then(char::from_u32) {
                    Some(c) if c != '\0' => c,
                    _ => return err(format!("unknown entity &{name};")),
                }
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Walks `doc`, calling `f(path, event)` with the local names of the open elements,
/// outermost first. Stops at the first error, the document's or `f`'s.
pub fn walk<'a>(
    doc: &'a str,
    mut f: impl FnMut(&[&'a str], Event<'a>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut path: Vec<&'a str> = Vec::new();
    let mut rest = doc.strip_prefix('\u{feff}').unwrap_or(doc);
    let mut roots = 0;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            // Text after the last tag.
            if path.is_empty() && rest.trim().is_empty() {
                break;
            }
            return err("text outside the root element");
        };
        let text = &rest[..lt];
        if !text.trim().is_empty() {
            if path.is_empty() {
                return err("text outside the root element");
            }
            f(&path, Event::Text(unescape(text)?))?;
        }
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<?") {
            let Some(end) = r.find("?>") else {
                return err("an unterminated processing instruction");
            };
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix("<!--") {
            let Some(end) = r.find("-->") else {
                return err("an unterminated comment");
            };
            rest = &r[end + 3..];
        } else if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let Some(end) = r.find("]]>") else {
                return err("an unterminated CDATA section");
            };
            if path.is_empty() {
                return err("CDATA outside the root element");
            }
            if !r[..end].is_empty() {
                f(&path, Event::Text(r[..end].to_string()))?;
            }
            rest = &r[end + 3..];
        } else if rest.starts_with("<!") {
            return err("a DOCTYPE or other declaration (not accepted)");
        } else if let Some(r) = rest.strip_prefix("</") {
            let Some(end) = r.find('>') else {
                return err("an unterminated end tag");
            };
            let name = local(r[..end].trim_end());
            match path.last() {
                Some(open) if *open == name => {}
                Some(open) => return err(format!("</{name}> closes <{open}>")),
                None => return err(format!("</{name}> without an open element")),
            }
            f(&path, Event::End(name))?;
            path.pop();
            rest = &r[end + 1..];
        } else {
            let r = &rest[1..];
            // The tag ends at the first '>' outside a quoted attribute value.
            let mut quote = None;
            let mut end = None;
            for (i, b) in r.bytes().enumerate() {
                match (quote, b) {
                    (None, b'"' | b'\'') => quote = Some(b),
                    (Some(q), _) if q == b => quote = None,
                    (None, b'>') => {
                        end = Some(i);
                        break;
                    }
                    (None, b'<') => return err("'<' inside a tag"),
                    _ => {}
                }
            }
            let Some(end) = end else {
                return err("an unterminated tag");
            };
            let inner = &r[..end];
            let (inner, empty) = match inner.strip_suffix('/') {
                Some(i) => (i, true),
                None => (inner, false),
            };
            let name_end = inner
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(inner.len());
            let qname = &inner[..name_end];
            if !valid_name(qname) {
                return err(format!("a tag named {:?}", super::sanitize(qname, 40)));
            }
            if path.is_empty() {
                roots += 1;
                if roots > 1 {
                    return err("more than one root element");
                }
            }
            if path.len() == MAX_DEPTH {
                return err(format!("elements nested deeper than {MAX_DEPTH}"));
            }
            let name = local(qname);
            path.push(name);
            f(&path, Event::Start(name))?;
            if empty {
                f(&path, Event::End(name))?;
                path.pop();
            }
            rest = &r[end + 1..];
        }
    }
    if let Some(open) = path.last() {
        return err(format!("<{open}> is never closed"));
    }
    if roots == 0 {
        return err("no root element");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document as `path=text` lines, and `+name`/`-name` for elements.
    fn trace(doc: &str) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        walk(doc, |path, ev| {
            out.push(match ev {
                Event::Start(n) => format!("+{n}"),
                Event::End(n) => format!("-{n}"),
                Event::Text(t) => format!("{}={t}", path.join("/")),
            });
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn good_documents() {
        let table: &[(&str, &[&str])] = &[
            ("<a/>", &["+a", "-a"]),
            ("<a></a>", &["+a", "-a"]),
            (
                "<?xml version=\"1.0\"?>\n<a><b>x</b></a>\n",
                &["+a", "+b", "a/b=x", "-b", "-a"],
            ),
            (
                "<s:Env xmlns:s=\"u\"><s:Body>t</s:Body></s:Env>",
                &["+Env", "+Body", "Env/Body=t", "-Body", "-Env"],
            ),
            (
                "<a x='1>2' y=\"'\"><!-- <b> --><b>&lt;&amp;&#65;&#x42;&quot;</b></a>",
                &["+a", "+b", "a/b=<&AB\"", "-b", "-a"],
            ),
            ("<a><![CDATA[<x>&amp;]]></a>", &["+a", "a=<x>&amp;", "-a"]),
            ("\u{feff}<a> y </a>", &["+a", "a= y ", "-a"]),
            ("<a>\n  <b/>\n</a>", &["+a", "+b", "-b", "-a"]),
        ];
        for (doc, want) in table {
            assert_eq!(trace(doc).unwrap(), *want, "{doc}");
        }
    }

    #[test]
    fn bad_documents() {
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        let table: &[(&str, &str)] = &[
            ("", "no root element"),
            ("   ", "no root element"),
            ("text", "text outside the root element"),
            ("<a/>tail", "text outside the root element"),
            ("<a/><b/>", "more than one root element"),
            ("<a>", "<a> is never closed"),
            ("<a></b>", "</b> closes <a>"),
            ("</a>", "without an open element"),
            ("<a", "an unterminated tag"),
            ("<a x='>", "an unterminated tag"),
            ("<a <b>", "'<' inside a tag"),
            ("<>", "a tag named"),
            ("<a>&foo;</a>", "unknown entity &foo;"),
            ("<a>&#0;</a>", "unknown entity"),
            ("<a>&#xD800;</a>", "unknown entity"),
            ("<a>& b</a>", "an unterminated entity"),
            ("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "DOCTYPE"),
            ("<a><!-- x</a>", "unterminated comment"),
            ("<?xml", "unterminated processing instruction"),
            ("<a><![CDATA[x</a>", "unterminated CDATA"),
            (&deep, "nested deeper than 32"),
        ];
        for (doc, needle) in table {
            let e = trace(doc).unwrap_err();
            assert!(e.0.contains(needle), "{doc}: {e:?}");
        }
    }

    #[test]
    fn the_callback_can_stop_the_walk() {
        let mut n = 0;
        let r = walk("<a><b/><b/><b/></a>", |_, ev| {
            if let Event::Start("b") = ev {
                n += 1;
                if n == 2 {
                    return err("enough");
                }
            }
            Ok(())
        });
        assert_eq!(r, Err(Error("enough".into())));
        assert_eq!(n, 2);
    }
}
