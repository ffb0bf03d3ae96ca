#!/usr/bin/env python3
"""luci-app-dynhost in a real headless Chromium against OpenWrt's real runtime.

tests/openwrt/boot boots procd, ubusd, rpcd, uhttpd, netifd and logd (built from the
vendored sources) with the dynhost package and this LuCI app installed; this script runs
it in a network namespace of its own with a dyndns2 provider and an authoritative DNS
server (BIND) on loopback, starts the daemon under procd, and drives LuCI with Selenium:

  login; status of the record the daemon published; update now (one request, the new
  reply shown); verify now (the servers' answer shown); edit + Save & Apply (the UCI
  file changed, the daemon reloaded: same PID, state kept); a password entered lands in
  its 0600 file and in no page or rpcd answer; an invalid hostname refused in the
  browser and a config `dynhost check` refuses not applied; Status -> Overview; the
  page in Dutch; no console error; a LuCI user without the app's ACL sees nothing.

Needs root. Installs Debian's chromium and chromium-driver and Selenium (PyPI) when
missing. Environment: DYNHOST_BIN (the binary to install), DYNHOST_SCREENSHOTS (a
directory for the status page and edit dialog screenshots; default target/luci).
Exit 0 when every check passed; otherwise the failed check and the evidence.
"""
import base64
import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../..'))
BOOT = os.path.join(REPO, 'tests/openwrt/boot')
HOSTNAME = 'home.example.com'
WAN_ADDR = '203.0.113.7'
ROOT_PW = 'luci-root-pw'
FIRST_SECRET = 'first-Secret-4711'
NEW_SECRET = 'n3w-Secret-0815'
# In /etc/ovh.conf: the page must never show them.
API_SECRET = 'api-secret-9f8e7d'
CONSUMER_KEY = 'consumer-key-1a2b3c'
SECRETS = [FIRST_SECRET, NEW_SECRET, API_SECRET, CONSUMER_KEY]
HTTP_PORT = 8080
API_URL = None
STEP_TIMEOUT = 40


def fail(msg):
    print('FAIL: ' + msg, flush=True)
    sys.exit(1)


def log(msg):
    print('[%6.1f s] %s' % (time.monotonic() - T0, msg), flush=True)


T0 = time.monotonic()


# ---- what the test needs on the machine ---------------------------------------------

def ensure_tools():
    if os.geteuid() != 0:
        fail('needs root (network namespaces, the OpenWrt boot)')
    missing = [p for p, f in (('chromium', '/usr/bin/chromium'),
                              ('chromium-driver', '/usr/bin/chromedriver')) if not os.path.exists(f)]
    if missing:
        print('installing ' + ' '.join(missing), flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        r = subprocess.run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends'] + missing,
                           env=env, capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run(['apt-get', 'update', '-qq'], env=env)
            r = subprocess.run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends'] + missing,
                               env=env, capture_output=True, text=True)
        if r.returncode != 0:
            fail('cannot install %s: %s' % (missing, r.stderr[-2000:]))
    try:
        import selenium  # noqa: F401
    except ImportError:
        r = subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', 'selenium'],
                           capture_output=True, text=True)
        if r.returncode != 0:
            fail('cannot install Selenium from PyPI: ' + r.stderr[-2000:])


# ---- the provider and the authoritative DNS server on loopback ----------------------

