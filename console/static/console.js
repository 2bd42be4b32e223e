// kubelite console: draws the picture the server pushes over Server-Sent Events.
// Every string from the cluster reaches the page as a text node or an attribute value set through the
// DOM (never innerHTML), so labels, annotations and names render as text whatever they contain.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const TRANSITION_MS = 700;
  const params = new URLSearchParams(location.search);
  let namespace = params.get("namespace") || "default";
  let source = null;
  let current = null;
  const services = new Map(); // name -> {el, sig}
  const pods = new Map(); // name -> {el, sig}
  const groups = new Map(); // key -> element

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else e.setAttribute(k, String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      e.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function chip(key, value, cls, title) {
    return el("span", { class: "chip " + (cls || ""), title: title || null, "data-key": key }, key + "=" + value);
  }

  function row(label, ...value) {
    return el("div", { class: "row" }, el("span", { class: "k" }, label), el("span", { class: "v" }, ...value));
  }

  function objectHref(l) {
    const q = new URLSearchParams({ group: l.group, version: l.version, resource: l.resource, namespace: l.namespace, name: l.name });
    return "/object?" + q.toString();
  }

  function objectLink(resource, name) {
    return el("a", { class: "name", href: objectHref({ group: "", version: "v1", resource, namespace, name }) }, name);
  }

  function portText(p) {
    let t = (p.name ? p.name + " " : "") + p.port + " -> " + p.targetPort;
    if (p.nodePort) t += " (NodePort " + p.nodePort + ")";
    return t + "/" + p.protocol;
  }

  function animate(e, cls) {
    e.classList.remove(cls);
    void e.offsetWidth; // restart the animation
    e.classList.add(cls);
    setTimeout(() => e.classList.remove(cls), TRANSITION_MS + 100);
  }

  // ---- cards --------------------------------------------------------------------------------------

  function serviceCard(s) {
    const body = [
      el("h2", {}, objectLink("services", s.name), el("span", { class: "badge type" }, s.type)),
      row("ClusterIP", s.clusterIP || "none yet"),
      row("DNS", s.dns),
    ];
    if (s.externalName) body.push(row("ExternalName", s.externalName));
    if (s.ports.length) body.push(row("ports", el("ul", { class: "ports" }, s.ports.map((p) => el("li", {}, portText(p))))));
    if (s.loadBalancerIPs.length) body.push(row("LoadBalancer", s.loadBalancerIPs.join(", ")));
    const sel = Object.entries(s.selector);
    body.push(row("selector", sel.length ? sel.map(([k, v]) => chip(k, v, "selector")) : el("em", {}, "none")));
    body.push(row("endpoints", s.endpoints.length
      ? el("ul", { class: "endpoints" }, s.endpoints.map((e) => el("li", {
        class: "ep " + (e.ready ? "ready" : "notready") + (e.terminating ? " terminating" : ""),
      }, e.ip + (e.pod ? " (" + e.pod + ")" : "") + " " + [e.ready ? "ready" : "not ready",
        e.serving ? "serving" : "not serving", e.terminating ? "terminating" : ""].filter(Boolean).join(", "))))
      : el("em", {}, "none")));
    if (s.nearMisses.length) {
      body.push(row("near misses", el("ul", { class: "near" }, s.nearMisses.map((n) =>
        el("li", { "data-pod": n.pod }, el("strong", {}, n.pod), ": " + n.texts.join("; "))))));
    }
    for (const n of s.notes) body.push(el("div", { class: "note", role: "note" }, n));
    const ann = Object.entries(s.annotations);
    if (ann.length) {
      body.push(el("details", { class: "annotations" }, el("summary", {}, "annotations (" + ann.length + ")"),
        el("dl", {}, ann.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]))));
    }
    return body;
  }

  function podCard(p) {
    const marks = Object.entries(p.serviceMarks);
    const matchKeys = new Set();
    const missKeys = new Map();
    for (const [svc, m] of marks) {
      const selector = (current.servicesByName[svc] || {}).selector || {};
      if (m.selected) Object.keys(selector).forEach((k) => matchKeys.add(k));
      else {
        Object.keys(selector).forEach((k) => { if (p.labels[k] === selector[k]) matchKeys.add(k); });
        m.misses.forEach((x) => missKeys.set(x.key, (missKeys.get(x.key) || []).concat([svc])));
      }
    }
    const labels = Object.entries(p.labels).map(([k, v]) =>
      chip(k, v, missKeys.has(k) ? "miss" : (matchKeys.has(k) ? "match" : ""),
        missKeys.has(k) ? "not what " + missKeys.get(k).join(", ") + " wants" : null));
    const body = [
      el("h3", {}, objectLink("pods", p.name),
        el("span", { class: "badge state " + p.state }, p.state === "ready" ? "Ready" : p.terminating ? "Terminating" : p.phase + (p.phase === "Running" ? ", not ready" : ""))),
      row("IP", p.ip || "none yet"),
      row("node", p.node || "unscheduled"),
      row("labels", labels.length ? labels : el("em", {}, "none")),
    ];
    for (const [svc, m] of marks) {
      if (!m.selected) {
        body.push(el("div", { class: "miss-note", "data-service": svc },
          el("strong", {}, svc), " near miss: " + m.texts.join("; ")));
      }
    }
    return body;
  }

  // ---- keyed rendering with transitions ------------------------------------------------------------

  function reconcile(store, items, parentOf, make, attrs) {
    const seen = new Set();
    for (const item of items) {
      seen.add(item.key);
      const sig = JSON.stringify(item.data);
      let entry = store.get(item.key);
      const parent = parentOf(item);
      if (!entry) {
        const e = el("article", Object.assign({ tabindex: "0" }, attrs(item)));
        e.append(...make(item.data));
        parent.append(e);
        entry = { el: e, sig };
        store.set(item.key, entry);
        animate(e, "enter");
      } else {
        if (entry.el.parentNode !== parent) parent.append(entry.el);
        if (entry.sig !== sig) {
          const open = new Set(Array.from(entry.el.querySelectorAll("details[open]")).map((d) => d.className));
          entry.el.replaceChildren(...make(item.data));
          entry.el.querySelectorAll("details").forEach((d) => { if (open.has(d.className)) d.open = true; });
          for (const [k, v] of Object.entries(attrs(item))) entry.el.setAttribute(k === "class" ? "class" : k, v);
          entry.sig = sig;
          animate(entry.el, "changed");
        }
      }
      parent.append(entry.el); // keep the server's order
    }
    for (const [key, entry] of store) {
      if (!seen.has(key)) {
        store.delete(key);
        entry.el.classList.add("leave");
        entry.el.removeAttribute("data-pod");
        entry.el.removeAttribute("data-service");
        setTimeout(() => { entry.el.remove(); drawLinks(); }, TRANSITION_MS);
      }
    }
  }

  function podGroup(g) {
    let e = groups.get(g.key);
    if (!e) {
      const title = g.owners.length
        ? g.owners.map((o) => o.kind + " " + o.name).join(" \u2192 ")
        : "Pods without an owner";
      e = el("section", { class: "group" }, el("h3", { class: "owner" }, title));
      groups.set(g.key, e);
    }
    return e;
  }

  function render(data) {
    data.servicesByName = Object.fromEntries(data.services.map((s) => [s.name, s]));
    current = data;
    updateNamespaces(data.namespaces || []);
    renderHealth(data.health);
    const svcCol = document.getElementById("services");
    const podCol = document.getElementById("pods");
    if (!data.services.length && !svcCol.querySelector(".empty")) svcCol.append(el("p", { class: "empty" }, "No Services in " + data.namespace));
    if (data.services.length) svcCol.querySelectorAll(".empty").forEach((e) => e.remove());
    reconcile(services, data.services.map((s) => ({ key: s.name, data: s })), () => svcCol, serviceCard,
      (it) => ({ class: "card service", "data-service": it.key }));
    const groupOf = {};
    for (const g of data.groups) for (const p of g.pods) groupOf[p] = g;
    const order = data.groups.flatMap((g) => g.pods);
    const live = new Set(data.groups.map((g) => g.key));
    for (const g of data.groups) podCol.append(podGroup(g));
    reconcile(pods, order.map((n) => ({ key: n, data: data.pods[n], svc: data.servicesByName })), (it) => podGroup(groupOf[it.key]),
      podCard, (it) => ({ class: "card pod " + it.data.state, "data-pod": it.key }));
    for (const [key, e] of groups) {
      if (!live.has(key)) { groups.delete(key); setTimeout(() => { if (!e.querySelector("article")) e.remove(); }, TRANSITION_MS + 50); }
    }
    requestAnimationFrame(drawLinks);
  }

  // ---- arrows ------------------------------------------------------------------------------------

  function drawLinks() {
    if (!current) return;
    const svg = document.getElementById("links");
    const box = document.getElementById("map").getBoundingClientRect();
    svg.setAttribute("width", String(box.width));
    svg.setAttribute("height", String(document.getElementById("map").scrollHeight));
    const wanted = new Map();
    for (const s of current.services) {
      const ready = new Set(s.endpoints.filter((e) => e.ready).map((e) => e.pod));
      for (const p of s.selects) wanted.set(s.name + "\u0000" + p, { from: s.name, to: p, cls: "selects " + (ready.has(p) ? "ready" : "notready") });
      for (const n of s.nearMisses) wanted.set(s.name + "\u0000" + n.pod, { from: s.name, to: n.pod, cls: "near" });
    }
    const existing = new Map();
    svg.querySelectorAll("path.link:not(.leaving)").forEach((p) => existing.set(p.dataset.key, p));
    for (const [key, w] of wanted) {
      const sEl = services.get(w.from);
      const pEl = pods.get(w.to);
      if (!sEl || !pEl) continue;
      const a = sEl.el.getBoundingClientRect();
      const b = pEl.el.getBoundingClientRect();
      const x1 = a.right - box.left, y1 = a.top + Math.min(a.height / 2, 40) - box.top;
      const x2 = b.left - box.left - 2, y2 = b.top + Math.min(b.height / 2, 30) - box.top;
      const dx = Math.max(40, (x2 - x1) / 2);
      const d = `M ${x1} ${y1} C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}`;
      let path = existing.get(key);
      existing.delete(key);
      if (!path) {
        const fresh = document.createElementNS(SVG, "path");
        fresh.dataset.key = key;
        fresh.setAttribute("marker-end", "url(#arrow)");
        fresh.setAttribute("class", "link enter");
        svg.append(fresh);
        setTimeout(() => fresh.classList.remove("enter"), TRANSITION_MS);
        path = fresh;
      }
      // the class always says what the arrow is now; "enter" only adds the drawing-in animation
      path.setAttribute("class", "link " + w.cls + (path.classList.contains("enter") ? " enter" : ""));
      path.setAttribute("d", d);
      path.setAttribute("data-from", w.from);
      path.setAttribute("data-to", w.to);
    }
    for (const [, path] of existing) {
      if (path.classList.contains("leaving")) continue;
      path.setAttribute("class", "link leaving");
      path.removeAttribute("data-from");
      path.removeAttribute("data-to");
      setTimeout(() => path.remove(), TRANSITION_MS);
    }
  }

  // ---- health, namespaces, the stream ---------------------------------------------------------------

  function renderHealth(h) {
    const box = document.getElementById("health");
    const items = h.controllers.map((c) => el("span", {
      class: "proc " + (c.alive ? "alive" : "dead"), "data-controller": c.controller,
      title: c.holder ? "held by " + c.holder : null,
    }, c.controller + ": " + (c.alive ? "running" : "not running") + " (" + c.why + ")"));
    const up = h.nodes.filter((n) => n.alive).length;
    items.push(el("span", { class: "proc " + (h.nodes.length && up === h.nodes.length ? "alive" : "dead"), "data-nodes": "" },
      h.nodes.length ? "nodes: " + up + "/" + h.nodes.length + " heartbeating" : "nodes: no heartbeat leases"));
    box.replaceChildren(el("strong", {}, "controllers "), ...items);
  }

  function updateNamespaces(names) {
    const select = document.getElementById("namespace");
    const want = names.includes(namespace) ? names : names.concat([namespace]).sort();
    const have = Array.from(select.options).map((o) => o.value);
    if (JSON.stringify(have) !== JSON.stringify(want)) {
      select.replaceChildren(...want.map((n) => el("option", { value: n }, n)));
    }
    select.value = namespace;
  }

  function connect() {
    if (source) source.close();
    const conn = document.getElementById("conn");
    source = new EventSource("/api/stream?namespace=" + encodeURIComponent(namespace));
    source.onopen = () => { conn.textContent = "live"; conn.className = "conn live"; };
    source.onerror = () => { conn.textContent = "reconnecting"; conn.className = "conn down"; };
    source.onmessage = (ev) => render(JSON.parse(ev.data));
  }

  function switchTo(ns) {
    namespace = ns;
    history.replaceState(null, "", "?namespace=" + encodeURIComponent(ns));
    for (const store of [services, pods]) { for (const [, e] of store) e.el.remove(); store.clear(); }
    for (const [, g] of groups) g.remove();
    groups.clear();
    document.querySelectorAll("#links path.link").forEach((p) => p.remove());
    connect();
  }

  async function find(q) {
    const out = document.getElementById("results");
    if (!q.trim()) { out.replaceChildren(); return; }
    const r = await fetch("/api/search?" + new URLSearchParams({ q }).toString());
    const data = await r.json();
    if (!r.ok) { out.replaceChildren(el("p", { class: "note", role: "alert" }, data.message)); return; }
    out.replaceChildren(el("h2", {}, data.length + " found for " + q),
      el("ul", {}, data.map((h) => el("li", {}, el("a", { href: objectHref(h) },
        h.kind + " " + (h.namespace ? h.namespace + "/" : "") + h.name)))));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("search").addEventListener("submit", (ev) => { ev.preventDefault(); find(document.getElementById("q").value); });
    document.getElementById("q").addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") { ev.target.value = ""; find(""); }
    });
    document.getElementById("namespace").addEventListener("change", (ev) => switchTo(ev.target.value));
    window.addEventListener("resize", () => requestAnimationFrame(drawLinks));
    connect();
  });
})();
