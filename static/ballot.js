// The browser's half of verifiable secret ballots: the twin of the Go package
// election/ (see docs/ballots.md). Every hash, encoding and proof here must
// match election/*.go byte for byte; election/browser_test.go runs this file
// under node against the Go code. No DOM here (ballot_ui.js is the page glue),
// so it runs in node too.
import { ristretto255, sha512, bytesToHex, hexToBytes, utf8ToBytes, concatBytes } from './vendor/noble.js';

const P = ristretto255.Point;
const L = P.Fn.ORDER; // the group order ℓ
export const DOMAIN = 'allmende-ballots/v1';

// --- encodings -------------------------------------------------------------

const mod = (a) => { const r = a % L; return r >= 0n ? r : r + L; };

function leToBig(b) {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) + BigInt(b[i]);
  return n;
}

function bigToLE32(n) {
  const b = new Uint8Array(32);
  for (let i = 0; i < 32; i++) { b[i] = Number(n & 0xffn); n >>= 8n; }
  return b;
}

export const scalarHex = (s) => bytesToHex(bigToLE32(s));

export function parseScalar(h) {
  const b = hexToBytes(h);
  if (b.length !== 32) throw new Error('scalar: not 32 bytes');
  const s = leToBig(b);
  if (s >= L) throw new Error('scalar: not canonical');
  return s;
}

export const pointHex = (p) => p.toHex();
export const parsePoint = (h) => P.fromHex(h);

function u32(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, false);
  return b;
}

const enc = (p) => p.toBytes();

// --- group helpers (noble refuses 0 in multiply; public values may be 0) ----

const G = P.BASE;
const mulG = (s) => (mod(s) === 0n ? P.ZERO : G.multiply(mod(s)));
const mulPub = (s, q) => (mod(s) === 0n ? P.ZERO : q.multiplyUnsafe(mod(s)));
const mulSec = (s, q) => (mod(s) === 0n ? P.ZERO : q.multiply(mod(s)));

export function randomScalar() {
  const b = new Uint8Array(64);
  crypto.getRandomValues(b);
  return mod(leToBig(b));
}

// --- Fiat-Shamir ------------------------------------------------------------

// transcript: SHA-512 over DOMAIN, 0, tag, 0, then each part as its 4-byte
// big-endian length and its bytes (election/group.go transcript).
export function transcript(tag, parts) {
  const chunks = [utf8ToBytes(DOMAIN), new Uint8Array([0]), utf8ToBytes(tag), new Uint8Array([0])];
  for (const p of parts) chunks.push(u32(p.length), p);
  return sha512(concatBytes(...chunks));
}

export const challenge = (tag, parts) => mod(leToBig(transcript(tag, parts)));

// --- contexts ---------------------------------------------------------------

export function electionContext(electionID, k, n) {
  return transcript('election', [utf8ToBytes(electionID), u32(k), u32(n)]);
}

// q = {options, min, max}
export function itemContext(electionID, itemID, y, q) {
  return transcript('item', [utf8ToBytes(electionID), utf8ToBytes(itemID), enc(y), u32(q.options), u32(q.min), u32(q.max)]);
}

// --- ElGamal and proofs -----------------------------------------------------

export function encryptWith(y, m, r) {
  return { a: mulSec(r, G), b: mulSec(r, y).add(mulG(BigInt(m))) };
}

const ctAdd = (c, d) => ({ a: c.a.add(d.a), b: c.b.add(d.b) });
const ctScale = (c, w) => (w === 1 ? c : { a: mulPub(BigInt(w), c.a), b: mulPub(BigInt(w), c.b) });
const ctZero = () => ({ a: P.ZERO, b: P.ZERO });
const ctJSON = (c) => ({ a: pointHex(c.a), b: pointHex(c.b) });
const ctParse = (c) => ({ a: parsePoint(c.a), b: parsePoint(c.b) });

function rangeCommit(y, ct, v, c, s) {
  const a = mulPub(s, G).subtract(mulPub(c, ct.a));
  const b = mulPub(s, y).subtract(mulPub(c, ct.b.subtract(mulG(BigInt(v)))));
  return [a, b];
}

