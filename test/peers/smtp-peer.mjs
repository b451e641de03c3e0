// SMTP submission peer for tests (adapted from the shared peers kit), built on nodemailer's smtp-server.
//   usage: node smtp-peer.mjs CONFIG_JSON     (CONFIG_JSON = the peers.json that peers.sh is writing)
// Listeners (all on cfg.host):
//   smtp.starttls      plain + STARTTLS; AUTH is refused until STARTTLS (538)
//   smtp.tls           implicit TLS
//   smtp.noStarttls    plain only: STARTTLS neither advertised nor accepted; AUTH allowed in cleartext
//   smtp.untrustedTls  implicit TLS with a certificate from a second CA that is NOT in caFile
// AUTH PLAIN/LOGIN against the Dovecot passwd-file ({PLAIN} only; re-read whenever it changes, so users
// added by addMailbox() work at once), AUTH XOAUTH2 against the issuer's /userinfo.
// Every accepted message is captured as captureDir/<id>.eml + <id>.json (written atomically: tmp + rename),
// and recipients that exist in the passwd-file are delivered into their Dovecot INBOX over LMTP.
// Test hooks: a recipient whose local part starts with "reject" gets 550, "tempfail" gets 451.
import { SMTPServer } from 'smtp-server';
import nodemailer from 'nodemailer';
import fs from 'node:fs';
import path from 'node:path';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const verbose = !!process.env.SMTP_LOG; // smtp-server's own protocol log
const log = (...a) => console.log(new Date().toISOString(), ...a);
fs.mkdirSync(cfg.captureDir, { recursive: true });

// ---- passwd-file users: "user:{PLAIN}password:..." ----
let users = new Map();
let usersStamp = '';
function refreshUsers() {
  let st;
  try { st = fs.statSync(cfg.usersFile); } catch { users = new Map(); return users; }
  const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
  if (stamp === usersStamp) return users; // one stat per AUTH / message: cheap
  const m = new Map();
  for (const line of fs.readFileSync(cfg.usersFile, 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [user, pw = ''] = line.split(':');
    m.set(user.toLowerCase(), pw.replace(/^\{PLAIN\}/, ''));
  }
  users = m;
  usersStamp = stamp;
  return users;
}
refreshUsers();
process.on('SIGHUP', () => { usersStamp = ''; refreshUsers(); });

// "alice+tag@x" is alice@x's mailbox (Dovecot's recipient_delimiter is "+")
const mailboxOf = (addr) => addr.toLowerCase().replace(/^([^@+]*)\+[^@]*@/, '$1@');

const lmtp = nodemailer.createTransport({ host: cfg.host, port: cfg.lmtp, lmtp: true, ignoreTLS: true, pool: true, maxConnections: 4 });
let seq = 0;

const smtpError = (code, text) => Object.assign(new Error(text), { responseCode: code });

async function onAuth(auth, session, cb) {
  const listener = this.peerListener;
  try {
    if (auth.method === 'XOAUTH2') {
      const r = await fetch(`${cfg.oauth.url}/userinfo`, { headers: { authorization: `Bearer ${auth.accessToken}` } });
      const j = r.ok ? await r.json() : null;
      if (j?.active && String(j.email).toLowerCase() === String(auth.username).toLowerCase()) {
        session.authMethod = auth.method;
        log(`${listener} AUTH XOAUTH2 ok ${auth.username}`);
        return cb(null, { user: auth.username });
      }
      log(`${listener} AUTH XOAUTH2 FAILED ${auth.username}`);
      // XOAUTH2 failure: smtp-server sends this JSON as a 334 challenge, then 535 after the client's empty line
      return cb(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.example.test/' } });
    }
    const pw = refreshUsers().get(String(auth.username).toLowerCase());
    if (pw !== undefined && pw === auth.password) {
      session.authMethod = auth.method;
      log(`${listener} AUTH ${auth.method} ok ${auth.username}`);
      return cb(null, { user: auth.username });
    }
    log(`${listener} AUTH ${auth.method} FAILED ${auth.username}`);
    return cb(smtpError(535, '5.7.8 Authentication credentials invalid'));
  } catch (err) {
    log(`${listener} AUTH ${auth.method} error ${err.message}`);
    cb(smtpError(454, '4.7.0 Temporary authentication failure'));
  }
}

function onRcptTo(addr, session, cb) {
  const local = addr.address.split('@')[0].toLowerCase();
  if (local.startsWith('reject')) return cb(smtpError(550, '5.1.1 Recipient rejected (test hook)'));
  if (local.startsWith('tempfail')) return cb(smtpError(451, '4.3.0 Try again later (test hook)'));
  cb();
}

// Message-ID and Subject from the header block (unfolded, not decoded)
function headerFields(raw) {
  const text = raw.subarray(0, 64 * 1024).toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const head = (end >= 0 ? text.slice(0, end) : text).replace(/\r?\n[ \t]+/g, ' ');
  const get = (name) => {
    const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head);
    return m ? m[1].trim() : null;
  };
  return { messageId: get('Message-ID'), subject: get('Subject') };
}

function writeAtomic(file, data) {
  fs.writeFileSync(`${file}.tmp`, data);
  fs.renameSync(`${file}.tmp`, file);
}

function onData(stream, session, cb) {
  const listener = this.peerListener;
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', async () => {
    if (stream.sizeExceeded) return cb(smtpError(552, '5.3.4 Message too big'));
    const id = `${Date.now()}-${process.pid}-${++seq}`;
    const received = `Received: from [${session.remoteAddress}] (${session.clientHostname}) by localhost (mailport smtp-peer)` +
      ` with ${session.transmissionType} id ${id}; ${new Date().toUTCString()}\r\n`;
    const body = Buffer.concat(chunks);
    const raw = Buffer.concat([Buffer.from(received), body]);
    const to = session.envelope.rcptTo.map((r) => r.address);
    const known = refreshUsers();
    const local = to.filter((a) => known.has(mailboxOf(a)));
    const record = {
      id,
      listener,
      receivedAt: new Date().toISOString(),
      remoteAddress: session.remoteAddress,
      secure: session.secure,
      user: session.user || null,
      authMethod: session.authMethod || null,
      from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
      to,
      ...headerFields(body),
      size: raw.length,
      delivered: local,
      emlFile: path.join(cfg.captureDir, `${id}.eml`),
    };
    try {
      if (local.length) await lmtp.sendMail({ envelope: { from: record.from, to: local }, raw });
      // .eml first, .json last: readers poll for .json, so the .eml is complete when they see it
      writeAtomic(record.emlFile, raw);
      writeAtomic(path.join(cfg.captureDir, `${id}.json`), JSON.stringify(record, null, 2));
      log(`${listener} accepted ${id} from=<${record.from}> to=${to.join(',')} lmtp=${local.join(',') || '-'} message-id=${record.messageId}`);
      cb(null, `2.0.0 Ok: queued as ${id}`);
    } catch (err) {
      log(`${listener} delivery FAILED ${id}: ${err.message}`);
      cb(smtpError(451, '4.3.0 Local delivery failed: ' + err.message));
    }
  });
}

