# The reader behind tests/support/openwrt/uci (see there): libuci's file parser, step
# for step, and the export, get and commit of the result.
function fail(reason) {
	if (!quiet)
		printf "uci: Parse error (%s) at line %d, byte %d\n", reason, lineno, pos - 1 > "/dev/stderr"
	if (strict) { failed = 1; exit 1 }
	error = 1
}
function cur() { return pos <= length(buf) ? substr(buf, pos, 1) : "" }
function isspace(c) { return c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\v" || c == "\f" }
# The next line of the file, into the buffer from position at.
function getln(at) {
	if (next_line > nlines) { buf = substr(buf, 1, at - 1); return }
	buf = substr(buf, 1, at - 1) lines[next_line++]
	lineno++
}
function skip_space() { while (cur() != "" && isspace(cur())) pos++ }
# A backslash: 0 when it ended the line and the next one was pulled in.
function backslash(   c) {
	pos++
	c = cur()
	if (c == "" || c == "\n" || (c == "\r" && substr(buf, pos + 1) == "\n")) { getln(pos); return 0 }
	return 1
}
function quoted(q,   c) {
	pos++
	for (;;) {
		c = cur()
		if (c == q) { pos++; return 1 }
		if (c == "") {
			getln(pos)
			if (cur() == "") { fail("EOF with unterminated " q); return 0 }
			continue
		}
		if (c == "\\" && q == "\"") { if (backslash()) { word = word cur(); pos++ } continue }
		word = word c; pos++
	}
}
# One word into the global "word"; returns 0 after an error.
function parse_word(   c, plain, sep) {
	word = ""; plain = 1; sep = 0
	for (;;) {
		c = cur()
		if (c == "'" || c == "\"") { plain = 0; if (!quoted(c)) return 0 }
		else if (c == "#") { buf = substr(buf, 1, pos - 1); break }
		else if (c == "") break
		else if (c == ";") { sep = 1; break }
		else if (c == "\\") { plain = 0; if (backslash()) { word = word cur(); pos++ } }
		else { word = word c; pos++ }
		c = cur()
		if (c == "" || isspace(c)) break
	}
	if (sep) {
		# The word is ended in place: a bare word ends on the ";" itself.
		if (plain) buf = substr(buf, 1, pos - 1)
	} else if (cur() != "") pos++
	return 1
}
function next_arg() {
	skip_space()
	if (cur() == ";") { pos++; word = ""; return 1 }
	return parse_word()
}
function valid(s, kind,   i, c) {
	if (s == "") return 0
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c ~ /[A-Za-z0-9_]/) continue
		if (c == "-" && kind == "package") continue
		if (kind == "name" || c !~ /[!-~]/) return 0
	}
	return 1
}
function eol() {
	skip_space()
	if (!next_arg()) return 0
	if (word != "" && strict) { fail("too many arguments"); return 0 }
	return 1
}
function find_section(name,   i) { for (i = 1; i <= nsec; i++) if (sname[i] == name) return i; return 0 }
function find_option(s, name,   i) { for (i = 1; i <= nopt[s]; i++) if (oname[s, i] == name) return i; return 0 }
function remove_option(s, i,   j) {
	for (j = i; j < nopt[s]; j++) {
		oname[s, j] = oname[s, j + 1]; otype[s, j] = otype[s, j + 1]; ovalue[s, j] = ovalue[s, j + 1]
	}
	nopt[s]--
}
function add_option(s, name, type, v) { nopt[s]++; oname[s, nopt[s]] = name; otype[s, nopt[s]] = type; ovalue[s, nopt[s]] = v }
# djbhash, 32-bit, as libuci names anonymous sections.
function hash(s,   h, i) {
	h = 5381
	for (i = 1; i <= length(s); i++) h = (h * 33 + ord[substr(s, i, 1)]) % 4294967296
	return h % 2147483648
}
function new_section(type, name) {
	nsec++; stype[nsec] = type; nopt[nsec] = 0; counter++ # every section counts, named or not (as libuci's n_section)
	if (name == "") { sname[nsec] = sprintf("cfg%02x%04x", counter, hash(type) % 65536); anon[nsec] = 1 }
	else { sname[nsec] = name; anon[nsec] = 0 }
	return nsec
}
function set_option(s, name, v, list,   i) {
	i = find_option(s, name)
	if (!list) {
		if (v == "") return
		if (i && otype[s, i] == "option" && ovalue[s, i] == v) return
		if (i) remove_option(s, i)
		add_option(s, name, "option", v)
	} else if (i && otype[s, i] == "list") ovalue[s, i] = ovalue[s, i] SUBSEP v
	else if (i) { v = ovalue[s, i] SUBSEP v; remove_option(s, i); add_option(s, name, "list", v) }
	else add_option(s, name, "list", v)
}
function command(w,   type, name, s, v) {
	if (w ~ /^#/) return 0
	if (w != "p" && w != "package" && w != "c" && w != "config" && w != "o" && w != "option" && w != "l" && w != "list") {
		fail("invalid command"); return 0
	}
	if ((w ~ /^o/ || w ~ /^l/) && !current) { fail("option/list command found before the first section"); return 0 }
	if (pos > length(buf)) { fail(w " without name"); return 0 }
	pos++
	if (w ~ /^p/) {
		if (!next_arg()) return 0
		if (word == "") { fail("insufficient arguments"); return 0 }
		if (!valid(word, "package")) { fail("invalid character in name field"); return 0 }
		return eol()
	}
	if (w ~ /^c/) {
		if (!next_arg()) return 0
		type = word
		if (type == "") { fail("insufficient arguments"); return 0 }
		if (!valid(type, "type")) { fail("invalid character in type field"); return 0 }
		if (!next_arg()) return 0
		name = word
		if (name != "" && !valid(name, "name")) { fail("invalid character in name field"); return 0 }
		if (!eol()) return 0
		s = name == "" ? 0 : find_section(name)
		if (s && strict && stype[s] != type) { fail("section of different type overwrites prior section with same name"); return 0 }
		if (s) stype[s] = type
		else s = new_section(type, name)
		current = s
		return 1
	}
	if (!next_arg()) return 0
	name = word
	if (name == "") { fail("insufficient arguments"); return 0 }
	if (!valid(name, "name")) { fail("invalid character in name field"); return 0 }
	if (!next_arg()) return 0
	v = word
	if (!eol()) return 0
	set_option(current, name, v, w ~ /^l/)
	return 1
}
function parse_line(   w, s, e) {
	skip_space()
	for (;;) {
		s = pos
		while (substr(buf, s, 1) == " " || substr(buf, s, 1) == "\t") s++
		if (s > length(buf)) return
		e = s
		while (e <= length(buf) && substr(buf, e, 1) != " " && substr(buf, e, 1) != "\t") e++
		w = substr(buf, s, e - s)
		pos = e
		if (!command(w)) return
	}
}
function q(s) { gsub(/'/, "'\\''", s); return "'" s "'" }
function export(out,   s, i, n, k, items) {
	if (out == "") printf "package %s\n", pkg
	for (s = 1; s <= nsec; s++) {
		line = "\nconfig " stype[s]
		if (!anon[s] || names) line = line " " q(sname[s])
		if (out == "") print line; else print line > out
		for (i = 1; i <= nopt[s]; i++) {
			if (otype[s, i] == "option") line = "\toption " oname[s, i] " " q(ovalue[s, i])
			else {
				n = split(ovalue[s, i], items, SUBSEP); line = ""
				for (k = 1; k <= n; k++) line = line (k > 1 ? "\n" : "") "\tlist " oname[s, i] " " q(items[k])
			}
			if (out == "") print line; else print line > out
		}
	}
	if (out == "") print ""; else print "" > out
}
BEGIN { for (i = 33; i < 127; i++) ord[sprintf("%c", i)] = i }
{ lines[++nlines] = $0 "\n" }
END {
	if (failed) exit 1
	next_line = 1
	while (next_line <= nlines) {
		buf = ""; pos = 1; error = 0
		getln(1)
		parse_line()
		if (failed) exit 1
	}
	# Pending changes (uci set), in order.
	while ((getline change < changes) > 0) {
		split(change, f, "\t")
		s = find_section(f[2])
		if (f[3] == "") { if (s) stype[s] = f[4]; else new_section(f[4], f[2]) }
		else if (s) set_option(s, f[3], f[4], 0)
	}
	if (cmd == "export") export("")
	else if (cmd == "commit") print "commit"
	else {
		s = find_section(want_sec)
		if (!s) exit 1
		if (want_opt == "") { print stype[s]; exit 0 }
		i = find_option(s, want_opt)
		if (!i) exit 1
		v = ovalue[s, i]; gsub(SUBSEP, " ", v); print v
	}
	if (cmd == "commit") export(commit_to)
}