// proveRange: disjunctive Chaum-Pedersen proof that ct encrypts m in lo..hi
// (election/proof.go proveRange). label is the option index, or -1 for the
// overall sum.
function proveRange(ctx, label, y, ct, m, r, lo, hi) {
  const proof = new Array(hi - lo + 1);
  const parts = [ctx, u32(label), enc(ct.a), enc(ct.b)];
  let sum = 0n;
  const w = randomScalar();
  for (let v = lo; v <= hi; v++) {
    let a, b;
    if (v === m) {
      a = mulSec(w, G); b = mulSec(w, y);
    } else {
      const c = randomScalar(), s = randomScalar();
      proof[v - lo] = { c, s };
      [a, b] = rangeCommit(y, ct, v, c, s);
      sum = mod(sum + c);
    }
    parts.push(enc(a), enc(b));
  }
  const c = challenge('range', parts);
  const cm = mod(c - sum);
  proof[m - lo] = { c: cm, s: mod(w + cm * r) };
  return proof.map((p) => ({ c: scalarHex(p.c), s: scalarHex(p.s) }));
}

function verifyRange(ctx, label, y, ct, proof, lo, hi) {
  if (!Array.isArray(proof) || proof.length !== hi - lo + 1) return false;
  const parts = [ctx, u32(label), enc(ct.a), enc(ct.b)];
  let sum = 0n;
  for (let v = lo; v <= hi; v++) {
    const c = parseScalar(proof[v - lo].c), s = parseScalar(proof[v - lo].s);
    const [a, b] = rangeCommit(y, ct, v, c, s);
    parts.push(enc(a), enc(b));
    sum = mod(sum + c);
  }
  return challenge('range', parts) === sum;
}

const weight = (q, i) => (i === q.options - 1 ? q.max : 1);

// encryptBallot encrypts votes (0/1 per option; the last option is abstain)
// and proves it well formed. Returns {ballot (JSON shape of election.Ballot),
// randomness (hex, what a Benaloh challenge reveals)}.
export function encryptBallot(ctx, y, q, votes) {
  if (votes.length !== q.options) throw new Error('one vote per option');
  const choices = [], proofs = [], rs = [];
  let total = 0, rsum = 0n, sum = ctZero();
  votes.forEach((v, i) => {
    if (v !== 0 && v !== 1) throw new Error('votes are 0 or 1');
    const r = randomScalar();
    const ct = encryptWith(y, v, r);
    choices.push(ct); rs.push(r);
    proofs.push(proveRange(ctx, i, y, ct, v, r, 0, 1));
    const w = weight(q, i);
    total += w * v; rsum = mod(rsum + BigInt(w) * r); sum = ctAdd(sum, ctScale(ct, w));
  });
  if (total < q.min || total > q.max) throw new Error(`choose ${q.min} to ${q.max}`);
  const overall = proveRange(ctx, -1, y, sum, total, rsum, q.min, q.max);
  return { ballot: { choices: choices.map(ctJSON), proofs, overall }, randomness: rs.map(scalarHex) };
}

// verifyBallot mirrors election.VerifyBallot (used by tests and by the
// challenge page to show that a ballot is well formed).
export function verifyBallot(ctx, y, q, ballot) {
  if (ballot.choices.length !== q.options || ballot.proofs.length !== q.options) return false;
  let sum = ctZero();
  for (let i = 0; i < q.options; i++) {
    const ct = ctParse(ballot.choices[i]);
    if (!verifyRange(ctx, i, y, ct, ballot.proofs[i], 0, 1)) return false;
    sum = ctAdd(sum, ctScale(ct, weight(q, i)));
  }
  return verifyRange(ctx, -1, y, sum, ballot.overall, q.min, q.max);
}

// tracker: election/ballot.go Tracker.
export function tracker(ctx, ballot) {
  const parts = [ctx];
  for (const c of ballot.choices) parts.push(concatBytes(hexToBytes(c.a), hexToBytes(c.b)));
  for (const p of [...ballot.proofs, ballot.overall]) {
    for (const br of p) parts.push(hexToBytes(br.c), hexToBytes(br.s));
  }
  return bytesToHex(transcript('tracker', parts).slice(0, 32));
}

// openBallot is the Benaloh check: with the revealed randomness, each
// ciphertext must be r·G and r·Y + m·G with m 0 or 1. Returns the votes, or
// throws if the ballot does not open to 0/1 with that randomness.
export function openBallot(y, ballot, randomness) {
  return ballot.choices.map((c, i) => {
    const ct = ctParse(c);
    const r = parseScalar(randomness[i]);
    if (!mulSec(r, G).equals(ct.a)) throw new Error(`option ${i + 1}: the randomness does not match`);
    const m = ct.b.subtract(mulSec(r, y));
    if (m.equals(P.ZERO)) return 0;
    if (m.equals(G)) return 1;
    throw new Error(`option ${i + 1}: neither 0 nor 1`);
  });
}

