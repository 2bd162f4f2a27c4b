// Page glue of verifiable secret ballots (docs/ballots.md): the encrypted
// ballot forms of the assembly page (encrypt, challenge or cast) and the
// trustee's part on the election page (key ceremony, decryption). The
// cryptography is in ballot.js. The choice and the randomness never leave
// this page: only ciphertexts and proofs are sent.
//
// Every text shown comes from the page, in the reader's language: the
// data-* attributes of #ballot-texts (views/election.templ ballotTexts),
// with {name} placeholders filled in here.
import * as B from './ballot.js';

const texts = document.getElementById('ballot-texts')?.dataset || {};
const t = (key, vars = {}) => (texts[key] || key).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || '';

async function call(method, url, body) {
  const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.headers['X-CSRF-Token'] = csrf();
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(url, opts);
  let data = {};
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const e = data.error || {};
    const fields = e.fields ? Object.values(e.fields).join(' ') : '';
    throw new Error(fields || e.message || t('portalAnswered', { status: res.status }));
  }
  return data;
}

const say = (el, text, kind) => {
  el.textContent = text;
  el.className = el.className.replace(/\b(ok|error)\b/g, '').trim() + (kind ? ' ' + kind : '');
};

// --- voters ------------------------------------------------------------------

// optionLabel names a ballot option: yes, no and abstain in the reader's
// language, a candidate by name.
const optionLabel = (o) => ({ yes: t('optYes'), no: t('optNo'), abstain: t('optAbstain') })[o] || o;

function votesOf(form, q) {
  const chosen = [...form.querySelectorAll('input[name="option"]:checked')].map((i) => Number(i.value));
  const votes = new Array(q.options.length).fill(0);
  const abstain = q.options.length - 1;
  if (chosen.length === 0) {
    if (q.min === 1 && q.max === 1) throw new Error(t('chooseYesNo'));
    votes[abstain] = 1; // an election ballot without candidates abstains
    return votes;
  }
  if (chosen.length > q.max && !chosen.includes(abstain)) throw new Error(t('chooseAtMost', { max: q.max }));
  for (const i of chosen) votes[i] = 1;
  return votes;
}

function setUpBallot(form) {
  const q = JSON.parse(form.dataset.question);
  const y = B.point(form.dataset.key);
  const question = { options: q.options.length, min: q.min, max: q.max };
  const ctx = B.itemContext(form.dataset.assembly, form.dataset.item, y, question);
  const panel = form.querySelector('.enc-panel');
  const status = form.querySelector('.enc-status');
  let pending = null; // {ballot, randomness, tracker, votes}

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    try {
      const votes = votesOf(form, q);
      const t0 = performance.now();
      const { ballot, randomness } = B.encryptBallot(ctx, y, question, votes);
      pending = { ballot, randomness, votes, tracker: B.tracker(ctx, ballot) };
      form.dataset.encryptMs = String(performance.now() - t0);
      panel.querySelector('.tracker').textContent = pending.tracker;
      panel.hidden = false;
      say(status, t('castOrChallenge'));
    } catch (e) {
      say(status, e.message, 'error');
    }
  });

  panel.querySelector('.challenge').addEventListener('click', () => {
    if (!pending) return;
    try {
      const votes = B.openBallot(y, pending.ballot, pending.randomness);
      const chosen = q.options.filter((_, i) => votes[i] === 1).map(optionLabel);
      const audit = document.createElement('div');
      audit.className = 'challenge-result flash';
      audit.innerHTML = '<p></p><details><summary></summary><pre class="wrap"></pre></details>';
      audit.querySelector('summary').textContent = t('revealedRandomness');
      audit.querySelector('p').textContent = t('challenged', { tracker: pending.tracker.slice(0, 16), choices: chosen.join(', ') });
      audit.querySelector('pre').textContent = JSON.stringify({ tracker: pending.tracker, ballot: pending.ballot, randomness: pending.randomness }, null, 1);
      status.replaceChildren(audit);
    } catch (e) {
      say(status, t('notWhatChosen', { error: e.message }), 'error');
    }
    pending = null;
    panel.hidden = true;
  });

  panel.querySelector('.cast').addEventListener('click', async () => {
    if (!pending) return;
    const p = pending;
    pending = null;
    panel.hidden = true;
    try {
      const r = await call('POST', `/assemblies/${form.dataset.assembly}/items/${form.dataset.item}/encrypted-ballot`,
        { on_behalf_of: form.dataset.onBehalfOf, ballot: p.ballot });
      const done = document.createElement('div');
      done.className = 'flash success cast-result';
      done.innerHTML = '<p></p><p><span class="tracker-label"></span> <code class="wrap"></code> <span class="tracker-note"></span></p>';
      done.querySelector('p').textContent = r.replaced ? t('replaced') : t('cast');
      done.querySelector('.tracker-label').textContent = t('yourTracker');
      done.querySelector('.tracker-note').textContent = t('trackerNote');
      done.querySelector('code').textContent = r.tracker;
      status.replaceChildren(done);
      form.dataset.cast = r.tracker;
      for (const i of form.querySelectorAll('input[name="option"]')) i.checked = false;
    } catch (e) {
      say(status, e.message, 'error');
    }
  });
  form.querySelector('button.encrypt').disabled = false;
}

// --- trustees ----------------------------------------------------------------

const storeKey = (assembly, me) => `allmende-trustee-${assembly}-${me}`;

function offerDownload(link, file, name) {
  link.href = URL.createObjectURL(new Blob([JSON.stringify(file)], { type: 'application/json' }));
  link.download = name;
  link.hidden = false;
}

