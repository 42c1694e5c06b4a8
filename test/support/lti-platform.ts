import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { LTI } from '../../src/auth/lti/claims.js';
import { Client } from './sifu.js';

/**
 * An LTI 1.3 platform run by the tests (a real one could be Open edX, Canvas or Moodle): its own key pair,
 * made per test run, a JWKS endpoint on loopback, and id_tokens signed the way a platform signs launches.
 */
export interface TestPlatform {
  issuer: string;
  clientId: string;
  deploymentId: string;
  jwksUrl: string;
  authLoginUrl: string;
  /** A launch id_token for `nonce`; `claims` override or add claims; `key: 'other'` signs with a stranger's key. */
  idToken(
    nonce: string,
    claims?: JWTPayload,
    options?: { key?: 'own' | 'other'; expiresIn?: string | number },
  ): Promise<string>;
  registration(): Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * A whole launch from `platform` into the Sifu at `hubUrl`, as a fresh browser: the platform-initiated
 * login, then the signed id_token (with `claims`) posted back. Returns that browser and the launch answer.
 */
export async function launchFrom(
  platform: TestPlatform,
  hubUrl: string,
  claims: JWTPayload,
): Promise<{ browser: Client; res: Response }> {
  const browser = new Client();
  const query = new URLSearchParams({ iss: platform.issuer, login_hint: 'x', client_id: platform.clientId });
  const login = await browser.request(`${hubUrl}/hub/lti/login?${query}`);
  const redirect = new URL(login.headers.get('location') as string);
  const idToken = await platform.idToken(redirect.searchParams.get('nonce') as string, claims);
  const res = await browser.request(`${hubUrl}/hub/lti/launch`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: platform.issuer },
    body: new URLSearchParams({ id_token: idToken, state: redirect.searchParams.get('state') as string }),
  });
  return { browser, res };
}

export async function startTestPlatform(name = 'test-lms'): Promise<TestPlatform> {
  const own = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(own.publicKey)), kid: 'platform-key', alg: 'RS256', use: 'sig' };
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = `sifu-client-${name}`;
  const deploymentId = 'deployment-1';
  return {
    issuer,
    clientId,
    deploymentId,
    jwksUrl: `${issuer}/jwks`,
    authLoginUrl: `${issuer}/auth`,
    async idToken(nonce, claims = {}, options = {}) {
      const key = options.key === 'other' ? other.privateKey : own.privateKey;
      return new SignJWT({
        nonce,
        [LTI.messageType]: 'LtiResourceLinkRequest',
        [LTI.version]: '1.3.0',
        [LTI.deploymentId]: deploymentId,
        [LTI.targetLinkUri]: 'http://sifu.test/hub/lti/launch',
        [LTI.resourceLink]: { id: 'unit-1', title: 'Lesson 1' },
        [LTI.context]: { id: 'course-v1:Org+CS101+2026', title: 'CS 101' },
        [LTI.roles]: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'],
        ...claims,
      })
        .setProtectedHeader({ alg: 'RS256', kid: 'platform-key' })
        .setIssuer(issuer)
        .setAudience((claims.aud as string | string[] | undefined) ?? clientId)
        .setSubject(typeof claims.sub === 'string' ? claims.sub : 'learner-42')
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '5m')
        .sign(key);
    },
    registration() {
      return {
        name,
        issuer,
        clientId,
        deploymentIds: [deploymentId],
        authLoginUrl: `${issuer}/auth`,
        jwksUrl: `${issuer}/jwks`,
      };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