class World:
    """What the provider has published (and put into BIND's zone)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (hostname, myip, user, password)
        self.zone = {}

    def count(self):
        with self.lock:
            return len(self.requests)


WORLD = World()


class Provider(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        auth = self.headers.get('Authorization', '')
        user, pw = '', ''
        if auth.startswith('Basic '):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(':')
        host = q.get('hostname', [''])[0]
        ip = q.get('myip', [''])[0]
        with WORLD.lock:
            WORLD.requests.append((host, ip, user, pw))
            if url.path != '/nic/update' or not user:
                body = 'badauth'
            elif WORLD.zone.get(host) == ip:
                body = 'nochg ' + ip
            else:
                WORLD.zone[host] = ip
                publish(host, ip)
                body = 'good ' + ip
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


class OvhApi(http.server.BaseHTTPRequestHandler):
    """The reads `dynhost setup --dry-run` makes of the OVH API, for a zone with no
    DynHost login or record yet (example.com). Writes are refused: a dry run makes none."""
    calls = []

    def answer(self, code, value):
        body = json.dumps(value).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        path = url.path[len('/1.0'):] if url.path.startswith('/1.0') else url.path
        OvhApi.calls.append(('GET', path))
        if path == '/auth/time':
            return self.answer(200, int(time.time()))
        if path == '/domain/zone/example.com':
            return self.answer(200, {'name': 'example.com', 'nameServers': ['ns1.example.com'],
                                     'dnssecSupported': False})
        if path in ('/domain/zone/example.com/record', '/domain/zone/example.com/dynHost/login',
                    '/domain/zone/example.com/dynHost/record'):
            return self.answer(200, [])
        return self.answer(404, {'class': 'Client::NotFound', 'message': 'not here: ' + path})

    def do_POST(self):
        OvhApi.calls.append(('POST', self.path))
        self.answer(403, {'message': 'this fake takes no write'})

    do_PUT = do_DELETE = do_POST

    def log_message(self, *args):
        pass


# BIND is the zone's authoritative server; the provider publishes into it with an RFC
# 2136 update (nsupdate), as OVH's pipeline does into its own servers.
NAMED_CONF = """options {{
    directory "{d}";
    pid-file none;
    session-keyfile none;
    listen-on port 53 {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-query {{ any; }};
    dnssec-validation no;
    notify no;
}};
controls {{ }};
zone "example.com" {{ type primary; file "{d}/example.com.db"; allow-update {{ 127.0.0.1; }}; }};
"""
ZONE_FILE = """$TTL 60
@ IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.1
"""


def start_bind(work):
    for tool in ('named', 'nsupdate', 'dig'):
        if not shutil.which(tool, path=os.environ.get('PATH', '') + ':/usr/sbin'):
            fail('%s is missing: apt-get install bind9 bind9-dnsutils' % tool)
    d = os.path.join(work, 'bind')
    os.makedirs(d)
    with open(os.path.join(d, 'named.conf'), 'w') as f:
        f.write(NAMED_CONF.format(d=d))
    with open(os.path.join(d, 'example.com.db'), 'w') as f:
        f.write(ZONE_FILE)
    logf = open(os.path.join(d, 'named.log'), 'w')
    named = subprocess.Popen([shutil.which('named', path='/usr/sbin:/usr/bin'), '-g', '-n', '1', '-c',
                              os.path.join(d, 'named.conf')], stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
    wait_for('named answers', lambda: subprocess.run(['dig', '+short', '+norec', '@127.0.0.1', 'example.com', 'SOA'],
                                                     capture_output=True, text=True).stdout.strip(),
             timeout=20, evidence=lambda: open(os.path.join(d, 'named.log')).read()[-2000:])
    return named


def publish(host, ip):
    """The provider's side: the new address into the zone."""
    rr = 'AAAA' if ':' in ip else 'A'
    script = 'server 127.0.0.1 53\nupdate delete %s. %s\nupdate add %s. 60 %s %s\nsend\n' % (host, rr, host, rr, ip)
    r = subprocess.run(['nsupdate'], input=script, capture_output=True, text=True)
    if r.returncode != 0:
        print('nsupdate: ' + r.stderr, flush=True)


# ---- the router -----------------------------------------------------------------------

class Router:
    def __init__(self, dir):
        self.dir = dir
        self.root = os.path.join(dir, 'root')

    def start(self):
        run([BOOT, 'start', self.dir, '--same-net', '--http-port', str(HTTP_PORT),
             '--root-password', ROOT_PW], 'boot')

    def stop(self):
        subprocess.run([BOOT, 'stop', self.dir])

    def sh(self, script, check=True):
        r = subprocess.run([BOOT, 'exec', self.dir, script], capture_output=True, text=True)
        if check and r.returncode != 0:
            fail('in the router: %s\nexit %d\n%s%s' % (script, r.returncode, r.stdout, r.stderr))
        return r.stdout

    # The router's / is an overlay in its own mount namespace: files go through it.
    def read(self, p):
        r = subprocess.run([BOOT, 'exec', self.dir, 'cat', p], capture_output=True, text=True)
        if r.returncode != 0:
            fail('cannot read %s in the router: %s' % (p, r.stderr))
        return r.stdout

    def write(self, p, text, mode=0o644):
        r = subprocess.run([BOOT, 'exec', self.dir, '/bin/sh', '-c',
                            'umask 077 && cat >"$0" && chmod %o "$0"' % mode, p],
                           input=text, capture_output=True, text=True)
        if r.returncode != 0:
            fail('cannot write %s in the router: %s' % (p, r.stderr))

    def mode(self, p):
        return int(self.sh('stat -c %%a %s' % p).strip(), 8)

    def pid(self):
        """The daemon's PID as procd reports it."""
        out = self.sh('ubus call service list \'{"name":"dynhost"}\'')
        inst = json.loads(out or '{}').get('dynhost', {}).get('instances', {})
        pids = [i.get('pid') for i in inst.values() if i.get('running')]
        return pids[0] if pids else None


def run(argv, what):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        fail('%s: exit %d\n%s%s' % (what, r.returncode, r.stdout, r.stderr))
    return r.stdout


def wait_for(what, pred, timeout=STEP_TIMEOUT, evidence=lambda: ''):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            fail('%s: not within %d s. %s' % (what, timeout, evidence()))
        time.sleep(0.2)


CONFIG = """
config dynhost 'global'
	option state_dir '/var/lib/dynhost'
	option debounce '0s'
	option url 'http://127.0.0.1:{prov}/nic/update'
	option verify '1'
	list verify_server '127.0.0.1'

config record 'home'
	option enabled '1'
	option hostname '{host}'
	option username 'example.com-home'
	option password_file '/etc/dynhost/home.secret'
	option interface 'wan'
	option ipv4 '1'
	option ipv6 '0'
"""


# ---- the browser ---------------------------------------------------------------------

def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = '/usr/bin/chromium'
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--window-size=1400,1000',
              '--disable-dev-shm-usage', '--no-first-run', '--lang=en-US'):
        opts.add_argument(a)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL', 'performance': 'ALL'})
    return webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=opts)


