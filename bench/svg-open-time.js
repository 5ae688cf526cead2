#!/usr/bin/env node
// Opens each SVG given on the command line in headless Chromium (Debian's,
// driven by playwright-core from tests/node) and prints, per file, the
// milliseconds from navigation start until the document has loaded, its
// script has run and a frame has been painted: how long a user waits.
// Usage: svg-open-time.js FILE.svg...   (prints "FILE<TAB>MS" lines)
'use strict';
const path = require('path');
const os = require('os');
const fs = require('fs');
const { chromium } = require(path.join(__dirname, '..', 'tests', 'node', 'node_modules', 'playwright-core'));

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cprof-bench-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  try {
    for (const file of process.argv.slice(2)) {
      const page = await ctx.newPage();
      const t0 = Date.now();
      await page.goto('file://' + path.resolve(file), { waitUntil: 'load', timeout: 120000 });
      // two animation frames: layout and paint of the loaded document are done
      await page.evaluate(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))));
      console.log(`${file}\t${Date.now() - t0}`);
      await page.close();
    }
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})().catch(e => { console.error('svg-open-time: ' + e.message); process.exit(1); });
