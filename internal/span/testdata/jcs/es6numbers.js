// Regenerates es6numbers.txt: node es6numbers.js (in this directory).
// Each line is the IEEE 754 bits of a double and Number.prototype.toString
// of it, the reference RFC 8785 §3.2.2.3 points to.
let s = 0x9E3779B97F4A7C15n; const M = (1n << 64n) - 1n;
function next() { s ^= s >> 12n; s ^= (s << 25n) & M; s ^= s >> 27n; return (s * 0x2545F4914F6CDD1Dn) & M; }
const b = Buffer.alloc(8); const out = [];
function emit(bits) { b.writeBigUInt64BE(bits); const v = b.readDoubleBE(0); if (!isFinite(v)) return; out.push(bits.toString(16).padStart(16, "0") + "," + String(v)); }
for (let i = 0; i < 3000; i++) emit(next());
// Values near the plain/exponent boundaries and ordinary magnitudes.
for (let i = 0; i < 1000; i++) { const r = Number(next() >> 11n) / 2 ** 53; const e = Math.floor(Number(next() % 60n)) - 30; const v = r * Math.pow(10, e); b.writeDoubleBE(v); emit(b.readBigUInt64BE(0)); }
for (const v of [1e21, 1e21 * (1 - 2 ** -52), 1e-7, 1e-7 * (1 + 2 ** -52), 1e-6, 9.999999999999999e-7, 2 ** 53, 2 ** 53 - 1, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 123.456, -0.5, 5e-324, 2.2250738585072014e-308]) { b.writeDoubleBE(v); emit(b.readBigUInt64BE(0)); }
require("fs").writeFileSync("es6numbers.txt", "# IEEE 754 bits (hex),Number.prototype.toString per Node.js " + process.version + "\n" + out.join("\n") + "\n");