const tlsMain = { key: fs.readFileSync(cfg.tls.serverKey), cert: fs.readFileSync(cfg.tls.serverCert) };
const tlsUntrusted = { key: fs.readFileSync(cfg.tls.untrustedKey), cert: fs.readFileSync(cfg.tls.untrustedCert) };
const common = {
  name: 'localhost', banner: 'mailport smtp-peer test MSA', logger: verbose,
  authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'], authOptional: false, allowInsecureAuth: false,
  size: 25 * 1024 * 1024, onRcptTo, disableReverseLookup: true,
};
const listeners = [
  ['starttls', cfg.smtp.starttls, { ...tlsMain, secure: false }],
  ['tls', cfg.smtp.tls, { ...tlsMain, secure: true }],
  // hideSTARTTLS only drops it from EHLO; disabledCommands also makes the command itself fail (502)
  ['noStarttls', cfg.smtp.noStarttls, { secure: false, hideSTARTTLS: true, disabledCommands: ['STARTTLS'], allowInsecureAuth: true }],
  ['untrustedTls', cfg.smtp.untrustedTls, { ...tlsUntrusted, secure: true }],
];
const servers = listeners.map(([name, port, opts]) => {
  const ctx = { peerListener: name };
  const s = new SMTPServer({ ...common, ...opts, onAuth: onAuth.bind(ctx), onData: onData.bind(ctx) });
  s.on('error', (e) => log(`${name} smtp error`, e.message));
  s.listen(port, cfg.host, () => log(`smtp-peer pid ${process.pid}: ${name} on ${cfg.host}:${port}`));
  return s;
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    let n = servers.length;
    for (const s of servers) s.close(() => { if (--n === 0) { lmtp.close(); process.exit(0); } });
    // smtp-server.close() waits for open client connections; do not hang the stop
    setTimeout(() => process.exit(0), 3000).unref();
  });
}
