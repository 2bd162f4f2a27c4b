// Entry of vendor/noble.js: the parts of @noble/curves and @noble/hashes that
// static/ballot.js uses, bundled by update.sh with esbuild into one ES module
// (the Content-Security-Policy allows scripts from this origin only, so no
// import map and no CDN).
export { ristretto255 } from '@noble/curves/ed25519.js';
export { sha512 } from '@noble/hashes/sha2.js';
export { bytesToHex, hexToBytes, utf8ToBytes, concatBytes } from '@noble/hashes/utils.js';
