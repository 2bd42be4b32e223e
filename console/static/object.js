// kubelite console: one object's page. Cluster strings go into the page as text nodes only.
"use strict";

(function () {
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, String(v));
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      e.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function objectHref(l) {
    const q = new URLSearchParams({ group: l.group, version: l.version, resource: l.resource, namespace: l.namespace, name: l.name });
    return "/object?" + q.toString();
  }

  function show(data) {
    const l = data.link;
    document.title = "kubelite console: " + l.kind + " " + l.name;
    document.getElementById("title").replaceChildren(l.kind + " " + (l.namespace ? l.namespace + "/" : "") + l.name);
    if (l.namespace) document.getElementById("back").setAttribute("href", "/?namespace=" + encodeURIComponent(l.namespace));
    const owners = data.owners.map((o) => el("li", {}, o.missing
      ? o.kind + " " + o.name + " (" + o.missing + ")"
      : el("a", { href: objectHref(o) }, o.kind + " " + o.name)));
    document.getElementById("owners").replaceChildren(owners.length ? el("ol", { class: "owners" }, owners) : el("em", {}, "none"));
    const svcs = data.services.map((s) => el("li", {}, el("a", {
      href: objectHref({ group: "", version: "v1", resource: "services", namespace: l.namespace, name: s }),
    }, s)));
    document.getElementById("services").replaceChildren(svcs.length ? el("ul", {}, svcs) : el("em", {}, l.kind === "Pod" ? "none" : "only shown for Pods"));
    const ev = data.events.map((e) => el("tr", {}, el("td", {}, e.type), el("td", {}, e.reason), el("td", {}, e.last),
      el("td", {}, e.from), el("td", {}, String(e.count)), el("td", { class: "msg" }, e.message)));
    document.getElementById("events").replaceChildren(
      data.eventsError ? el("p", { class: "note" }, "Events not shown: " + data.eventsError) : "",
      ev.length ? el("table", { class: "events" }, el("tr", {}, ["Type", "Reason", "Last seen", "From", "Count", "Message"].map((h) => el("th", {}, h))), ev)
        : el("em", {}, "none"));
    document.getElementById("yaml").textContent = data.yaml;
  }

  document.addEventListener("DOMContentLoaded", async () => {
    const params = new URLSearchParams(location.search);
    const r = await fetch("/api/object?" + params.toString());
    const data = await r.json();
    if (!r.ok) {
      document.getElementById("object").replaceChildren(el("p", { class: "note", role: "alert" }, data.message || ("error " + r.status)));
      return;
    }
    show(data);
  });
})();
