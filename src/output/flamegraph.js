// Interactivity of cprof's SVG flame graphs: hover details, click to zoom,
// regular-expression search, and the view kept in the URL (?s=..&x=..&y=..)
// so a link reopens it. The writer puts `var fg = {...}` (layout numbers,
// the name type label) in front of this file.
//
// The document keeps flamegraph.pl's shape, which other tools rely on:
// <g id="frames"> holds one <g> per frame with a <title>, a <rect> and a
// <text>; ids "details", "matched", "search", "ignorecase", "unzoom"; global
// functions init(), search(), unzoom() and zoom().
"use strict";
var details, searchbtn, icbtn, unzoombtn, matchedtxt, frames;
var searching = false, currentTerm = null, ignorecase = false, zoomed = null;

function init(evt) {
	details = document.getElementById("details").firstChild;
	searchbtn = document.getElementById("search");
	icbtn = document.getElementById("ignorecase");
	unzoombtn = document.getElementById("unzoom");
	matchedtxt = document.getElementById("matched");
	frames = document.getElementById("frames");

	var p = get_params();
	if (p.x !== undefined && p.y !== undefined) {
		var el = frames.children;
		for (var i = 0; i < el.length; i++) {
			var r = rect_of(el[i]);
			if (r.getAttribute("x") === p.x && r.getAttribute("y") === p.y) {
				zoom(el[i]);
				break;
			}
		}
	}
	if (p.ic === "1") set_ignorecase(true);
	if (p.s) search(p.s);
	show_root(p);
}

// A flame graph grows upwards from its root at the bottom: one deep, thin
// stack can make it taller than the window, and a browser opens it at the
// top, where only the title and empty space are. Open it at the root
// instead, unless the URL asks for a zoomed view.
function show_root(p) {
	if (fg.inverted || p.x !== undefined || typeof window.scrollTo !== "function") return;
	var h = document.documentElement.getBoundingClientRect().height;
	if (window.innerHeight && h > window.innerHeight)
		window.scrollTo(0, h - window.innerHeight);
}

// ---- events
window.addEventListener("click", function (e) {
	var g = find_group(e.target);
	if (g) {
		if (is_root(g)) clearzoom();
		else zoom(g);
	} else if (e.target.id === "unzoom") clearzoom();
	else if (e.target.id === "search") search_prompt();
	else if (e.target.id === "ignorecase") toggle_ignorecase();
}, false);

window.addEventListener("mouseover", function (e) {
	var g = find_group(e.target);
	if (g) details.nodeValue = fg.nametype + " " + title_of(g);
}, false);

window.addEventListener("mouseout", function (e) {
	if (find_group(e.target)) details.nodeValue = " ";
}, false);

window.addEventListener("keydown", function (e) {
	if (e.key === "F3" || (e.ctrlKey && (e.key === "f" || e.key === "F"))) {
		e.preventDefault();
		search_prompt(true);
	} else if (e.ctrlKey && (e.key === "i" || e.key === "I")) {
		e.preventDefault();
		toggle_ignorecase();
	} else if (e.key === "Escape") {
		if (searching) reset_search();
		else if (zoomed) clearzoom();
	}
}, false);

// ---- URL state: flamegraph.pl's names (s, x, y), in the query string.
// A hash (#s=...) is read too, for places where the query cannot change.
function get_params() {
	var p = {};
	var parts = (window.location.search.substr(1) + "&" +
		     window.location.hash.substr(1)).split("&");
	for (var i = 0; i < parts.length; i++) {
		var eq = parts[i].indexOf("=");
		if (eq <= 0) continue;
		try {
			p[parts[i].substr(0, eq)] = decodeURIComponent(parts[i].substr(eq + 1));
		} catch (err) { /* a malformed %-escape: ignore that one */ }
	}
	return p;
}
function set_params(change) {
	var p = get_params();
	for (var k in change) {
		if (change[k] === null) delete p[k];
		else p[k] = change[k];
	}
	var q = [];
	for (var key in p) q.push(key + "=" + encodeURIComponent(p[key]));
	var url = window.location.pathname + (q.length ? "?" + q.join("&") : "");
	try {
		history.replaceState(null, "", url);
	} catch (err) {
		window.location.hash = q.join("&");
	}
}

