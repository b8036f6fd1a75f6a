// Independent check that certkeeper's JWS are plain RFC 7515 / RFC 8037:
//   node verify.mjs PUBLIC_KEY.pem ALG JWS_FILE
// Verifies with panva/jose and prints the payload JSON; exits 1 on any failure.
import { readFileSync } from 'node:fs';
import { compactVerify, importSPKI, decodeProtectedHeader } from 'jose';

const [pemFile, alg, jwsFile] = process.argv.slice(2);
try {
  const jws = readFileSync(jwsFile, 'utf8').trim();
  const header = decodeProtectedHeader(jws);
  if (header.alg !== alg) throw new Error(`alg ${header.alg} != ${alg}`);
  const key = await importSPKI(readFileSync(pemFile, 'utf8'), alg);
  const { payload } = await compactVerify(jws, key, { algorithms: [alg] });
  process.stdout.write(JSON.stringify({ kid: header.kid, payload: JSON.parse(new TextDecoder().decode(payload)) }));
} catch (e) {
  process.stderr.write(`jose: ${e.message}\n`);
  process.exit(1);
}
