'use strict';
'require view';
'require form';
'require rpc';
'require fs';
'require uci';
'require ui';
'require poll';
'require dom';
'require tools.widgets as widgets';

// dynhost's LuCI page: the service and each record's status (one exec of
// `dynhost status --json` per refresh), the actions per record, the UCI forms, and the
// "Create on OVH" dialog. Everything it runs is /usr/bin/dynhost; it reads no password
// file, and the password field only ever writes one.

const PROG = '/usr/bin/dynhost';
const CONF = '/etc/config/dynhost';
// Where the staged config is written for `dynhost check` before an apply.
const CHECK_FILE = '/tmp/dynhost-luci-check';
const SECRET_DIR = '/etc/dynhost/';

const callServiceList = rpc.declare({
	object: 'service',
	method: 'list',
	params: [ 'name' ],
	expect: { '': {} }
});

const callInitList = rpc.declare({
	object: 'luci',
	method: 'getInitList',
	params: [ 'name' ],
	expect: { '': {} }
});

const callInitAction = rpc.declare({
	object: 'luci',
	method: 'setInitAction',
	params: [ 'name', 'action' ],
	expect: { result: false }
});

// Runs dynhost with `args` on the UCI config (or `config`); resolves to
// { code, stdout, stderr } whatever the exit code.
function dynhost(args, config) {
	return fs.exec(PROG, [ '-c', config || CONF ].concat(args)).then(res => ({
		code: res.code,
		stdout: res.stdout || '',
		stderr: res.stderr || ''
	}));
}

function parseJSON(text) {
	try { return JSON.parse(text); } catch (e) { return null; }
}

// The service: running (procd has a running instance) and enabled at boot.
function serviceState() {
	return Promise.all([
		L.resolveDefault(callServiceList('dynhost'), {}),
		L.resolveDefault(callInitList('dynhost'), {})
	]).then(([ list, init ]) => {
		const instances = (list.dynhost || {}).instances || {};
		const running = Object.keys(instances).some(k => instances[k].running);
		const pid = Object.keys(instances).map(k => instances[k].pid).filter(p => p)[0];
		return { running: running, pid: pid, enabled: !!(init.dynhost || {}).enabled };
	});
}

// `dynhost status --json`: its records, or an error text.
function recordStatus() {
	return dynhost([ 'status', '--json' ]).then(res => {
		const doc = (res.code == 0) ? parseJSON(res.stdout) : null;
		return doc ? { records: doc.records || [] } : { error: (res.stderr || res.stdout).trim() };
	}).catch(err => ({ error: String(err) }));
}

// The record sections keyed by hostname: the status names records by hostname, the
// page needs their section (logical interface, actions).
function sectionsByHost() {
	const map = {};
	uci.sections('dynhost', 'record', s => {
		if (s.hostname)
			map[String(s.hostname).replace(/\.$/, '').toLowerCase()] = s;
	});
	return map;
}

function stateBadge(r) {
	const s = r.state || '';
	let cls = 'label';
	if (s == 'ok')
		cls += ' success';
	else if (s.indexOf('blocked') == 0)
		cls += ' important';
	else if (s.indexOf('retry') == 0)
		cls += ' warning';
	return E('span', { 'class': cls, 'data-state': s }, stateText(r));
}

function stateText(r) {
	const s = r.state || '';
	if (s == 'ok')
		return _('up to date');
	if (s == 'disabled')
		return _('disabled');
	if (s == 'never published')
		return _('never published');
	if (s.indexOf('blocked since ') == 0)
		return _('blocked since %s: %s').format(s.substr(14),
			r.last_reply ? r.last_reply.detail : _('see the log'));
	if (s.indexOf('retry at ') == 0)
		return _('waiting to retry at %s').format(s.substr(9));
	return s;
}

function dnsText(d) {
	if (!d)
		return '-';
	if (d.visible)
		return d.visible_after_ms != null
			? _('visible (%.2f s after the update)').format(d.visible_after_ms / 1000)
			: _('visible');
	if (d.addr)
		return _('not yet: DNS answers %s').format(d.addr);
	return d.server ? _('not yet (%s)').format(d.server) : _('unknown');
}

function familyText(f) {
	return f == 'ipv6' ? 'IPv6' : 'IPv4';
}