// ---- frame helpers
function find_group(node) {
	while (node && node.parentNode) {
		if (node.parentNode.id === "frames") return node;
		node = node.parentNode;
	}
	return null;
}
function child(g, tag) {
	return g.getElementsByTagName(tag)[0];
}
function rect_of(g) { return child(g, "rect"); }
function title_of(g) { return child(g, "title").textContent; }
// The title is "NAME (COUNT COUNTNAME, PCT%)", or "...; DELTA%)" for a
// differential; the name is what comes before that suffix. The count name
// is known exactly (it may hold parentheses), the count may be fractional.
function re_quote(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }
var title_re = new RegExp("^([\\s\\S]*) \\(([0-9][0-9,]*(?:\\.[0-9]+)?) " +
			  re_quote(fg.countname) + ", [^()]*\\)$");
function name_of(g) {
	if (g._fgname === undefined) {
		var m = title_re.exec(title_of(g));
		g._fgname = m ? m[1] : title_of(g);
		g._fgcount = m ? parseFloat(m[2].replace(/,/g, "")) : 0;
	}
	return g._fgname;
}
function count_of(g) {
	name_of(g);
	return g._fgcount;
}
function num(e, attr) { return parseFloat(e.getAttribute(attr)); }
function orig_save(e, attr) {
	if (!e.hasAttribute("_orig_" + attr)) e.setAttribute("_orig_" + attr, e.getAttribute(attr));
}
function orig_load(e, attr) {
	if (e.hasAttribute("_orig_" + attr)) {
		e.setAttribute(attr, e.getAttribute("_orig_" + attr));
		e.removeAttribute("_orig_" + attr);
	}
}
function orig_num(e, attr) {
	return parseFloat(e.hasAttribute("_orig_" + attr) ? e.getAttribute("_orig_" + attr)
							  : e.getAttribute(attr));
}
function full_width() { return fg.width - 2 * fg.xpad; }
function is_root(g) {
	var r = rect_of(g);
	return num(r, "y") === fg.rooty && orig_num(r, "width") >= full_width() - 0.05;
}

// Label of a frame: as many characters as fit, ".." marking a cut; the
// same rule the writer used, so zooming out gives back the same text.
function update_text(g) {
	var r = rect_of(g), t = child(g, "text");
	var w = num(r, "width");
	var chars = Math.floor(w / (fg.fontsize * fg.fontwidth));
	t.setAttribute("x", (num(r, "x") + 3).toFixed(2));
	if (chars < 3) {
		t.textContent = "";
		return;
	}
	var name = Array.from(name_of(g));
	t.textContent = name.length <= chars ? name.join("")
					     : name.slice(0, chars - 2).join("") + "..";
}

// ---- zoom
function set_geometry(g, x, w) {
	var r = rect_of(g);
	orig_save(r, "x");
	orig_save(r, "width");
	r.setAttribute("x", x.toFixed(1));
	r.setAttribute("width", w.toFixed(1));
}
function reset_geometry(g) {
	var r = rect_of(g);
	orig_load(r, "x");
	orig_load(r, "width");
	g.classList.remove("parent");
	g.classList.remove("hide");
}
function zoom(g) {
	if (!g) return;
	var el = frames.children;
	if (zoomed) {
		for (var i = 0; i < el.length; i++) reset_geometry(el[i]);
	}
	var r = rect_of(g);
	var x = num(r, "x"), w = num(r, "width"), y = num(r, "y");
	var full = full_width(), ratio = full / w, fudge = 0.0001;
	var oldx = r.getAttribute("x"), oldy = r.getAttribute("y");

	for (var j = 0; j < el.length; j++) {
		var e = el[j], er = rect_of(e);
		var ex = num(er, "x"), ew = num(er, "width"), ey = num(er, "y");
		var ancestor_side = fg.inverted ? ey < y : ey > y;
		if (ancestor_side) {
			if (ex <= x + fudge && ex + ew + fudge >= x + w) {
				e.classList.add("parent");
				set_geometry(e, fg.xpad, full);
			} else {
				e.classList.add("hide");
			}
		} else if (ex < x - fudge || ex + fudge >= x + w || (ey === y && e !== g)) {
			e.classList.add("hide");
		} else {
			set_geometry(e, (ex - x) * ratio + fg.xpad, ew * ratio);
		}
		if (!e.classList.contains("hide")) update_text(e);
	}
	zoomed = g;
	unzoombtn.classList.remove("hide");
	set_params({ x: oldx, y: oldy });
	if (searching) search();
}
function unzoom() {
	var el = frames.children;
	for (var i = 0; i < el.length; i++) {
		reset_geometry(el[i]);
		update_text(el[i]);
	}
	zoomed = null;
	unzoombtn.classList.add("hide");
	if (searching) search();
}
function clearzoom() {
	unzoom();
	set_params({ x: null, y: null });
}