class Page:
    """The browser, with every page and rpc answer it saw kept for the secrets check."""

    def __init__(self, driver):
        self.d = driver
        self.seen = []  # (where, text)
        self.console = []
        self.base = 'http://127.0.0.1:%d/cgi-bin/luci' % HTTP_PORT

    def css(self, sel):
        from selenium.webdriver.common.by import By
        return self.d.find_elements(By.CSS_SELECTOR, sel)

    def one(self, sel, what=None, timeout=STEP_TIMEOUT):
        return wait_for(what or sel, lambda: (self.css(sel) or [None])[0], timeout,
                        lambda: self.snapshot())

    def snapshot(self):
        try:
            return 'page text:\n' + self.d.find_element('tag name', 'body').text[-3000:]
        except Exception as e:
            return 'no page: %r' % e

    def collect(self, where):
        """Keeps the page's HTML and the bodies of the rpc answers since the last call."""
        self.seen.append((where, self.d.page_source))
        for entry in self.d.get_log('performance'):
            msg = json.loads(entry['message'])['message']
            if msg.get('method') != 'Network.responseReceived':
                continue
            url = msg['params']['response']['url']
            if '/ubus' not in url and '/cgi-bin/' not in url:
                continue
            try:
                body = self.d.execute_cdp_cmd('Network.getResponseBody',
                                              {'requestId': msg['params']['requestId']})
                self.seen.append((url, body.get('body', '')))
            except Exception:
                pass  # a redirect or an evicted body: nothing to keep
        for e in self.d.get_log('browser'):
            self.console.append((where, e))

    def login(self, user, pw):
        """Logs in through LuCI's sysauth form (filled and submitted by script: the
        theme keeps it under an overlay that WebDriver deems not interactable)."""
        self.d.delete_all_cookies()
        self.d.get(self.base + '/')
        form = self.one('#luci_password', 'the login form')
        self.d.execute_script(
            "document.getElementById('luci_username').value = arguments[0];"
            "document.getElementById('luci_password').value = arguments[1];"
            "arguments[2].form.submit();", user, pw, form)
        wait_for('logged in as ' + user,
                 lambda: self.session() and self.css('#maincontent') and not self.css('#luci_password'),
                 evidence=self.snapshot)
        # The login page's own console errors (LuCI asks rpcd before there is a
        # session) are not the app's.
        self.d.get_log('browser')
        self.d.get_log('performance')

    def session(self):
        c = self.d.get_cookie('sysauth_http') or self.d.get_cookie('sysauth')
        return c and c['value']

    def open(self, path):
        self.d.get(self.base + '/' + path)
        # uhttpd's LuCI handler now and then answers Bad Gateway (no output from the
        # dispatcher within uhttpd's script timeout), seen right after a login or an rpcd
        # restart while the machine was under heavy load; the same pages fetched one by
        # one with curl take 10-25 ms. One more try, said in the output.
        for _ in range(2):
            if 'Bad Gateway' not in self.d.find_element('tag name', 'body').text:
                break
            log('Bad Gateway from uhttpd for %s: loading it again' % path)
            # That page's own errors (its scripts read the error page) go with it.
            self.d.get_log('browser')
            time.sleep(1)
            self.d.get(self.base + '/' + path)