// --- trustees: key ceremony and decryption ---------------------------------

export function newPolynomial(k) {
  return Array.from({ length: k }, () => randomScalar());
}

export const commitments = (poly) => poly.map((a) => pointHex(mulSec(a, G)));

export function polyAt(poly, j) {
  let r = 0n;
  const x = BigInt(j);
  for (let i = poly.length - 1; i >= 0; i--) r = mod(r * x + poly[i]);
  return r;
}

// Schnorr proof of knowledge of a0 (election/trustee.go ProveConstant).
export function proveConstant(ectx, index, a0) {
  const w = randomScalar();
  const pub = mulSec(a0, G);
  const c = challenge('trustee', [ectx, u32(index), enc(pub), enc(mulSec(w, G))]);
  return { c: scalarHex(c), s: scalarHex(mod(w + c * a0)) };
}

export function publicShare(comms, j) {
  let r = P.ZERO, pow = 1n;
  for (const c of comms) {
    r = r.add(mulPub(pow, parsePoint(c)));
    pow = mod(pow * BigInt(j));
  }
  return r;
}

export const verifyShare = (comms, j, share) => mulG(share).equals(publicShare(comms, j));

function sharePad(ectx, from, to, e, k) {
  return transcript('share', [ectx, u32(from), u32(to), enc(e), enc(k)]).slice(0, 32);
}

export function encryptShare(ectx, from, to, zHex, share) {
  const e = randomScalar();
  const ep = mulSec(e, G);
  const pad = sharePad(ectx, from, to, ep, mulSec(e, parsePoint(zHex)));
  const x = bigToLE32(share).map((b, i) => b ^ pad[i]);
  return { from, to, e: pointHex(ep), x: bytesToHex(x) };
}

export function decryptShare(ectx, z, s) {
  const ep = parsePoint(s.e);
  const pad = sharePad(ectx, s.from, s.to, ep, mulSec(z, ep));
  const x = hexToBytes(s.x).map((b, i) => b ^ pad[i]);
  const v = leToBig(x);
  if (v >= L) throw new Error('share does not decrypt');
  return v;
}

export const addScalars = (a, b) => mod(a + b);

export const publicKeyOf = (x) => pointHex(mulSec(x, G));

// partialDecrypt: election/decrypt.go PartialDecrypt.
export function partialDecrypt(ctx, j, x, tally) {
  const xPub = mulSec(x, G);
  return {
    trustee: j,
    factors: tally.map((t, i) => {
      const a = parsePoint(t.a);
      const d = mulSec(x, a);
      const w = randomScalar();
      const c = challenge('decrypt', [ctx, u32(j), u32(i), enc(xPub), enc(a), enc(d), enc(mulSec(w, G)), enc(mulSec(w, a))]);
      return { d: pointHex(d), c: scalarHex(c), s: scalarHex(mod(w + c * x)) };
    }),
  };
}

// --- the trustee's key file: passphrase-protected (PBKDF2 + AES-GCM) ---------

const KDF_ITERATIONS = 600000;

export async function sealKeyFile(passphrase, secrets) {
  const salt = new Uint8Array(16), iv = new Uint8Array(12);
  crypto.getRandomValues(salt); crypto.getRandomValues(iv);
  const key = await deriveKey(passphrase, salt, KDF_ITERATIONS);
  const data = new TextEncoder().encode(JSON.stringify(secrets));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, data));
  return { format: 'allmende-trustee-key/1', kdf: 'PBKDF2-SHA256', iterations: KDF_ITERATIONS, salt: bytesToHex(salt), iv: bytesToHex(iv), ciphertext: bytesToHex(ct) };
}

export async function openKeyFile(passphrase, file) {
  if (!file || file.format !== 'allmende-trustee-key/1') throw new Error('not a trustee key file');
  const key = await deriveKey(passphrase, hexToBytes(file.salt), file.iterations);
  let plain;
  try {
    plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: hexToBytes(file.iv) }, key, hexToBytes(file.ciphertext));
  } catch {
    throw new Error('wrong passphrase (or a damaged key file)');
  }
  return JSON.parse(new TextDecoder().decode(plain));
}

async function deriveKey(passphrase, salt, iterations) {
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

export { parsePoint as point };