// ---- search
function set_ignorecase(on) {
	ignorecase = on;
	if (on) icbtn.classList.add("show");
	else icbtn.classList.remove("show");
}
function toggle_ignorecase() {
	set_ignorecase(!ignorecase);
	set_params({ ic: ignorecase ? "1" : null });
	if (searching) search();
}
function clear_highlight() {
	var el = frames.getElementsByTagName("rect");
	for (var i = 0; i < el.length; i++) orig_load(el[i], "fill");
}
function reset_search() {
	clear_highlight();
	searching = false;
	currentTerm = null;
	searchbtn.classList.remove("show");
	searchbtn.firstChild.nodeValue = "Search";
	matchedtxt.classList.add("hide");
	matchedtxt.firstChild.nodeValue = " ";
	set_params({ s: null });
}
function search_prompt(always) {
	if (searching && !always) {
		reset_search();
		return;
	}
	var term = prompt("Enter a search term (regexp allowed, eg: ^ext4_)" +
			  (ignorecase ? ", ignoring case" : "") +
			  "\nPress Ctrl-i to toggle case sensitivity", currentTerm || "");
	if (term) search(term);
}
// search(term) highlights the frames whose name matches the regular
// expression and shows the share of samples under them; search() again
// re-applies the current term (after a zoom). Returns the matched share in
// percent, or null.
function search(term) {
	if (term !== undefined && term !== null && term !== "") currentTerm = String(term);
	if (currentTerm === null) return null;
	var re;
	try {
		re = new RegExp(currentTerm, ignorecase ? "i" : "");
	} catch (err) {
		matchedtxt.classList.remove("hide");
		matchedtxt.firstChild.nodeValue = "Invalid regular expression";
		return null;
	}
	clear_highlight();
	var el = frames.children, hits = [], base = 0;
	for (var i = 0; i < el.length; i++) {
		var g = el[i];
		if (g.classList.contains("hide")) continue;
		var r = rect_of(g);
		if (zoomed ? g === zoomed : is_root(g)) base = count_of(g);
		if (!re.test(name_of(g))) continue;
		orig_save(r, "fill");
		r.setAttribute("fill", fg.searchcolor);
		// nesting is judged on the unzoomed layout, where a child always
		// lies within its parent
		hits.push({ x: orig_num(r, "x"), w: orig_num(r, "width"),
			    parent: g.classList.contains("parent"), n: count_of(g) });
	}
	searching = true;
	searchbtn.classList.add("show");
	searchbtn.firstChild.nodeValue = "Reset Search";
	set_params({ s: currentTerm });

	// Count each sample once: only matches not inside another match. A
	// matching ancestor of the zoomed frame covers the whole view.
	var total = 0, end = -1, fudge = 0.0001, whole = false;
	hits.sort(function (a, b) { return a.x - b.x || b.w - a.w; });
	for (var j = 0; j < hits.length; j++) {
		if (hits[j].parent) whole = true;
		else if (hits[j].x >= end - fudge) {
			total += hits[j].n;
			end = hits[j].x + hits[j].w;
		}
	}
	var pct = whole ? 100 : (base > 0 ? 100 * Math.min(total, base) / base : 0);
	var text = pct === 100 ? "100" : pct.toFixed(1);
	matchedtxt.classList.remove("hide");
	matchedtxt.firstChild.nodeValue = "Matched: " + text + "%";
	return pct;
}