async function loadKeyFile(sec, assembly, me) {
  const input = sec.querySelector('#trustee-keyfile');
  if (input.files && input.files[0]) return JSON.parse(await input.files[0].text());
  const stored = localStorage.getItem(storeKey(assembly, me));
  if (!stored) throw new Error(t('noKey'));
  return JSON.parse(stored);
}

function setUpTrustee(sec) {
  const assembly = sec.dataset.assembly, me = Number(sec.dataset.me);
  const button = sec.querySelector('#trustee-action');
  const status = sec.querySelector('#trustee-status');
  const link = sec.querySelector('#trustee-download');
  const pass = sec.querySelector('#trustee-passphrase');
  let state = null, step = null;

  const saveSecrets = async (secrets) => {
    const file = await B.sealKeyFile(pass.value, secrets);
    localStorage.setItem(storeKey(assembly, me), JSON.stringify(file));
    offerDownload(link, file, `trustee-${me}-${assembly}.json`);
  };
  const openSecrets = async () => B.openKeyFile(pass.value, await loadKeyFile(sec, assembly, me));

  const steps = {
    async register() {
      if (pass.value.length < 10) throw new Error(t('passphraseShort'));
      const poly = B.newPolynomial(state.threshold);
      const z = B.randomScalar();
      const ectx = B.electionContext(assembly, state.threshold, state.trustees.length);
      await saveSecrets({ assembly, index: me, poly: poly.map(B.scalarHex), z: B.scalarHex(z) });
      await call('POST', `/assemblies/${assembly}/election/register`, {
        transport_key: B.publicKeyOf(z), commitments: B.commitments(poly), proof: B.proveConstant(ectx, me, poly[0]),
      });
      return t('keyMade');
    },
    async deal() {
      const s = await openSecrets();
      const poly = s.poly.map(B.parseScalar);
      const ectx = B.electionContext(assembly, state.threshold, state.trustees.length);
      const shares = state.trustees.map((t) => B.encryptShare(ectx, me, t.index, t.transport_key, B.polyAt(poly, t.index)));
      await call('POST', `/assemblies/${assembly}/election/deal`, { shares });
      return t('sharesSent');
    },
    async confirm() {
      const s = await openSecrets();
      const z = B.parseScalar(s.z);
      const ectx = B.electionContext(assembly, state.threshold, state.trustees.length);
      let x = 0n;
      for (const sh of state.shares_to_me) {
        const v = B.decryptShare(ectx, z, sh);
        if (!B.verifyShare(state.trustees[sh.from - 1].commitments, me, v)) {
          throw new Error(t('shareMismatch', { from: sh.from }));
        }
        x = B.addScalars(x, v);
      }
      await saveSecrets({ ...s, x: B.scalarHex(x) });
      await call('POST', `/assemblies/${assembly}/election/confirm`, { verification_key: B.publicKeyOf(x) });
      return t('confirmed');
    },
    async decrypt() {
      const s = await openSecrets();
      if (!s.x) throw new Error(t('keyTooOld'));
      const x = B.parseScalar(s.x);
      const y = B.point(state.public_key);
      let n = 0;
      for (const it of state.items) {
        if (it.decrypted_by.includes(me)) continue;
        const q = { options: it.options.length, min: it.min, max: it.max };
        const ctx = B.itemContext(assembly, it.id, y, q);
        await call('POST', `/assemblies/${assembly}/election/decrypt`, { item_id: it.id, decryption: B.partialDecrypt(ctx, me, x, it.tally) });
        n++;
      }
      return n === 1 ? t('decryptedOne') : t('decryptedMany', { n });
    },
  };

  const labels = { register: t('stepRegister'), deal: t('stepDeal'), confirm: t('stepConfirm'), decrypt: t('stepDecrypt') };

  async function refresh() {
    state = await call('GET', `/assemblies/${assembly}/election/state`);
    const mine = state.trustees.find((t) => t.index === me);
    step = null;
    let wait = '';
    if (state.assembly_status === 'planned') {
      if (state.phase === 'register' && !mine.registered) step = 'register';
      else if (state.phase === 'deal' && !mine.dealt) step = 'deal';
      else if (state.phase === 'confirm' && !mine.confirmed) step = 'confirm';
      else if (state.phase !== 'ready') wait = t('waitTrustees');
      else wait = t('keyReady');
    } else if (state.assembly_status === 'counting') {
      if (state.items.some((it) => !it.decrypted_by.includes(me))) step = 'decrypt';
      else wait = t('decryptedAll');
    } else if (state.assembly_status === 'voting') {
      wait = t('votingOpen');
    } else {
      wait = t('closed');
    }
    button.hidden = !step;
    button.disabled = !step;
    if (step) button.textContent = labels[step];
    sec.dataset.step = step || 'wait';
    sec.dataset.phase = state.phase;
    // A step's own message stays until the next step; waiting notes replace waiting notes.
    if (wait && (status.textContent === '' || status.dataset.wait === '1')) {
      say(status, wait);
      status.dataset.wait = '1';
    }
  }

  button.addEventListener('click', async () => {
    if (!step) return;
    button.disabled = true;
    status.dataset.wait = '0';
    say(status, t('working'));
    try {
      say(status, await steps[step](), 'ok');
    } catch (e) {
      say(status, e.message, 'error');
    }
    await refresh().catch((e) => say(status, e.message, 'error'));
  });

  refresh().catch((e) => say(status, e.message, 'error'));
  setInterval(() => { if (!step) refresh().catch(() => {}); }, 4000);
}

for (const form of document.querySelectorAll('form.encrypted-ballot[data-key]')) setUpBallot(form);
const trustee = document.querySelector('#trustee[data-me]');
if (trustee) setUpTrustee(trustee);
