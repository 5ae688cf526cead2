// The other views of the SVG flame graph in headless Chromium, each drawn
// by the built cprof during the test: icicle (--inverted), differential
// (cprof diff, with and without --negate), flame chart (--flamechart),
// reversed stacks (--reverse), and hostile text in every one of them.
//
// usage: node views.test.js CPROF DATADIR NODE_MODULES   (TAP output)
// DATADIR is tests/data: flamegraph-browser.folded (see flamegraph.test.js)
// and browser/ with diff-before.folded, diff-after.folded (grow 10 -> 40,
// shrink 30 -> 15, same 50 -> 50, gone 5 -> 0, idle 10 -> 10, main self
// 0 -> 2) and chart.folded (stacks whose input order is not their sorted
// order). Expected geometry and text are computed here from the folded
// files, independently of the writer.
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const [cprof, datadir, nodeModules] = process.argv.slice(2);
const { chromium } = require(path.join(nodeModules, "playwright-core"));

const plain = path.join(datadir, "flamegraph-browser.folded");
const before = path.join(datadir, "browser", "diff-before.folded");
const after = path.join(datadir, "browser", "diff-after.folded");
const chart = path.join(datadir, "browser", "chart.folded");

const XPAD = 10, FULL = 1180, FRAME_H = 16, SEARCH = "rgb(230,0,230)";

let n = 0, failed = 0;
function check(cond, what, detail) {
	n++;
	if (cond) {
		console.log(`ok ${n} - ${what}`);
	} else {
		failed++;
		console.log(`not ok ${n} - ${what}`);
		if (detail !== undefined) console.log(`# ${JSON.stringify(detail)}`);
	}
}

// ---- models of the input, independent of the writer

function readFolded(file) {
	return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => {
		const m = /^(.*) (\d+)$/.exec(l);
		return { stack: m[1].split(";"), n: Number(m[2]) };
	});
}

// Flame chart: input order, a frame merges with the previous stack's frame
// at the same depth only when everything below it merged too.
function chartModel(lines) {
	const nodes = [];
	let prev = [], time = 0;
	for (const { stack, n: cnt } of lines) {
		let keep = 0;
		while (keep < stack.length && keep < prev.length && prev[keep].name === stack[keep]) keep++;
		const p = prev.slice(0, keep);
		for (let i = keep; i < stack.length; i++) {
			const node = { name: stack[i], depth: i + 1, start: time, value: 0 };
			nodes.push(node);
			p.push(node);
		}
		for (const node of p) node.value += cnt;
		time += cnt;
		prev = p;
	}
	return { nodes, total: time };
}

// Differential: widths from AFTER; each frame's delta is the change of the
// stacks ending at it (flamegraph.pl's), in percent of AFTER's total.
function diffModel(beforeLines, afterLines) {
	const b = new Map(beforeLines.map((l) => [l.stack.join(";"), l.n]));
	const a = new Map(afterLines.map((l) => [l.stack.join(";"), l.n]));
	const total = afterLines.reduce((s, l) => s + l.n, 0);
	const nodes = new Map();
	for (const { stack, n: cnt } of afterLines)
		for (let i = 1; i <= stack.length; i++) {
			const key = stack.slice(0, i).join(";");
			if (!nodes.has(key)) nodes.set(key, { name: stack[i - 1], value: 0,
				delta: (a.get(key) || 0) - (b.get(key) || 0) });
			nodes.get(key).value += cnt;
		}
	return { nodes, total };
}

function rgb(fill) {
	const m = /^rgb\((\d+),(\d+),(\d+)\)$/.exec(fill || "");
	return m ? { r: +m[1], g: +m[2], b: +m[3] } : null;
}
// how far from white: the depth of a differential colour
function depth(c) { return 255 - Math.min(c.r, c.g, c.b); }
function near(a, b, eps = 0.11) { return Math.abs(a - b) <= eps; }
function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

// ---- page helpers

let context, tmp, views = 0;