return view.extend({
	load: function() {
		return Promise.all([
			uci.load('dynhost'),
			serviceState(),
			recordStatus()
		]);
	},

	// --- status -------------------------------------------------------------------

	renderService: function(svc) {
		const btn = (action, title, cls) => E('button', {
			'class': 'btn cbi-button ' + cls,
			'data-action': action,
			'click': ui.createHandlerFn(this, 'handleInit', action)
		}, title);
		return E('div', { 'id': 'dynhost-service' }, [
			E('p', {}, [
				E('span', { 'data-running': svc.running ? '1' : '0' },
					svc.running ? _('The daemon is running (PID %d).').format(svc.pid)
						: _('The daemon is not running.')),
				' ',
				E('span', { 'data-enabled': svc.enabled ? '1' : '0' },
					svc.enabled ? _('It starts at boot.') : _('It does not start at boot.'))
			]),
			E('div', { 'class': 'cbi-section-actions' }, [
				btn('start', _('Start'), 'cbi-button-apply'), ' ',
				btn('stop', _('Stop'), 'cbi-button-reset'), ' ',
				btn('restart', _('Restart'), 'cbi-button-action'), ' ',
				svc.enabled ? btn('disable', _('Disable at boot'), 'cbi-button-neutral')
					: btn('enable', _('Enable at boot'), 'cbi-button-neutral')
			])
		]);
	},

	renderRecords: function(st) {
		if (st.error)
			return E('div', { 'id': 'dynhost-status' },
				E('p', { 'class': 'alert-message warning' }, st.error));
		const hosts = sectionsByHost();
		const rows = st.records.map(r => {
			const sec = hosts[r.hostname] || {};
			const logical = sec.interface && sec.interface != r.interface
				? '%s → %s'.format(sec.interface, r.interface) : r.interface;
			const actions = E('div', {}, [
				E('button', {
					'class': 'btn cbi-button cbi-button-action',
					'data-action': 'update',
					'data-hostname': r.hostname,
					'disabled': r.enabled ? null : '',
					'click': ui.createHandlerFn(this, 'handleUpdate', r)
				}, _('Update now')), ' ',
				E('button', {
					'class': 'btn cbi-button cbi-button-neutral',
					'data-action': 'verify',
					'data-hostname': r.hostname,
					'click': ui.createHandlerFn(this, 'handleVerify', r)
				}, _('Verify now'))
			]);
			return E('tr', { 'class': 'tr', 'data-hostname': r.hostname, 'data-family': r.family }, [
				E('td', { 'class': 'td', 'data-title': _('Hostname') }, r.hostname),
				E('td', { 'class': 'td', 'data-title': _('Family') }, familyText(r.family)),
				E('td', { 'class': 'td', 'data-title': _('Interface') }, logical),
				E('td', { 'class': 'td', 'data-title': _('Published'), 'data-field': 'published' },
					r.published ? r.published.address : '-'),
				E('td', { 'class': 'td', 'data-title': _('Since') },
					r.published ? r.published.at : '-'),
				E('td', { 'class': 'td', 'data-title': _('Last reply'), 'data-field': 'last_reply' },
					r.last_reply ? '%s (%s)'.format(r.last_reply.detail, r.last_reply.at) : '-'),
				E('td', { 'class': 'td', 'data-title': _('State') }, stateBadge(r)),
				E('td', { 'class': 'td', 'data-title': _('DNS'), 'data-field': 'dns' }, dnsText(r.dns)),
				E('td', { 'class': 'td cbi-section-actions' }, actions)
			]);
		});
		return E('div', { 'id': 'dynhost-status' }, [
			E('table', { 'class': 'table' }, [
				E('tr', { 'class': 'tr table-titles' }, [
					E('th', { 'class': 'th' }, _('Hostname')),
					E('th', { 'class': 'th' }, _('Family')),
					E('th', { 'class': 'th' }, _('Interface')),
					E('th', { 'class': 'th' }, _('Published')),
					E('th', { 'class': 'th' }, _('Since')),
					E('th', { 'class': 'th' }, _('Last reply')),
					E('th', { 'class': 'th' }, _('State')),
					E('th', { 'class': 'th' }, _('DNS')),
					E('th', { 'class': 'th cbi-section-actions' }, '')
				])
			].concat(rows.length ? rows : [
				E('tr', { 'class': 'tr placeholder' },
					E('td', { 'class': 'td' }, E('em', _('No record is configured.'))))
			])),
			E('div', { 'id': 'dynhost-result' })
		]);
	},

	refresh: function() {
		return Promise.all([ serviceState(), recordStatus() ]).then(([ svc, st ]) => {
			dom.content(document.getElementById('dynhost-service-box'), this.renderService(svc));
			const box = document.getElementById('dynhost-status-box');
			// Keep the last action's result across refreshes.
			const kept = document.getElementById('dynhost-result');
			const fresh = this.renderRecords(st);
			const slot = fresh.querySelector('#dynhost-result');
			if (kept && slot)
				slot.parentNode.replaceChild(kept, slot);
			dom.content(box, fresh);
		});
	},

	showResult: function(title, body, failed) {
		const box = document.getElementById('dynhost-result');
		if (box)
			dom.content(box, E('div', {
				'class': 'alert-message ' + (failed ? 'warning' : 'notice'),
				'data-result': title
			}, [ E('strong', {}, title), E('pre', {}, body) ]));
	},

	handleInit: function(action) {
		return callInitAction('dynhost', action).then(() => this.refresh());
	},

	handleUpdate: function(r) {
		return dynhost([ 'update', '--force', '--interface', r.interface ]).then(res => {
			this.showResult(_('Update of %s').format(r.interface),
				(res.stdout + res.stderr).trim(), res.code != 0);
			return this.refresh();
		});
	},

	handleVerify: function(r) {
		return dynhost([ 'verify', '--json' ]).then(res => {
			const doc = parseJSON(res.stdout);
			if (!doc) {
				this.showResult(_('Verify %s').format(r.hostname), (res.stderr || res.stdout).trim(), true);
				return;
			}
			const mine = (doc.records || []).filter(v => v.hostname == r.hostname);
			const lines = [];
			mine.forEach(v => {
				lines.push('%s %s: %s'.format(v.hostname, familyText(v.family), v.text));
				(v.servers || []).forEach(s => lines.push('  ' + s));
			});
			this.showResult(_('Verify %s').format(r.hostname), lines.join('\n'),
				mine.some(v => v.verdict != 'visible'));
		});
	},

	// --- Create on OVH --------------------------------------------------------------

	handleSetup: function() {
		const zone = E('input', { 'class': 'cbi-input-text', 'id': 'dynhost-setup-zone', 'placeholder': 'example.com' });
		const sub = E('input', { 'class': 'cbi-input-text', 'id': 'dynhost-setup-subdomain', 'placeholder': 'home' });
		const iface = E('input', { 'class': 'cbi-input-text', 'id': 'dynhost-setup-interface', 'placeholder': 'wan' });
		const v6 = E('input', { 'type': 'checkbox', 'id': 'dynhost-setup-ipv6' });
		const out = E('pre', { 'id': 'dynhost-setup-output' });
		const args = dry => {
			const a = [ 'setup', '--zone', zone.value.trim(), '--subdomain', sub.value.trim() ];
			if (iface.value.trim())
				a.push('--interface', iface.value.trim());
			if (v6.checked)
				a.push('--ipv6');
			if (dry)
				a.push('--dry-run');
			return a;
		};
		const create = E('button', {
			'class': 'btn cbi-button cbi-button-positive', 'disabled': '', 'data-action': 'setup-create',
			'click': ui.createHandlerFn(this, () => dynhost(args(false)).then(res => {
				out.textContent = (res.stdout + res.stderr).trim();
				if (res.code == 0)
					return callInitAction('dynhost', 'reload').then(() => window.location.reload());
			}))
		}, _('Create'));
		const dry = E('button', {
			'class': 'btn cbi-button cbi-button-action', 'data-action': 'setup-dry-run',
			'click': ui.createHandlerFn(this, () => dynhost(args(true)).then(res => {
				out.textContent = (res.stdout + res.stderr).trim();
				if (res.code == 0)
					create.removeAttribute('disabled');
				else
					create.setAttribute('disabled', '');
			}))
		}, _('Dry run'));
		ui.showModal(_('Create on OVH'), [
			E('p', {}, _('Creates the DynHost login and record through the OVH API with the credentials of /etc/ovh.conf, then adds the record here. The dry run shows the calls first; nothing is created until you confirm.')),
			E('div', { 'class': 'cbi-value' }, [ E('label', { 'class': 'cbi-value-title' }, _('Zone')), E('div', { 'class': 'cbi-value-field' }, zone) ]),
			E('div', { 'class': 'cbi-value' }, [ E('label', { 'class': 'cbi-value-title' }, _('Subdomain')), E('div', { 'class': 'cbi-value-field' }, sub) ]),
			E('div', { 'class': 'cbi-value' }, [ E('label', { 'class': 'cbi-value-title' }, _('Interface')), E('div', { 'class': 'cbi-value-field' }, iface) ]),
			E('div', { 'class': 'cbi-value' }, [ E('label', { 'class': 'cbi-value-title' }, _('IPv6 too')), E('div', { 'class': 'cbi-value-field' }, v6) ]),
			out,
			E('div', { 'class': 'right' }, [
				E('button', { 'class': 'btn', 'click': ui.hideModal }, _('Cancel')), ' ', dry, ' ', create
			])
		]);
	},

	// --- Save & Apply: `dynhost check` on the staged config first ---------------------

	// The dynhost package as uci.js holds it after a save (the session's staged changes
	// included), in UCI's file format.
	stagedConfig: function() {
		const q = v => "'" + String(v).replace(/'/g, "'\\''") + "'";
		let text = '';
		uci.sections('dynhost', null, s => {
			text += '\nconfig %s %s\n'.format(s['.type'], s['.anonymous'] ? '' : q(s['.name']));
			Object.keys(s).filter(k => k.charAt(0) != '.').forEach(k => {
				if (Array.isArray(s[k]))
					s[k].forEach(v => text += '\tlist %s %s\n'.format(k, q(v)));
				else
					text += '\toption %s %s\n'.format(k, q(s[k]));
			});
		});
		return text;
	},

	// Resolves to true when the staged config passes `dynhost check`; otherwise shows
	// check's messages and resolves to false.
	checkStaged: function() {
		const staged = this.stagedConfig();
		return fs.write(CHECK_FILE, staged, 384).then(() =>
			dynhost([ 'check' ], CHECK_FILE)
		).then(res => {
			L.resolveDefault(fs.remove(CHECK_FILE));
			if (res.code == 0)
				return true;
			// check locates each problem by line in the staged text: show those lines,
			// since they need not be the lines of the file as it is now.
			const lines = staged.split('\n');
			const msg = (res.stderr || res.stdout).trim().split('\n').map(l => {
				const at = l.match(new RegExp(CHECK_FILE + ':(\\d+):'));
				const text = at ? lines[+at[1] - 1] : null;
				l = l.replaceAll(CHECK_FILE, CONF);
				return text != null ? l + '\n    | ' + text.trim() : l;
			}).join('\n');
			ui.addNotification(_('The configuration was not applied'), [
				E('p', {}, _('dynhost check refused it; the running daemon keeps its configuration:')),
				E('pre', { 'id': 'dynhost-check-refusal' }, msg)
			], 'danger');
			return false;
		});
	},

	handleSaveApply: function(ev, mode) {
		return this.handleSave(ev).then(() => uci.changes()).then(changes => {
			if (!changes || !changes.dynhost)
				return true;
			return this.checkStaged();
		}).then(ok => {
			if (ok)
				ui.changes.apply(mode == '0');
		});
	},

	// --- the forms ------------------------------------------------------------------

	render: function(data) {
		const svc = data[1], st = data[2];
		let m, s, o;

		m = new form.Map('dynhost', _('Configuration'),
			_('Keeps OVH DynHost records pointed at this router\'s address. The daemon follows the interfaces\' address changes; Save & Apply makes it reload its configuration (SIGHUP) without losing its state.'));

		s = m.section(form.GridSection, 'record', _('Records'),
			_('One record per DynHost name; IPv4 and IPv6 are sent separately.'));
		s.addremove = true;
		s.anonymous = false;
		s.nodescriptions = true;
		s.modaltitle = function(section_id) {
			return _('DynHost record') + ' » ' + (uci.get('dynhost', section_id, 'hostname') || section_id);
		};

		o = s.option(form.Flag, 'enabled', _('Enabled'));
		o.default = '1';
		o.rmempty = false;
		o.editable = true;

		o = s.option(form.Value, 'hostname', _('Hostname'),
			_('The DynHost name: a fully qualified name, no wildcard.'));
		o.rmempty = false;
		o.validate = function(section_id, value) {
			return validateHostname(value);
		};

		o = s.option(form.Value, 'username', _('Login'),
			_('The DynHost login, usually ZONE-SUFFIX (example.com-home).'));
		o.modalonly = true;
		o.rmempty = false;
		o.validate = function(section_id, value) {
			if (!value)
				return _('Expecting: a login');
			return /[\s\x00-\x1f\x7f]/.test(value) ? _('A login has no spaces or control characters') : true;
		};

		o = s.option(form.Value, 'password', _('Password'),
			_('Written to the record\'s password file (mode 0600) when you save. It is never shown: leave empty to keep the current one.'));
		o.modalonly = true;
		o.password = true;
		o.rmempty = true;
		o.placeholder = _('unchanged');
		// Never read back: neither from the file nor from an inline option.
		o.cfgvalue = function() { return ''; };
		o.remove = function() {};
		o.write = function(section_id, value) {
			if (!value)
				return;
			if (/[\r\n]/.test(value))
				return Promise.reject(new Error(_('A password is one line')));
			let path = uci.get('dynhost', section_id, 'password_file');
			if (!path) {
				path = SECRET_DIR + section_id + '.secret';
				uci.set('dynhost', section_id, 'password_file', path);
			}
			// An inline password would stay in the config: the file replaces it.
			if (uci.get('dynhost', section_id, 'password') != null)
				uci.unset('dynhost', section_id, 'password');
			// rpcd creates with the mode given but keeps an existing file's: remove first.
			return L.resolveDefault(fs.remove(path)).then(() => fs.write(path, value + '\n', 384));
		};

		o = s.option(form.Value, 'password_file', _('Password file'),
			_('Where the password is kept, one line, mode 0600. Default: /etc/dynhost/RECORD.secret.'));
		o.modalonly = true;
		o.datatype = 'string';
		o.validate = function(section_id, value) {
			return (!value || value.charAt(0) == '/') ? true : _('Expecting: an absolute path');
		};

		o = s.option(widgets.NetworkSelect, 'interface', _('Interface'),
			_('The interface whose address is published; a logical interface is followed as its device (pppoe-wan for PPPoE).'));
		o.nocreate = true;
		o.rmempty = false;
		o.default = 'wan';

		o = s.option(form.Flag, 'ipv4', _('IPv4'));
		o.default = '1';
		o.rmempty = false;

		o = s.option(form.Flag, 'ipv6', _('IPv6'));
		o.default = '0';
		o.rmempty = false;

		o = s.option(form.MultiValue, 'ipv4_source', _('IPv4 source'),
			_('Where the IPv4 address comes from: the interface, the address the upstream gateway reports (NAT-PMP, PCP, UPnP), or web echo services.'));
		o.modalonly = true;
		o.value('interface', _('interface'));
		o.value('gateway', _('gateway'));
		o.value('web', _('web'));
		o.placeholder = _('interface');
		o.depends('ipv4', '1');

		o = s.option(form.MultiValue, 'ipv6_source', _('IPv6 source'));
		o.modalonly = true;
		o.value('interface', _('interface'));
		o.value('web', _('web'));
		o.placeholder = _('interface');
		o.depends('ipv6', '1');

		o = s.option(form.Value, 'ipv6_suffix', _('IPv6 suffix'),
			_('Publish the interface\'s /64 with this interface identifier (::1234), for a LAN host.'));
		o.modalonly = true;
		o.depends('ipv6', '1');
		o.validate = function(section_id, value) {
			if (!value)
				return true;
			return /^::[0-9a-fA-F:]+$/.test(value) ? true : _('Expecting: an interface identifier such as ::1234');
		};

		s = m.section(form.NamedSection, 'global', 'dynhost', _('Global settings'));
		s.addremove = false;
		s.tab('general', _('General'));
		s.tab('provider', _('Provider'));
		s.tab('verify', _('DNS check'));

		const duration = (tab, name, title, descr, interval) => {
			o = s.taboption(tab, form.Value, name, title, descr);
			o.validate = function(section_id, value) {
				return validateDuration(value, interval);
			};
			return o;
		};

		duration('general', 'debounce', _('Debounce'), _('Quiet time after the last event before a decision (0 to 60 s).')).placeholder = '1s';
		duration('general', 'debounce_max', _('Longest debounce'), _('Upper bound on the wait after the first event of a burst.')).placeholder = '10s';
		o = s.taboption('general', form.Value, 'max_updates_per_hour', _('Updates per hour'),
			_('Past this many updates within an hour, at most one every 5 minutes.'));
		o.datatype = 'range(1,3600)';
		o.placeholder = '12';
		o = s.taboption('general', form.Value, 'state_dir', _('State directory'));
		o.placeholder = '/var/lib/dynhost';
		o.datatype = 'directory';
		o.validate = function(section_id, value) {
			return (!value || value.charAt(0) == '/') ? true : _('Expecting: an absolute path');
		};
		duration('general', 'retry_initial', _('First retry'), _('Delay after a transient failure; it doubles at each failure.')).placeholder = '30s';
		duration('general', 'retry_max', _('Longest retry delay')).placeholder = '1h';
		duration('general', 'gateway_check', _('Gateway check'), _('Safety-net query of records whose source is the gateway ("off" to disable).'), true).placeholder = '10m';

		o = s.taboption('provider', form.Value, 'url', _('Update URL'),
			_('The dyndns2 endpoint; plain http only to loopback.'));
		o.placeholder = 'https://dns.eu.ovhapis.com/nic/update';
		o.validate = function(section_id, value) {
			return (!value || /^https?:\/\/[^\s@?#]+$/.test(value)) ? true : _('Expecting: an https URL without credentials or query');
		};
		duration('provider', 'timeout', _('Timeout'), _('Bound on one whole request (1 s to 5 min).')).placeholder = '30s';
		o = s.taboption('provider', form.Value, 'ca_file', _('Extra CA file'));
		o.modalonly = true;
		o = s.taboption('provider', form.DynamicList, 'web_url', _('Web echo services'),
			_('Asked in turn by records whose source is web.'));
		o.validate = function(section_id, value) {
			return (!value || /^https?:\/\/\S+$/.test(value)) ? true : _('Expecting: a URL');
		};
		duration('provider', 'web_check', _('Web check'), null, true).placeholder = '1h';

		o = s.taboption('verify', form.Flag, 'verify', _('Check DNS'),
			_('Ask the zone\'s authoritative servers after each update until the address is visible.'));
		o.default = '1';
		o = s.taboption('verify', form.DynamicList, 'verify_server', _('Authoritative servers'),
			_('host or host:port; found through the resolver when empty.'));
		o.datatype = 'or(hostname,hostport,ipaddr,ipaddrport)';
		o = s.taboption('verify', form.Value, 'verify_resolver', _('Resolver'));
		o.datatype = 'or(hostname,hostport,ipaddr,ipaddrport)';
		duration('verify', 'verify_interval', _('Periodic check'), _('"off" (the default) or 1m to 7d.'), true).placeholder = 'off';

		return m.render().then(mapEl => {
			poll.add(() => this.refresh(), 10);
			return E([], [
				E('h2', {}, _('DynHost')),
				E('div', { 'class': 'cbi-section' }, [
					E('h3', {}, _('Service')),
					E('div', { 'id': 'dynhost-service-box' }, this.renderService(svc))
				]),
				E('div', { 'class': 'cbi-section' }, [
					E('h3', {}, _('Status')),
					E('div', { 'id': 'dynhost-status-box' }, this.renderRecords(st)),
					E('div', { 'class': 'right' }, E('button', {
						'class': 'btn cbi-button cbi-button-add',
						'data-action': 'setup',
						'click': ui.createHandlerFn(this, 'handleSetup')
					}, _('Create on OVH…')))
				]),
				mapEl
			]);
		});
	}
});

// What `dynhost check` requires of a hostname, checked before anything is saved.
function validateHostname(value) {
	const h = String(value || '').replace(/\.$/, '');
	if (!h)
		return _('Expecting: a fully qualified host name');
	if (h.indexOf('/') >= 0)
		return _('A host name only, such as home.example.com, not a URL');
	if (h.indexOf('*') >= 0)
		return _('No wildcard: a DynHost record names one host');
	const labels = h.split('.');
	if (labels.length < 2)
		return _('Not fully qualified (expected e.g. home.example.com)');
	if (/^[0-9]+$/.test(labels[labels.length - 1]))
		return _('An IP address, not a host name');
	if (h.length > 253 || labels.some(l => !/^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l)))
		return _('Each label: letters, digits, hyphens, 1 to 63 characters, no hyphen at either end');
	return true;
}

// A duration as dynhost reads it ("500ms", "1m30s"); `interval`: "off" too. Ranges
// are `dynhost check`'s to judge.
function validateDuration(value, interval) {
	if (!value || value == '0' || (interval && value == 'off'))
		return true;
	return /^([0-9]+(ms|s|min|m|h|d))+$/.test(value) ? true
		: (interval ? _('Expecting: a duration such as 30s, 10m, 1h30m, or off')
			: _('Expecting: a duration such as 500ms, 30s, 10m, 1h30m'));
}