def fresh(fn):
    """fn() again while LuCI's poll replaces the element under it (every 10 s)."""
    from selenium.common.exceptions import StaleElementReferenceException
    for _ in range(5):
        try:
            return fn()
        except StaleElementReferenceException:
            time.sleep(0.2)
    return fn()


def row_cell(page, field):
    sel = ('#dynhost-status tr[data-hostname="%s"][data-family="ipv4"] td[data-field="%s"]'
           % (HOSTNAME, field))
    return fresh(lambda: ''.join(c.text for c in page.css(sel)))


def click(page, sel, what=None):
    fresh(lambda: page.one(sel, what).click())


# ---- the scenario ----------------------------------------------------------------------

def main():
    if os.environ.get('DYNHOST_LUCI_NS') != '1':
        ensure_tools()
        # Everything below in a network namespace of its own: the router's veth,
        # uhttpd, the provider, the DNS server and the browser all live there.
        env = dict(os.environ, DYNHOST_LUCI_NS='1')
        sys.exit(subprocess.run(['unshare', '--net', sys.executable] + sys.argv, env=env).returncode)
    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)

    shots = os.environ.get('DYNHOST_SCREENSHOTS') or os.path.join(REPO, 'target/luci')
    os.makedirs(shots, exist_ok=True)
    work = os.path.join(REPO, 'target/luci-test')
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    prov = socketserver.ThreadingTCPServer(('127.0.0.1', 0), Provider)
    threading.Thread(target=prov.serve_forever, daemon=True).start()
    api = socketserver.ThreadingTCPServer(('127.0.0.1', 0), OvhApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    global API_URL
    API_URL = 'http://127.0.0.1:%d/1.0' % api.server_address[1]
    named = start_bind(work)

    router = Router(os.path.join(work, 'router'))
    router.start()
    try:
        scenario(router, prov.server_address[1], shots)
    finally:
        router.stop()
        named.kill()
    log('all checks passed')


def scenario(router, prov_port, shots):
    log('booted')
    router.write('/etc/config/dynhost', CONFIG.format(prov=prov_port, host=HOSTNAME), 0o600)
    router.write('/etc/dynhost/home.secret', FIRST_SECRET + '\n', 0o600)
    router.write('/etc/ovh.conf', '[default]\nendpoint=%s\n[%s]\napplication_key=ak-1\n'
                 'application_secret=%s\nconsumer_key=%s\n' % (API_URL, API_URL, API_SECRET, CONSUMER_KEY),
                 0o600)
    # (the rig's rootfs has no /etc/rc.d yet: enable needs it)
    router.sh('mkdir -p /etc/rc.d && /etc/init.d/dynhost enable && /etc/init.d/dynhost start')
    # A LuCI page renders in about 20 ms here; a dispatcher that hangs (see Page.open)
    # costs 15 s instead of uhttpd's default 60.
    router.sh('uci set uhttpd.main.script_timeout=15 && uci commit uhttpd && /etc/init.d/uhttpd restart')
    wait_for('the daemon publishes %s at the provider' % WAN_ADDR,
             lambda: WORLD.zone.get(HOSTNAME) == WAN_ADDR,
             evidence=lambda: router.sh('logread | tail -20', check=False))
    pid = wait_for('procd runs the daemon', router.pid)
    log('daemon %d published %s' % (pid, WAN_ADDR))

    page = Page(browser())
    try:
        run_browser(page, router, pid, shots)
    except BaseException as e:
        page.d.save_screenshot(os.path.join(shots, 'failure.png'))
        if not isinstance(e, SystemExit):
            fail('%r at %s\n%s\nconsole: %r' % (e, page.d.current_url, page.snapshot(),
                                                  page.console + page.d.get_log('browser')))
        raise
    finally:
        page.d.quit()


def run_browser(page, router, pid, shots):
    page.login('root', ROOT_PW)
    log('logged in')

    # -- status: the record the daemon published
    page.open('admin/services/dynhost')
    wait_for('the status shows the published address',
             lambda: row_cell(page, 'published') == WAN_ADDR, evidence=page.snapshot)
    wait_for('the status shows the last reply', lambda: 'good ' + WAN_ADDR in row_cell(page, 'last_reply'),
             evidence=page.snapshot)
    running = fresh(lambda: (lambda e: (e.get_attribute('data-running'), e.text))(
        page.one('#dynhost-service [data-running]')))
    if running[0] != '1' or str(pid) not in running[1]:
        fail('the service box says %r' % (running,))
    page.collect('status')
    page.d.save_screenshot(os.path.join(shots, 'luci-status.png'))
    log('status shows %s published' % WAN_ADDR)

    # -- update now: one request at the provider, the new reply shown
    before = WORLD.count()
    click(page, 'button[data-action="update"][data-hostname="%s"]' % HOSTNAME)
    wait_for('update now answers', lambda: page.css('#dynhost-result [data-result]'), evidence=page.snapshot)
    wait_for('the page shows the new reply', lambda: 'nochg ' + WAN_ADDR in row_cell(page, 'last_reply'),
             evidence=page.snapshot)
    time.sleep(0.5)
    if WORLD.count() != before + 1:
        fail('update now made %d requests at the provider, not 1' % (WORLD.count() - before))
    page.collect('update now')
    log('update now: one request, reply "nochg %s" shown' % WAN_ADDR)

    # -- verify now: the servers' answer
    click(page, 'button[data-action="verify"][data-hostname="%s"]' % HOSTNAME)
    res = wait_for('verify now answers',
                   lambda: fresh(lambda: [e.text for e in page.css('#dynhost-result [data-result]')
                                          if 'answer' in e.text]),
                   evidence=page.snapshot)[0]
    if 'the authoritative servers answer ' + WAN_ADDR not in res or '127.0.0.1' not in res:
        fail('verify now shows: %r' % res)
    page.collect('verify now')
    log('verify now: %s' % res.replace('\n', ' | '))

    # -- an invalid hostname is refused in the browser; nothing is saved
    conf0 = router.read('/etc/config/dynhost')
    open_editor(page)
    field = page.one('[id="widget.cbid.dynhost.home.hostname"]')
    field.clear()
    field.send_keys('*.example.com')
    modal_save(page)
    wait_for('the hostname is refused with its message',
             lambda: 'No wildcard' in (field.get_attribute('data-tooltip') or ''), evidence=page.snapshot)
    if not modal_open(page):
        fail('the edit dialog closed on an invalid hostname')
    page.collect('invalid hostname')
    page.d.save_screenshot(os.path.join(shots, 'luci-invalid.png'))
    page.one('.modal .button-row > button:first-child', 'the dismiss button').click()
    wait_for('the dialog closes', lambda: not modal_open(page), evidence=page.snapshot)
    if router.read('/etc/config/dynhost') != conf0:
        fail('/etc/config/dynhost changed after a refused hostname')
    log('invalid hostname refused in the browser')

    # -- a config `dynhost check` refuses is not applied (a debounce over its 60 s)
    page.open('admin/services/dynhost')
    debounce = page.one('[id="widget.cbid.dynhost.global.debounce"]')
    debounce.clear()
    debounce.send_keys('2m')
    save_apply(page)
    refusal = page.one('#dynhost-check-refusal', 'check refuses the config').text
    if "debounce '2m'" not in refusal or '/etc/config/dynhost:' not in refusal:
        fail('the refusal does not locate the problem: %r' % refusal)
    time.sleep(1)
    if router.read('/etc/config/dynhost') != conf0:
        fail('/etc/config/dynhost changed although check refused it')
    if router.pid() != pid:
        fail('the daemon was restarted by a refused apply')
    page.collect('refused apply')
    log('check refused: %s' % refusal.replace('\n', ' | '))
    router.sh('rm -rf /var/run/rpcd/uci-* 2>/dev/null; true')  # forget the staged change

    # -- edit a record (login and password) and Save & Apply: SIGHUP, state kept
    state0 = router.read('/var/lib/dynhost/state')
    since0 = row_cell_since(page, router)
    page.open('admin/services/dynhost')
    open_editor(page)
    page.d.save_screenshot(os.path.join(shots, 'luci-edit.png'))
    login = page.one('[id="widget.cbid.dynhost.home.username"]')
    login.clear()
    login.send_keys('example.com-home2')
    pw = page.one('[id="widget.cbid.dynhost.home.password"]')
    if pw.get_attribute('value'):
        fail('the password field shows a value')
    pw.send_keys(NEW_SECRET)
    modal_save(page)
    wait_for('the edit dialog closes', lambda: not modal_open(page), evidence=page.snapshot)
    save_apply(page)
    wait_for('/etc/config/dynhost has the new login',
             lambda: "'example.com-home2'" in router.read('/etc/config/dynhost'),
             evidence=page.snapshot)
    wait_for('LuCI confirms the apply', lambda: 'applied' in page.d.find_element('tag name', 'body').text.lower()
             or not page.css('.spinning'), evidence=page.snapshot)
    wait_for('the daemon logs its reload',
             lambda: 'reload' in router.sh('logread -e dynhost', check=False).lower(),
             evidence=lambda: router.sh('logread | tail -20', check=False))
    if router.pid() != pid:
        fail('Save & Apply restarted the daemon: PID %s, was %d' % (router.pid(), pid))
    mode = router.mode('/etc/dynhost/home.secret')
    if router.read('/etc/dynhost/home.secret') != NEW_SECRET + '\n' or mode != 0o600:
        fail('the password file holds %r, mode %o' % (router.read('/etc/dynhost/home.secret'), mode))
    if 'password' in re.sub(r'password_file', '', router.read('/etc/config/dynhost')):
        fail('an inline password landed in /etc/config/dynhost')
    page.open('admin/services/dynhost')
    wait_for('the status after the reload', lambda: row_cell(page, 'published') == WAN_ADDR,
             evidence=page.snapshot)
    if row_cell_since(page, router) != since0:
        fail('the published address lost its date: state not kept (%r, was %r)'
             % (row_cell_since(page, router), since0))
    if '"published"' not in router.read('/var/lib/dynhost/state') and '"published"' in state0:
        fail('the state file lost what was published')
    page.collect('after apply')
    log('Save & Apply: config changed, same PID %d, state kept, password file 0600' % pid)

    # -- restart from the service box: procd runs a new instance
    click(page, '#dynhost-service button[data-action="restart"]')
    new_pid = wait_for('restart gives a new daemon', lambda: (lambda p: p if p and p != pid else None)(router.pid()),
                       evidence=page.snapshot)
    wait_for('the service box shows the new PID',
             lambda: str(new_pid) in fresh(lambda: ''.join(e.text for e in page.css('#dynhost-service [data-running]'))),
             evidence=page.snapshot)
    log('restart: PID %d -> %d' % (pid, new_pid))

    # -- Create on OVH: the dry run shows the calls, and enables Create
    click(page, 'button[data-action="setup"]')
    page.one('#dynhost-setup-zone', 'the Create on OVH dialog').send_keys('example.com')
    page.one('#dynhost-setup-subdomain').send_keys('office')
    page.one('#dynhost-setup-interface').send_keys('wan')
    page.one('button[data-action="setup-dry-run"]').click()
    out = wait_for('the dry run shows the calls',
                   lambda: (lambda t: t if 'would call POST' in t else None)(page.one('#dynhost-setup-output').text),
                   evidence=lambda: page.one('#dynhost-setup-output').text)
    for needle in ('GET /domain/zone/example.com', 'would call POST /domain/zone/example.com/dynHost/login',
                   '"password":"<redacted>"', '"subDomain":"office"'):
        if needle not in out:
            fail('the dry run output lacks %r:\n%s' % (needle, out))
    page.d.save_screenshot(os.path.join(shots, 'luci-setup.png'))
    if page.one('button[data-action="setup-create"]').get_attribute('disabled') is not None:
        fail('Create stays disabled after a dry run that passed')
    if any(m != 'GET' for m, _ in OvhApi.calls):
        fail('the dry run wrote through the API: %r' % OvhApi.calls)
    page.collect('create on OVH')
    page.one('.modal .right button.btn:first-child', 'the dialog\'s cancel button').click()
    wait_for('the dialog closes', lambda: not modal_open(page), evidence=page.snapshot)
    log('Create on OVH: the dry run shows %d API reads and the calls it would make' % len(OvhApi.calls))

    # -- Status -> Overview
    page.open('admin/status/overview')
    wait_for('Status -> Overview lists the record',
             lambda: HOSTNAME in fresh(lambda: ''.join(e.text for e in page.css('#dynhost-overview'))),
             evidence=page.snapshot)
    page.collect('overview')

    # -- history and log
    page.open('admin/services/dynhost/log')
    wait_for('the log shows the daemon\'s lines',
             lambda: 'dynhost' in fresh(lambda: ''.join(e.text for e in page.css('#dynhost-log'))),
             evidence=page.snapshot)
    hist = wait_for('the history shows the record\'s events',
                    lambda: (lambda t: t if HOSTNAME in t else None)(
                        fresh(lambda: ''.join(e.text for e in page.css('#dynhost-history')))),
                    evidence=page.snapshot)
    page.collect('log')
    log('overview and log pages; history: %s' % hist.strip().split('\n')[-1][:120])

    # -- the page in Dutch
    router.sh('uci set luci.main.lang=nl && uci commit luci')
    page.open('admin/services/dynhost')
    wait_for('the page in Dutch', lambda: fresh(lambda: [b for b in page.css('button[data-action="update"]')
                                                         if b.text == 'Nu bijwerken']),
             evidence=page.snapshot)
    body = page.d.find_element('tag name', 'body').text
    for word in ('Nu controleren', 'Gepubliceerd', 'Algemene instellingen'):
        if word not in body:
            fail('Dutch page lacks %r' % word)
    page.collect('dutch')
    router.sh('uci set luci.main.lang=auto && uci commit luci')
    log('Dutch')

    # -- no secret in any page or rpc answer, no console error
    for where, text in page.seen:
        for s in SECRETS:
            if s in text:
                fail('a secret (%s...) appears in %s' % (s[:4], where))
    # Uncaught exceptions and console.error, and any failed load of the app's own files.
    # (LuCI's apply asks /usr/libexec/luci-peeraddr through cgi-exec, which the rig's
    # rootfs lacks: a failed request LuCI ignores, not a JavaScript error.)
    errors = [(w, e['message']) for w, e in page.console if e.get('level') == 'SEVERE'
              and (e.get('source') != 'network' or 'dynhost' in e['message'])]
    if errors:
        fail('JavaScript console errors: %r' % errors)
    log('%d pages and rpc answers hold no secret; no console error' % len(page.seen))

    # -- a LuCI user without the app's ACL sees nothing of dynhost
    hashed = subprocess.run(['openssl', 'passwd', '-1', 'viewer-pw'], capture_output=True, text=True,
                            check=True).stdout.strip()
    # A status viewer: LuCI's base and status pages, not dynhost's ACL.
    router.sh("uci add rpcd login >/dev/null && uci set rpcd.@login[-1].username=viewer && "
              "uci set rpcd.@login[-1].password='%s' && "
              "for a in luci-base luci-mod-status-index luci-mod-status; do "
              "uci add_list rpcd.@login[-1].read=$a; done && "
              "uci add_list rpcd.@login[-1].write=luci-base && uci commit rpcd && /etc/init.d/rpcd reload" % hashed)
    # rpcd is back, with the new login, before the browser asks (uhttpd's LuCI handler
    # answers Bad Gateway to a request that meets rpcd restarting).
    wait_for('rpcd knows the viewer', lambda: 'ubus_rpc_session' in router.sh(
        'ubus call session login \'{"username":"viewer","password":"viewer-pw"}\'', check=False))
    time.sleep(0.5)
    page.login('viewer', 'viewer-pw')
    sid = page.session()
    page.open('admin/status/overview')
    page.one('#maincontent .cbi-section, #maincontent table', 'the viewer\'s Status -> Overview')
    time.sleep(2)
    body = page.d.find_element('tag name', 'body').text
    menu = [a.get_attribute('href') or '' for a in page.css('a')]
    if HOSTNAME in body or page.css('#dynhost-overview') or any('dynhost' in h for h in menu):
        fail('a user without the ACL sees dynhost on Status -> Overview: %s' % body[-1500:])
    page.open('admin/services/dynhost')
    time.sleep(2)
    body = page.d.find_element('tag name', 'body').text
    if HOSTNAME in body or page.css('#dynhost-status, button[data-action]'):
        fail('a user without the ACL sees dynhost: %s' % body[-1500:])
    answer = ubus_call(sid, 'file', 'exec', {'command': '/usr/bin/dynhost',
                                             'params': ['-c', '/etc/config/dynhost', 'status', '--json']})
    if 'error' not in answer and (answer.get('result') or [0])[0] == 0:
        fail('rpcd lets a user without the ACL run dynhost: %r' % answer)
    answer = ubus_call(sid, 'uci', 'get', {'config': 'dynhost'})
    if 'error' not in answer and (answer.get('result') or [0])[0] == 0:
        fail('rpcd shows dynhost\'s config to a user without the ACL: %r' % answer)
    log('a user without the ACL: no menu entry, no exec, no uci read')


def row_cell_since(page, router):
    st = json.loads(router.sh('dynhost -c /etc/config/dynhost status --json'))
    return [r['published']['at'] for r in st['records'] if r['hostname'] == HOSTNAME and r['published']][0]


def ubus_call(sid, obj, method, args):
    import urllib.request
    req = json.dumps({'jsonrpc': '2.0', 'id': 1, 'method': 'call', 'params': [sid, obj, method, args]})
    r = urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:%d/ubus' % HTTP_PORT, req.encode(),
                                                      {'Content-Type': 'application/json'}), timeout=20)
    return json.loads(r.read())


def open_editor(page):
    page.one('tr[data-sid="home"] button.cbi-button-edit', 'the record\'s edit button').click()
    page.one('.modal [id="widget.cbid.dynhost.home.hostname"]', 'the edit dialog')
    time.sleep(0.3)


def modal_open(page):
    return 'modal-overlay-active' in (page.d.find_element('tag name', 'body').get_attribute('class') or '')


def modal_save(page):
    page.one('.modal .cbi-button-positive', 'the dialog\'s save button').click()


def save_apply(page):
    page.one('.cbi-page-actions .cbi-button-apply', 'Save & Apply').click()


if __name__ == '__main__':
    main()
