'use strict';
'require baseclass';
'require fs';

// Status -> Overview: each record's hostname, published address and state, from one
// `dynhost status --json`.

function stateText(s) {
	if (s == 'ok')
		return _('up to date');
	if (s == 'disabled')
		return _('disabled');
	if (s == 'never published')
		return _('never published');
	if ((s || '').indexOf('blocked') == 0)
		return _('blocked');
	if ((s || '').indexOf('retry at ') == 0)
		return _('waiting to retry at %s').format(s.substr(9));
	return s;
}

return baseclass.extend({
	title: _('DynHost'),

	load: function() {
		return L.resolveDefault(fs.exec('/usr/bin/dynhost', [ '-c', '/etc/config/dynhost', 'status', '--json' ]), {})
			.then(res => {
				try { return JSON.parse(res.stdout).records || []; } catch (e) { return null; }
			});
	},

	render: function(records) {
		if (records == null)
			return null;
		const table = E('table', { 'class': 'table', 'id': 'dynhost-overview' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, _('Hostname')),
				E('th', { 'class': 'th' }, _('Published')),
				E('th', { 'class': 'th' }, _('State'))
			])
		]);
		cbi_update_table(table, records.map(r => [
			'%s (%s)'.format(r.hostname, r.family == 'ipv6' ? 'IPv6' : 'IPv4'),
			r.published ? '%s (%s)'.format(r.published.address, r.published.at) : '-',
			stateText(r.state)
		]), E('em', _('No record is configured.')));
		return table;
	}
});
