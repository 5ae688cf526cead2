// The SVG flame graph in a real browser (headless Chromium): no script
// errors, hover details, click to zoom, regex search with the matched
// share, reset of both, and the view restored from the URL.
//
// usage: node flamegraph.test.js CPROF FIXTURE NODE_MODULES   (TAP output)
// FIXTURE is tests/data/flamegraph-browser.folded, written by hand so the
// shares are round numbers: 100 samples, main 85, parse 40 (lex 30,
// tokenize 10), compute 45 (matmul 40, parse_number 5), idle 15.
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const [cprof, fixture, nodeModules] = process.argv.slice(2);
const { chromium } = require(path.join(nodeModules, "playwright-core"));

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

async function main() {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cprof-browser-"));
	const svgPath = path.join(tmp, "graph.svg");
	fs.writeFileSync(svgPath, execFileSync(cprof, ["flamegraph", fixture]));
	const url = "file://" + svgPath;

	const context = await chromium.launchPersistentContext(path.join(tmp, "profile"), {
		executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
		headless: true,
		args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
		       "--disable-component-update", "--no-first-run", "--disable-sync"],
	});
	try {
		const page = context.pages()[0] || await context.newPage();
		const errors = [];
		page.on("pageerror", (e) => errors.push(String(e)));
		page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
		await page.goto(url);
		await page.waitForFunction(() => typeof frames !== "undefined" && frames !== undefined);

		// every frame: its name, fill, class and geometry
		const state = () => page.evaluate(() => {
			const out = {};
			for (const g of document.getElementById("frames").children) {
				const r = g.querySelector("rect");
				const name = g.querySelector("title").textContent.replace(/ \([^(]*\)$/, "");
				out[name] = { x: parseFloat(r.getAttribute("x")), w: parseFloat(r.getAttribute("width")),
					      fill: r.getAttribute("fill"), cls: g.getAttribute("class") || "",
					      text: g.querySelector("text").textContent };
			}
			return out;
		});
		const text = (id) => page.evaluate((id) => document.getElementById(id).textContent, id);
		const frameRect = (name) => page.locator(`xpath=//*[@id="frames"]/*[local-name()="g"]` +
			`[starts-with(*[local-name()="title"], "${name} (")]/*[local-name()="rect"]`);

		const initial = await state();
		check(Object.keys(initial).length === 10, "10 frames drawn", Object.keys(initial));
		check(initial.all.w === 1180 && initial.main.w === 1003, "widths from samples", [initial.all, initial.main]);

		// hover
		await frameRect("compute").hover();
		check(await text("details") === "Function: compute (45 samples, 45.00%)", "hover shows details",
		      await text("details"));
		await page.mouse.move(1, 1);
		check((await text("details")).trim() === "", "details cleared on mouse out");

		// click to zoom
		await frameRect("compute").click();
		let s = await state();
		check(s.compute.x === 10 && s.compute.w === 1180, "zoomed frame spans the width", s.compute);
		check(["main", "app", "all"].every((k) => s[k].cls.includes("parent") && s[k].w === 1180),
		      "ancestors dimmed and full width", [s.main, s.app, s.all]);
		check(["parse", "idle", "lex", "tokenize"].every((k) => s[k].cls.includes("hide")),
		      "siblings and their children hidden");
		check(Math.abs(s.matmul.w - 1180 * 40 / 45) < 0.2 && !s.matmul.cls.includes("hide"),
		      "children scaled to the zoomed frame", s.matmul);
		check(!(await page.locator("#unzoom").getAttribute("class") || "").includes("hide"), "Reset Zoom shown");
		let loc = new URL(page.url());
		check(loc.searchParams.get("x") === String(initial.compute.x.toFixed(1)) && loc.searchParams.get("y"),
		      "zoom kept in the URL", page.url());

		// search while zoomed, via the page's search()
		const pct = await page.evaluate(() => search("parse"));
		s = await state();
		const matched = Object.keys(s).filter((k) => s[k].fill === "rgb(230,0,230)").sort();
		check(JSON.stringify(matched) === JSON.stringify(["parse_number"]),
		      "search highlights exactly the matching frames in view", matched);
		check(await text("matched") === "Matched: 11.1%" && Math.abs(pct - 100 * 5 / 45) < 1e-9,
		      "matched share relative to the zoomed frame", [await text("matched"), pct]);

		// reset zoom: geometry back, search re-applied to the whole graph
		await page.click("#unzoom");
		s = await state();
		check(Object.keys(initial).every((k) => s[k].x === initial[k].x && s[k].w === initial[k].w &&
							 !s[k].cls.includes("hide") && !s[k].cls.includes("parent")),
		      "reset zoom restores every frame");
		check(await text("matched") === "Matched: 45.0%", "matched share of the whole graph",
		      await text("matched"));
		const m1 = Object.keys(s).filter((k) => s[k].fill === "rgb(230,0,230)").sort();
		check(JSON.stringify(m1) === JSON.stringify(["parse", "parse_number"]),
		      "unzoomed, both matching frames highlighted", m1);
		check(!new URL(page.url()).searchParams.has("x"), "zoom removed from the URL");

		// search through the UI: Ctrl-F opens the prompt
		page.once("dialog", (d) => d.accept("^(lex|idle)$"));
		await page.keyboard.press("Control+f");
		await page.waitForFunction(() => document.getElementById("matched").textContent === "Matched: 45.0%"
			|| document.getElementById("matched").textContent.includes("30"));
		s = await state();
		const m2 = Object.keys(s).filter((k) => s[k].fill === "rgb(230,0,230)").sort();
		check(JSON.stringify(m2) === JSON.stringify(["idle", "lex"]), "Ctrl-F search highlights lex and idle", m2);
		check(await text("matched") === "Matched: 45.0%", "lex 30 + idle 15 = 45%", await text("matched"));
		check(await text("search") === "Reset Search", "search button becomes Reset Search");

		// reload with the URL state: zoom into parse, then reopen the link
		await frameRect("parse").click();
		const link = page.url();
		check(new URL(link).searchParams.get("s") === "^(lex|idle)$", "search kept in the URL", link);
		await page.goto("about:blank");
		await page.goto(link);
		await page.waitForFunction(() => document.getElementById("matched").textContent.startsWith("Matched"));
		s = await state();
		check(s.parse.x === 10 && s.parse.w === 1180 && s.main.cls.includes("parent") && s.compute.cls.includes("hide"),
		      "reloaded link reopens the zoom", s.parse);
		check(s.lex.fill === "rgb(230,0,230)" && s.tokenize.fill !== "rgb(230,0,230)" &&
		      await text("matched") === "Matched: 75.0%", "reloaded link reopens the search",
		      [await text("matched"), s.lex.fill]);

		// Escape resets the search, then the zoom
		await page.keyboard.press("Escape");
		s = await state();
		check(Object.keys(s).every((k) => s[k].fill === initial[k].fill) && (await text("search")) === "Search",
		      "Escape resets the search");
		check(!new URL(page.url()).searchParams.has("s"), "search removed from the URL");
		await page.keyboard.press("Escape");
		s = await state();
		check(s.parse.w === initial.parse.w && !s.compute.cls.includes("hide"), "second Escape resets the zoom");

		// clicking the root frame unzooms as well
		await frameRect("lex").click();
		await frameRect("all").click();
		s = await state();
		check(s.lex.w === initial.lex.w && !s.idle.cls.includes("hide"), "clicking 'all' resets the zoom");

		check(errors.length === 0, "no script errors", errors);
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
