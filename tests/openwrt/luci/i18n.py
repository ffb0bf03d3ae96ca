#!/usr/bin/env python3
"""The app's translatable strings: every _('...') in its JS views and the titles of its
menu entries. `i18n.py template` writes po/templates/dynhost.pot; `i18n.py check`
fails when a .po lacks a string or translates one the app no longer has."""
import json, os, re, sys

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../contrib/openwrt/luci-app-dynhost')
APP = os.path.normpath(APP)
CALL = re.compile(r"""_\(\s*'((?:[^'\\]|\\.)*)'""")


def js_unescape(s):
    return re.sub(r"\\(.)", lambda m: {'n': '\n', 't': '\t'}.get(m.group(1), m.group(1)), s)


def strings():
    found = {}
    for root, _dirs, files in sorted(os.walk(os.path.join(APP, 'htdocs'))):
        for f in sorted(files):
            if f.endswith('.js'):
                path = os.path.join(root, f)
                rel = os.path.relpath(path, APP)
                for n, line in enumerate(open(path, encoding='utf-8'), 1):
                    for m in CALL.finditer(line):
                        found.setdefault(js_unescape(m.group(1)), []).append('%s:%d' % (rel, n))
    menu = os.path.join(APP, 'root/usr/share/luci/menu.d/luci-app-dynhost.json')
    for node in json.load(open(menu)).values():
        found.setdefault(node['title'], []).append(os.path.relpath(menu, APP))
    return found


def po_quote(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'


def po_entries(path):
    """msgid -> msgstr of a .po file."""
    entries, cur, key = {}, {}, None
    for line in open(path, encoding='utf-8'):
        line = line.strip()
        m = re.match(r'^(msgid|msgstr) (".*")$', line)
        if m:
            key = m.group(1)
            cur[key] = json.loads(m.group(2))
        elif line.startswith('"') and key:
            cur[key] += json.loads(line)
        elif not line and cur:
            if cur.get('msgid'):
                entries[cur['msgid']] = cur.get('msgstr', '')
            cur, key = {}, None
    if cur.get('msgid'):
        entries[cur['msgid']] = cur.get('msgstr', '')
    return entries


def template():
    out = ['msgid ""', 'msgstr "Content-Type: text/plain; charset=UTF-8"', '']
    for s, where in sorted(strings().items()):
        out += ['#: ' + ' '.join(where), 'msgid ' + po_quote(s), 'msgstr ""', '']
    return '\n'.join(out)


def check():
    want = set(strings())
    bad = []
    for lang in sorted(os.listdir(os.path.join(APP, 'po'))):
        if lang == 'templates':
            continue
        have = po_entries(os.path.join(APP, 'po', lang, 'dynhost.po'))
        missing = sorted(want - {k for k, v in have.items() if v})
        stale = sorted(set(have) - want)
        if missing:
            bad.append('%s: untranslated: %r' % (lang, missing))
        if stale:
            bad.append('%s: not in the app: %r' % (lang, stale))
    tpl = po_entries(os.path.join(APP, 'po/templates/dynhost.pot'))
    if set(tpl) != want:
        bad.append('po/templates/dynhost.pot is stale: run tests/openwrt/luci/i18n.py template')
    return bad


if __name__ == '__main__':
    if sys.argv[1:] == ['template']:
        open(os.path.join(APP, 'po/templates/dynhost.pot'), 'w', encoding='utf-8').write(template())
    elif sys.argv[1:] == ['check']:
        problems = check()
        print('\n'.join(problems) or 'ok')
        sys.exit(1 if problems else 0)
    else:
        sys.exit('usage: i18n.py template|check')
