import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runOnChannels } from './support/kernel.js';
import { Client, JUPYTER, startTestSifu, type TestSifu } from './support/sifu.js';

let sifu: TestSifu;
before(async () => {
  // The real single-user server: Debian's jupyter-notebook, with the default command.
  sifu = await startTestSifu({ command: JUPYTER, overrides: { spawner: { startTimeout: 90 } } });
});
after(() => sifu.cleanup());

test('a real kernel runs 1+1 through the proxy, with only the learner session', async () => {
  const ada = new Client();
  const { res, hops } = await ada.signIn(sifu, 'ada');
  await res.arrayBuffer();
  // Signed in, sent through the spawn page: start the server the way the page's script would.
  assert.ok(
    hops.some((h) => h.includes('/hub/spawn/ada')),
    `hops: ${hops.join(' -> ')}`,
  );
  const progress = sifu.manager.progress('ada', '');
  await progress?.done;
  assert.equal(progress?.outcome, 'ready', progress?.error?.logDetail ?? progress?.error?.message);
  const landed = await ada.follow(`${sifu.hubUrl}/hub/spawn/ada`);
  assert.equal(landed.res.status, 200, landed.hops.join(' -> '));
  assert.ok(landed.hops.at(-1)?.startsWith(`${sifu.notebookUrl}/user/ada/`), landed.hops.join(' -> '));
  await landed.res.arrayBuffer();
  assert.ok(ada.cookies.has('__Host-sifu-nb-session'), 'the notebook origin has its own session');

  const created = await ada.request(`${sifu.notebookUrl}/user/ada/api/kernels`, {
    method: 'POST',
    headers: { origin: sifu.notebookUrl, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'python3' }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  const kernel = (await created.json()) as { id: string };

  const result = await runOnChannels(
    `${sifu.notebookUrl.replace('http', 'ws')}/user/ada/api/kernels/${kernel.id}/channels`,
    { cookie: ada.cookieHeader(), origin: sifu.notebookUrl },
    '1+1',
    'ada',
  );
  assert.equal(result, '2');

  const del = await ada.request(`${sifu.notebookUrl}/user/ada/api/kernels/${kernel.id}`, {
    method: 'DELETE',
    headers: { origin: sifu.notebookUrl },
  });
  assert.equal(del.status, 204);
});

test("Jupyter's pages reach the browser without the server's secret", async () => {
  const ada = new Client();
  await ada.signIn(sifu, 'ada');
  await sifu.manager.progress('ada', '')?.done;
  await ada.follow(`${sifu.hubUrl}/hub/spawn/ada`);
  const secret = sifu.manager.route('ada', '')?.secret;
  assert.ok(secret, 'ada has a running server');
  for (const page of ['tree', 'notebooks/missing.ipynb', 'terminals/1', 'edit/x.txt']) {
    const res = await ada.request(`${sifu.notebookUrl}/user/ada/${page}`, {
      headers: { accept: 'text/html' },
    });
    const html = await res.text();
    assert.ok(!html.includes(secret), `the secret is in /user/ada/${page} (${res.status})`);
  }
  const tree = await (await ada.request(`${sifu.notebookUrl}/user/ada/tree`)).text();
  assert.match(tree, /data-jupyter-api-token="x+"/, 'Jupyter did write a token there, masked');
});