async function open(args, query = "") {
	const svg = path.join(tmp, `view${++views}.svg`);
	fs.writeFileSync(svg, execFileSync(cprof, args));
	const page = await context.newPage();
	page.setDefaultTimeout(5000);
	const v = { page, errors: [], dialogs: [], url: "file://" + svg };
	page.on("pageerror", (e) => v.errors.push(String(e)));
	page.on("console", (m) => { if (m.type() === "error") v.errors.push(m.text()); });
	page.on("dialog", (d) => { v.dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
	await page.goto(v.url + query);
	// init() ran: the global `frames` is the frames group, not window.frames
	await page.waitForFunction(() => frames === document.getElementById("frames"));
	return v;
}

// every frame in document order
function list(page) {
	return page.evaluate(() => Array.from(document.getElementById("frames").children).map((g, i) => {
		const r = g.querySelector("rect"), title = g.querySelector("title").textContent;
		return { i, title, name: title.replace(/ \([^(]*\)$/, ""),
			 x: parseFloat(r.getAttribute("x")), y: parseFloat(r.getAttribute("y")),
			 w: parseFloat(r.getAttribute("width")), fill: r.getAttribute("fill"),
			 cls: g.getAttribute("class") || "", text: g.querySelector("text").textContent };
	}));
}
const byName = (fs_, name) => fs_.filter((f) => f.name === name);
const one = (fs_, name) => byName(fs_, name)[0];
// the frame's group: its label lies over the rect and takes the pointer
const rectOf = (page, i) => page.locator("#frames > g").nth(i);
const text = (page, id) => page.evaluate((id) => document.getElementById(id).textContent, id);
const shown = (f) => !f.cls.includes("hide");

// ---- icicle

async function testInverted() {
	const flame = await open(["flamegraph", plain]);
	const normal = await list(flame.page);
	await flame.page.close();

	const v = await open(["flamegraph", "--inverted", plain]);
	const { page } = v;
	let s = await list(page);
	check(await text(page, "title") === "Icicle Graph", "icicle: default title", await text(page, "title"));
	check(s.length === normal.length && s.length === 10, "icicle: same frames as the flame graph", s.length);
	const all = one(s, "all");
	check(s.every((f) => f.y >= all.y) && all.y < one(normal, "all").y, "icicle: root at the top", all);
	const stacksOk = readFolded(plain).every(({ stack }) =>
		["all", ...stack].every((name, d) => one(s, name).y === all.y + d * FRAME_H));
	check(stacksOk, "icicle: each callee one row below its caller");
	check(normal.every((f) => one(s, f.name).x === f.x && one(s, f.name).w === f.w),
	      "icicle: x and width as in the flame graph");

	await rectOf(page, one(s, "compute").i).hover();
	check(await text(page, "details") === "Function: compute (45 samples, 45.00%)", "icicle: hover details",
	      await text(page, "details"));

	// zoom into compute
	await rectOf(page, one(s, "compute").i).click();
	s = await list(page);
	const c = one(s, "compute");
	check(c.x === XPAD && c.w === FULL && shown(c), "icicle: zoomed frame at full width", c);
	check(c.text === "compute", "icicle: zoomed frame relabelled", c.text);
	check(["all", "app", "main"].every((k) => one(s, k).cls.includes("parent") && one(s, k).w === FULL &&
							  one(s, k).y < c.y),
	      "icicle: callers above, dimmed, full width", ["all", "app", "main"].map((k) => one(s, k)));
	const mm = one(s, "matmul"), pn = one(s, "parse_number");
	check(shown(mm) && mm.y > c.y && near(mm.w, FULL * 40 / 45, 0.2) && mm.x === XPAD &&
	      near(pn.x, XPAD + FULL * 40 / 45, 0.2), "icicle: callees below, scaled to the zoom", [mm, pn]);
	check(["parse", "lex", "tokenize", "idle"].every((k) => !shown(one(s, k))), "icicle: other frames hidden");
	const q = new URL(page.url()).searchParams;
	check(q.get("x") === one(normal, "compute").x.toFixed(1) && q.get("y") === String(c.y),
	      "icicle: zoom kept in the URL", page.url());

	// search while zoomed
	const pct = await page.evaluate(() => search("^(parse|matmul)"));
	s = await list(page);
	const hl = s.filter((f) => f.fill === SEARCH).map((f) => f.name).sort();
	check(same(hl, ["matmul", "parse_number"]), "icicle: search highlights the matching frames in view", hl);
	check(await text(page, "matched") === "Matched: 100%" && pct === 100,
	      "icicle: matmul 40 + parse_number 5 of compute 45", await text(page, "matched"));
	await page.evaluate(() => search("^matmul$"));
	check(await text(page, "matched") === "Matched: 88.9%", "icicle: 40 of 45 matched",
	      await text(page, "matched"));

	// zoom further, from the zoomed view: the clicked frame takes the width
	await rectOf(page, one(s, "parse_number").i).click();
	s = await list(page);
	const p2 = one(s, "parse_number");
	check(p2.x === XPAD && p2.w === FULL && one(s, "compute").cls.includes("parent") && !shown(one(s, "matmul")),
	      "icicle: zooming again keeps the clicked frame at full width", [p2, one(s, "matmul")]);
	check(await text(page, "matched") === "Matched: 0.0%", "icicle: search re-applied after the zoom",
	      await text(page, "matched"));

	// reopen the link: zoom and search come back
	const link = page.url();
	await page.goto("about:blank");
	await page.goto(link);
	await page.waitForFunction(() => document.getElementById("matched").textContent.startsWith("Matched"));
	s = await list(page);
	check(one(s, "parse_number").w === FULL && one(s, "compute").cls.includes("parent") &&
	      await page.evaluate(() => currentTerm) === "^matmul$" &&
	      await text(page, "matched") === "Matched: 0.0%", "icicle: reloaded link reopens zoom and search", link);

	// the root, at the top, unzooms
	await page.keyboard.press("Escape");
	await rectOf(page, one(s, "all").i).click();
	s = await list(page);
	check(s.every((f) => { const o = one(normal, f.name); return f.x === o.x && f.w === o.w && shown(f) &&
						   !f.cls.includes("parent") && f.fill === o.fill; }),
	      "icicle: Escape and a click on 'all' restore every frame");
	check(v.errors.length === 0 && v.dialogs.length === 0, "icicle: no script errors", v.errors);
	await page.close();
}

// ---- differential

async function checkDiff(v, model, negate, label) {
	const { page } = v;
	const s = await list(page);
	const sign = negate ? -1 : 1;
	const want = new Map();
	for (const node of model.nodes.values()) {
		if (node.value === 0) continue;
		const d = sign * node.delta;
		want.set(node.name, `${node.name} (${node.value} samples, ${(100 * node.value / model.total).toFixed(2)}%; ` +
			 `${d > 0 ? "+" : ""}${(100 * d / model.total).toFixed(2)}%)`);
	}
	const got = new Map(s.filter((f) => f.name !== "all").map((f) => [f.name, f.title]));
	check(same([...got.entries()].sort(), [...want.entries()].sort()),
	      `${label}: titles show samples, share and change as flamegraph.pl`,
	      { got: [...got.values()], want: [...want.values()] });
	check(one(s, "all").title === `all (${model.total} samples, 100%)`, `${label}: root title without a change`,
	      one(s, "all").title);

	const col = (k) => rgb(one(s, k).fill);
	const grow = col("grow"), shrink = col("shrink"), main = col("main");
	const red = (c) => c.r === 255 && c.b < c.r && c.g === c.b;
	const blue = (c) => c.b === 255 && c.r < c.b && c.g === c.r;
	check(negate ? blue(grow) : red(grow), `${label}: grown function ${negate ? "blue" : "red"}`, grow);
	check(negate ? red(shrink) : blue(shrink), `${label}: shrunk function ${negate ? "red" : "blue"}`, shrink);
	check(negate ? blue(main) : red(main), `${label}: slightly grown caller faintly ${negate ? "blue" : "red"}`, main);
	check(depth(grow) > depth(shrink) && depth(shrink) > depth(main) && depth(main) > 0,
	      `${label}: deeper colour for a larger change (30 > 15 > 2 samples)`, [grow, shrink, main]);
	check(["same", "idle", "all"].every((k) => same(col(k), { r: 255, g: 255, b: 255 })),
	      `${label}: unchanged frames white`, ["same", "idle", "all"].map(col));
	check(byName(s, "gone").length === 0, `${label}: a vanished stack has no width`);
	return s;
}

async function testDiff() {
	const model = diffModel(readFolded(before), readFolded(after));
	const v = await open(["diff", before, after]);
	const { page } = v;
	check(await text(page, "title") === "Differential Flame Graph", "diff: default title");
	let s = await checkDiff(v, model, false, "diff");

	// widths from AFTER
	const total = model.total;
	check(near(one(s, "grow").w, FULL * 40 / total) && near(one(s, "shrink").w, FULL * 15 / total) &&
	      near(one(s, "main").w, FULL * 107 / total), "diff: widths from AFTER",
	      [one(s, "grow"), one(s, "shrink")]);

	await rectOf(page, one(s, "grow").i).hover();
	check(await text(page, "details") === "Function: " + one(s, "grow").title, "diff: hover shows the change",
	      await text(page, "details"));

	// search and zoom keep working, and the colours come back afterwards
	const pct = await page.evaluate(() => search("^(grow|shrink)$"));
	check(near(pct, 100 * 55 / total, 1e-9) && await text(page, "matched") === "Matched: 47.0%",
	      "diff: search share (40 + 15 of 117)", await text(page, "matched"));
	await rectOf(page, one(s, "shrink").i).click();
	let z = await list(page);
	check(one(z, "shrink").w === FULL && !shown(one(z, "grow")) && one(z, "shrink").fill === SEARCH,
	      "diff: zoom into the shrunk frame", one(z, "shrink"));
	await page.keyboard.press("Escape");
	await page.keyboard.press("Escape");
	z = await list(page);
	check(z.every((f, i) => f.fill === s[i].fill && f.w === s[i].w && shown(f)),
	      "diff: Escape restores the differential colours and widths");
	check(v.errors.length === 0 && v.dialogs.length === 0, "diff: no script errors", v.errors);
	await page.close();

	// --negate: the same widths, colours and signs swapped
	const ng = await open(["diff", "--negate", before, after]);
	const sn = await checkDiff(ng, model, true, "diff --negate");
	check(sn.length === s.length && sn.every((f, i) => f.x === s[i].x && f.w === s[i].w && f.name === s[i].name),
	      "diff --negate: same layout");
	check(ng.errors.length === 0 && ng.dialogs.length === 0, "diff --negate: no script errors", ng.errors);
	await ng.page.close();

	// the files swapped with --negate: widths from BEFORE, a vanished
	// stack visible and blue, colours still meaning growth
	const sw = await open(["diff", "--negate", after, before]);
	const ss = await list(sw.page);
	const btotal = readFolded(before).reduce((a, l) => a + l.n, 0);
	const gone = one(ss, "gone");
	check(gone && near(gone.w, FULL * 5 / btotal) &&
	      gone.title === `gone (5 samples, ${(500 / btotal).toFixed(2)}%; -${(500 / btotal).toFixed(2)}%)`,
	      "swapped + --negate: the vanished stack is drawn with its loss", gone);
	const cg = rgb(gone.fill), cgr = rgb(one(ss, "grow").fill), csh = rgb(one(ss, "shrink").fill);
	check(cg.b > cg.r && cgr.r > cgr.b && csh.b > csh.r, "swapped + --negate: red still means growth",
	      [cg, cgr, csh]);
	check(sw.errors.length === 0 && sw.dialogs.length === 0, "swapped diff: no script errors", sw.errors);
	await sw.page.close();
}

// ---- flame chart

async function testFlamechart() {
	const lines = readFolded(chart);
	const model = chartModel(lines);
	const sorted = await open(["flamegraph", chart]);
	const ordinary = await list(sorted.page);
	await sorted.page.close();
	const row2 = (fs_) => fs_.filter((f) => f.y === one(fs_, "main").y - FRAME_H).sort((a, b) => a.x - b.x);
	check(row2(ordinary)[0].name !== lines[0].stack[1],
	      "fixture: the first input stack does not sort first", row2(ordinary).map((f) => f.name));

	const v = await open(["flamegraph", "--flamechart", chart]);
	const { page } = v;
	let s = await list(page);
	check(await text(page, "title") === "Flame Chart", "chart: default title");
	const all = one(s, "all");
	const got = s.filter((f) => f.name !== "all").map((f) => ({ name: f.name, d: Math.round((all.y - f.y) / FRAME_H),
		x: f.x, w: f.w })).sort((a, b) => a.d - b.d || a.x - b.x);
	const want = model.nodes.map((m) => ({ name: m.name, d: m.depth, x: XPAD + FULL * m.start / model.total,
		w: FULL * m.value / model.total })).sort((a, b) => a.d - b.d || a.x - b.x);
	const rows = (l) => l.map((f) => `${f.d}:${f.name}:${f.w.toFixed(1)}`);
	check(got.length === want.length && got.every((g, i) => g.name === want[i].name && g.d === want[i].d &&
							   near(g.w, want[i].w, 0.15)),
	      "chart: frames in input order, adjacent stacks merged, the rest apart",
	      { got: rows(got), want: rows(want) });
	// x is time: a frame starts when its first sample was taken, so a
	// callee that ran after its caller's own samples starts after them
	check(got.length === want.length && got.every((g, i) => near(g.x, want[i].x)),
	      "chart: every frame starts at the time of its first sample",
	      got.map((g, i) => `${g.name} x=${g.x} want ${want[i].x.toFixed(1)}`));
	const r2 = row2(s);
	check(r2[0].name === lines[0].stack[1] && r2[0].x === XPAD, "chart: first input stack at the left", r2[0]);
	check(same(r2.map((f) => f.name), ["zeta", "alpha", "zeta", "alpha"]) && one(s, "main").w === FULL,
	      "chart: non-adjacent repeats stay separate frames, main merged", r2.map((f) => f.name));
	const alpha = r2[1], beta = one(s, "beta");
	check(near(alpha.w, FULL * 25 / 48) && byName(s, "beta").length === 1 && beta.x >= alpha.x &&
	      beta.x + beta.w <= alpha.x + alpha.w + 0.1,
	      "chart: 'alpha 20' and 'alpha;beta 5' merge into one alpha", [alpha, beta]);
	check(near(beta.x, alpha.x + FULL * 20 / 48), "chart: beta drawn after alpha's own 20 samples",
	      [alpha.x, beta.x]);

	// zoom into the second zeta: the first one is a sibling, hidden
	await rectOf(page, r2[2].i).click();
	s = await list(page);
	check(s[r2[2].i].x === XPAD && s[r2[2].i].w === FULL && !shown(s[r2[0].i]) && !shown(one(s, "work")),
	      "chart: zoom into one of two equal frames", [s[r2[2].i], s[r2[0].i]]);
	const pct = await page.evaluate(() => search("^zeta$"));
	check(pct === 100 && (await list(page))[r2[0].i].fill !== SEARCH,
	      "chart: search in the zoom counts only the frame in view", pct);
	check(v.errors.length === 0 && v.dialogs.length === 0, "chart: no script errors", v.errors);
	await page.close();
}

// ---- reversed stacks

async function testReverse() {
	const lines = readFolded(plain);
	const v = await open(["flamegraph", "--reverse", plain]);
	const { page } = v;
	const s = await list(page);
	const all = one(s, "all");
	const bottom = s.filter((f) => f.y === all.y - FRAME_H).sort((a, b) => a.x - b.x);
	const leaves = lines.map((l) => l.stack[l.stack.length - 1]).sort();
	check(same(bottom.map((f) => f.name), leaves), "reverse: the leaf functions form the bottom row",
	      bottom.map((f) => f.name));
	check(bottom.every((f) => near(f.w, FULL * lines.find((l) => l.stack[l.stack.length - 1] === f.name).n / 100)),
	      "reverse: leaf widths from their samples", bottom);
	// above each leaf, its callers in reverse order, up to the root function
	const columnsOk = lines.every(({ stack }) => {
		const leaf = bottom.find((f) => f.name === stack[stack.length - 1]);
		return stack.slice().reverse().every((name, d) => s.some((f) => f.name === name &&
			f.y === all.y - (d + 1) * FRAME_H && f.x === leaf.x && f.w === leaf.w));
	});
	check(columnsOk, "reverse: callers stacked above each leaf");
	check(byName(s, "app").length === lines.length && byName(s, "app").every((f) =>
		!s.some((o) => o.y === f.y - FRAME_H && o.x < f.x + f.w && f.x < o.x + o.w)),
	      "reverse: the root function is the top of every column", byName(s, "app"));

	// nested matches are counted once: main and app lie in the same columns
	await page.evaluate(() => search("^main$"));
	check(await text(page, "matched") === "Matched: 85.0%", "reverse: search share of main",
	      await text(page, "matched"));
	await page.evaluate(() => search("^(main|app)$"));
	check(await text(page, "matched") === "Matched: 100%", "reverse: nested matches counted once",
	      await text(page, "matched"));
	await page.keyboard.press("Escape");

	const parse = s.find((f) => f.name === "parse" && f.x === bottom.find((b) => b.name === "lex").x);
	await rectOf(page, parse.i).click();
	const z = await list(page);
	check(z[parse.i].w === FULL && z[one(z, "lex").i].cls.includes("parent") &&
	      byName(z, "main").filter(shown).length === 1, "reverse: zoom into one of the parse frames", z[parse.i]);
	check(v.errors.length === 0 && v.dialogs.length === 0, "reverse: no script errors", v.errors);
	await page.close();
}

// ---- hostile text in every view

const HOSTILE_TITLE = `<script>alert(1)</script>"quoted" 'single' &amp; ]]><img src=x onerror=alert(2)>`;
const HOSTILE_SUB = `</text><script>alert(3)</script>" onload="alert(4)`;
const HOSTILE_NAME = `</script><script>alert(5)</script>"'\\u0022 \`x\``;

async function testHostile() {
	const extra = ["--title", HOSTILE_TITLE, "--subtitle", HOSTILE_SUB, "--nametype", HOSTILE_NAME];
	const views_ = [
		["flame graph", ["flamegraph", ...extra, plain]],
		["icicle", ["flamegraph", "--inverted", ...extra, plain]],
		["flame chart", ["flamegraph", "--flamechart", ...extra, chart]],
		["reversed", ["flamegraph", "--reverse", ...extra, plain]],
		["diff", ["diff", ...extra, before, after]],
		["diff --negate", ["diff", "--negate", ...extra, before, after]],
	];
	for (const [label, args] of views_) {
		const v = await open(args);
		const { page } = v;
		check(await text(page, "title") === HOSTILE_TITLE && await text(page, "subtitle") === HOSTILE_SUB,
		      `hostile ${label}: title and subtitle shown as text`,
		      [await text(page, "title"), await text(page, "subtitle")]);
		const structure = await page.evaluate(() => {
			const handlers = [];
			for (const e of document.getElementsByTagName("*"))
				for (const a of e.attributes)
					if (/^on/i.test(a.name) && e !== document.documentElement) handlers.push(a.name);
			return { scripts: document.getElementsByTagName("script").length,
				 imgs: document.getElementsByTagName("img").length, handlers };
		});
		check(same(structure, { scripts: 1, imgs: 0, handlers: [] }), `hostile ${label}: no injected elements`,
		      structure);
		const f = (await list(page)).find((x) => x.w < FULL / 2);
		await rectOf(page, f.i).hover();
		check(await text(page, "details") === HOSTILE_NAME + " " + f.title,
		      `hostile ${label}: name type shown as text on hover`, await text(page, "details"));
		await rectOf(page, f.i).click();
		await page.evaluate(() => search("a"));
		// the root is found with a subtitle too: clicking it unzooms
		const z = await list(page);
		await rectOf(page, one(z, "all").i).click();
		const u = await list(page);
		check(z[f.i].w === FULL && u[f.i].w === f.w && u.every(shown), `hostile ${label}: zoom and unzoom`,
		      [f.w, z[f.i].w, u[f.i].w]);
		check(v.dialogs.length === 0, `hostile ${label}: no dialog opened`, v.dialogs);
		check(v.errors.length === 0, `hostile ${label}: no script errors`, v.errors);
		await page.close();
	}
}

// ---- counts the script must read back out of titles: a count name with
// parentheses, fractional counts, kernel frames shown without their suffix

async function testCountsAndNames() {
	const folded = path.join(tmp, "counts.folded");
	fs.writeFileSync(folded, "app;main;lex 0.4\napp;main;parse 0.4\napp;main;read_[k] 0.2\n");
	const v = await open(["flamegraph", "--countname", "bytes (KiB)", folded]);
	const page = v.page;
	await page.evaluate(() => search("^lex$"));
	check(await text(page, "matched") === "Matched: 40.0%", "countname with parentheses: search share",
	      await text(page, "matched"));
	await page.evaluate(() => search("^read$"));
	check(await text(page, "matched") === "Matched: 20.0%",
	      "a kernel frame is searched by its bare name", await text(page, "matched"));
	const fs_ = await list(page);
	check(fs_.some((f) => f.title === "read (0.2 bytes (KiB), 20.00%)"),
	      "kernel frame titled without _[k], fractional count kept", fs_.map((f) => f.title));
	const lex = fs_.findIndex((f) => f.title.startsWith("lex ("));
	await rectOf(page, lex).click();
	const z = await list(page);
	check(near(z[lex].w, 1180, 0.5), "zoom into a frame with a fractional count", z[lex]);
	check(z[lex].text.startsWith("lex"), "zoomed label keeps the bare name", z[lex].text);
	check(v.errors.length === 0, "counts: no script errors", v.errors);
	await page.close();
}

// counts far above 2^64 (issue 9 item 14): the titles show them in full and
// the search reads them back for its share
async function testHugeCounts() {
	const folded = path.join(tmp, "huge.folded");
	fs.writeFileSync(folded, "app;main;big 30000000000000000000\napp;main;small 10000000000000000000\n");
	const v = await open(["flamegraph", folded]);
	const page = v.page;
	const fs_ = await list(page);
	check(fs_.some((f) => f.title === "big (30,000,000,000,000,000,000 samples, 75.00%)"),
	      "a count of 3e19 titled in full", fs_.map((f) => f.title));
	await page.evaluate(() => search("^small$"));
	check(await text(page, "matched") === "Matched: 25.0%", "3e19 and 1e19: search share",
	      await text(page, "matched"));
	const big = fs_.findIndex((f) => f.title.startsWith("big ("));
	await rectOf(page, big).click();
	await page.evaluate(() => search("^big$"));
	check(await text(page, "matched") === "Matched: 100%", "zoomed into 3e19: share of the view",
	      await text(page, "matched"));
	check(v.errors.length === 0, "huge counts: no script errors", v.errors);
	await page.close();
}

// One deep, thin stack makes a tall flame graph: it opens at its root,
// not at the empty top; an icicle graph (root on top) opens at the top.
async function testTallOpensAtRoot() {
	const folded = path.join(tmp, "tall.folded");
	const deep = Array.from({ length: 127 }, (_, i) => `f${i}`).join(";");
	fs.writeFileSync(folded, `app;main;hot 5000\napp;main;${deep} 1\n`);
	for (const inverted of [false, true]) {
		const v = await open(["flamegraph", ...(inverted ? ["--inverted"] : []), folded]);
		const page = v.page;
		await page.setViewportSize({ width: 1400, height: 900 });
		await page.reload();
		await page.waitForFunction(() => frames === document.getElementById("frames"));
		const st = await page.evaluate(() => {
			const root = Array.from(document.querySelectorAll("#frames > g"))
				.find((g) => g.querySelector("title").textContent.startsWith("all ("));
			const r = root.querySelector("rect").getBoundingClientRect();
			return { h: document.documentElement.getBoundingClientRect().height,
				 y: window.scrollY, top: r.top, bottom: r.bottom, vh: window.innerHeight };
		});
		check(st.h > st.vh, `tall graph (${inverted ? "icicle" : "flame"}) is taller than the window`,
		      st);
		if (inverted)
			check(st.y === 0 && st.top >= 0 && st.bottom <= st.vh, "icicle opens at the top, root shown", st);
		else
			check(st.y > 0 && st.top >= 0 && st.bottom <= st.vh, "flame graph opens at its root", st);
		check(v.errors.length === 0, "tall graph: no script errors", v.errors);
		await page.close();
	}
}

async function main() {
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cprof-views-"));
	context = await chromium.launchPersistentContext(path.join(tmp, "profile"), {
		executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
		headless: true,
		args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
		       "--disable-component-update", "--no-first-run", "--disable-sync"],
	});
	try {
		await testInverted();
		await testDiff();
		await testFlamechart();
		await testReverse();
		await testHostile();
		await testCountsAndNames();
		await testHugeCounts();
		await testTallOpensAtRoot();
	} finally {
		await context.close();
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

main().then(() => {
	console.log(`1..${n}`);
	process.exit(failed ? 1 : 0);
}, (e) => {
	console.log(`not ok ${n + 1} - ${String(e && e.stack || e).split("\n").join("\n# ")}`);
	console.log(`1..${n + 1}`);
	process.exit(1);
});
