'use strict';
'require view';
'require fs';
'require poll';
'require dom';
'require ui';

// The last events of dynhost: `dynhost status --history` where the binary has it, and
// the daemon's lines in the system log (logread), newest last.

const PROG = '/usr/bin/dynhost';
const CONF = '/etc/config/dynhost';
const LINES = 200;

function history() {
	return L.resolveDefault(fs.exec(PROG, [ '-c', CONF, 'status', '--history' ]), {}).then(res =>
		(res.code == 0 && res.stdout) ? res.stdout.trim() : null);
}

function log() {
	return L.resolveDefault(fs.exec('/sbin/logread', [ '-e', 'dynhost' ]), {}).then(res => {
		const lines = (res.stdout || '').split('\n').filter(l => l);
		return lines.slice(-LINES);
	});
}

return view.extend({
	load: function() {
		return Promise.all([ history(), log() ]);
	},

	renderBoxes: function(data) {
		const [ hist, lines ] = data;
		const boxes = [];
		if (hist != null)
			boxes.push(E('div', { 'class': 'cbi-section' }, [
				E('h3', {}, _('History')),
				E('pre', { 'id': 'dynhost-history' }, hist)
			]));
		boxes.push(E('div', { 'class': 'cbi-section' }, [
			E('h3', {}, _('System log')),
			lines.length
				? E('pre', { 'id': 'dynhost-log' }, lines.join('\n'))
				: E('p', { 'id': 'dynhost-log' }, E('em', _('No log line of dynhost.')))
		]));
		return boxes;
	},

	render: function(data) {
		const box = E('div', { 'id': 'dynhost-log-box' }, this.renderBoxes(data));
		poll.add(() => this.load().then(d => dom.content(box, this.renderBoxes(d))), 10);
		return E([], [
			E('h2', {}, _('DynHost: history and log')),
			box
		]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
