// spectrumgen dashboard: polls the read-only JSON API and redraws the page, no reloads.
// Every text from the ledger goes in through textContent (never as HTML).
"use strict";

const body = document.body;
const POLL_MS = Number(body.dataset.pollMs || 1500);
const main = document.getElementById("main");
const banner = document.getElementById("banner");

// --- small helpers ------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  for (const child of children.flat(Infinity)) if (child) node.append(child);
  return node;
}

function fmt(n) {
  if (n === null || n === undefined) return "-";
  return Number(n).toLocaleString("en-US");
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function when(iso) {
  if (!iso) return "-";
  const t = new Date(iso);
  const today = new Date().toDateString() === t.toDateString();
  return today ? t.toLocaleTimeString() : t.toLocaleString();
}

function section(id, title, ...children) {
  return el("section", { id, class: "card" }, el("h2", {}, title), ...children);
}

function table(headers, rows, attrs) {
  return el(
    "table",
    attrs || {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows)
  );
}

function bar(value, max, label) {
  const share = max ? Math.min(1, value / max) : 0;
  return el(
    "div",
    { class: "bar", title: label || "" },
    el("div", { class: "fill", style: `width:${(share * 100).toFixed(1)}%` }),
    el("span", {}, label || "")
  );
}

function showBanner(text) {
  banner.textContent = text;
  banner.hidden = !text;
}

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    const error = new Error((data && data.error) || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// Poll `load` every POLL_MS; a failure shows the banner and the next poll tries again.
function poll(load) {
  let stopped = false;
  async function tick() {
    try {
      await load();
      showBanner("");
    } catch (error) {
      if (error.status === 404) {
        showBanner(error.message);
      } else {
        showBanner(`${error.message}: retrying every ${POLL_MS / 1000} s; the page recovers when the ledger is back`);
      }
    }
    if (!stopped) setTimeout(tick, POLL_MS);
  }
  tick();
  return () => (stopped = true);
}

// --- the runs list ------------------------------------------------------------------------

function runsPage() {
  poll(async () => {
    const data = await getJSON("/api/runs");
    const rows = data.runs.map((run) =>
      el(
        "tr",
        { "data-run": run.run_id },
        el("td", {}, el("a", { href: `/runs/${encodeURIComponent(run.run_id)}` }, run.run_id)),
        el("td", {}, el("span", { class: `status ${run.status}` }, run.status)),
        el("td", {}, run.spec),
        el("td", {}, `${run.backend} / ${(run.models || [run.model]).join(", ")}`),
        el("td", { class: "num" }, `${fmt(run.accepted)} / ${fmt(run.target)}`),
        el("td", { class: "num" }, fmt(run.calls)),
        el("td", { class: "num" }, fmt(run.tokens)),
        el("td", {}, when(run.created_at))
      )
    );
    main.replaceChildren(
      section(
        "runs",
        "Runs",
        rows.length
          ? table(["run", "status", "spec", "backend / model", "accepted / target", "calls", "tokens", "started"], rows)
          : el("p", { class: "muted" }, "No runs in this ledger yet; this list fills in when one starts.")
      )
    );
  });
}

// --- a run's page -------------------------------------------------------------------------

const state = { heatmap: "run", filter: { kind: "accepted" }, examplesKey: "" };

function runPage(runId) {
  const api = `/api/runs/${encodeURIComponent(runId)}`;
  let last = null;
  const layout = buildLayout();
  main.replaceChildren(layout.root);
  poll(async () => {
    const data = await getJSON(api);
    last = data;
    render(layout, data);
    await loadExamples(api, layout);
  });
  layout.rerender = () => last && render(layout, last);
  layout.api = api;
}

function buildLayout() {
  const parts = {};
  for (const id of ["progress", "charts", "quotas", "coverage", "failures", "examples", "workers", "cost"]) {
    parts[id] = el("div", { class: "content" });
  }
  parts.exampleList = el("div", {});
  parts.root = el(
    "div",
    { class: "grid" },
    section("progress-card", "Progress", parts.progress),
    section("charts-card", "Over time", parts.charts),
    section("quotas-card", "Quotas", parts.quotas),
    section("coverage-card", "Coverage: capacity x authenticity, per complexity type", parts.coverage),
    section("failures-card", "Why items fail", parts.failures),
    section("workers-card", "Workers", parts.workers),
    section("cost-card", "Cost", parts.cost),
    section("examples-card", "Examples", parts.examples)
  );
  return parts;
}

function render(layout, data) {
  document.getElementById("title").textContent = `run ${data.run.run_id}`;
  layout.progress.replaceChildren(renderProgress(data));
  layout.charts.replaceChildren(renderCharts(data.series, data.attempts));
  layout.quotas.replaceChildren(renderQuotas(data.quotas));
  layout.coverage.replaceChildren(renderCoverage(layout, data.heatmaps));
  layout.failures.replaceChildren(renderFailures(layout, data.series));
  layout.workers.replaceChildren(renderWorkers(data.workers));
  layout.cost.replaceChildren(renderCost(data.cost));
  if (!layout.kindSelect) buildFilters(layout, data.heatmaps);
}

function renderProgress(data) {
  const p = data.progress;
  const run = data.run;
  const items = [
    ["status", el("span", { id: "status", class: `status ${run.status}` }, run.status)],
    ["spec", run.spec],
    ["backend / models", `${run.backend} / ${(run.models || [run.model]).join(", ")}`],
    ["accepted", el("span", {}, el("b", { id: "accepted" }, fmt(p.accepted)), ` / ${fmt(p.target)}`)],
    ["", bar(p.accepted, p.target, `${Math.round((100 * p.accepted) / Math.max(1, p.target))}%`)],
    ["ETA", p.finished ? "done" : p.eta_seconds === null ? "-" : duration(p.eta_seconds)],
    ["elapsed", duration(p.elapsed_seconds)],
    ["LLM calls", `${fmt(p.calls)}${p.call_budget ? ` of ${fmt(p.call_budget)} budgeted` : ""}`],
    ["", p.call_budget ? bar(p.calls, p.call_budget, "") : null],
    ["tokens", `${fmt(p.tokens)}${p.token_budget ? ` of ${fmt(p.token_budget)}` : ""}${p.tokens_estimated ? " (estimated)" : ""}`],
    ["tokens / s", p.tokens_per_second === null ? "-" : fmt(p.tokens_per_second)],
    ["rejected attempts", fmt(p.rejected)],
    ["repair items", `${fmt(p.repair_items)} of ${fmt(p.items_requested)} items asked`],
  ];
  return el(
    "dl",
    { class: "facts" },
    items.filter(([, v]) => v !== null).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])
  );
}

function renderCharts(series, attempts) {
  const width = 520;
  const height = 110;
  const n = series.rate.length;
  const step = width / Math.max(1, n);
  // A bar per span with items tried: its height the share accepted (a thin red one for none).
  const bars = series.rate.map((rate, i) =>
    rate === null
      ? null
      : svg("rect", {
          x: (i * step + 1).toFixed(1),
          y: (height - Math.max(rate * height, 2)).toFixed(1),
          width: Math.max(1, step - 2).toFixed(1),
          height: Math.max(rate * height, 2).toFixed(1),
          class: rate ? "rate" : "rate none",
        })
  );
  const rateChart = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height + 2}`, class: "chart", role: "img", "aria-label": "acceptance rate over time" },
    svg("line", { x1: 0, y1: height / 2, x2: width, y2: height / 2, class: "grid" }),
    bars
  );
  const rows = attempts.map((a) =>
    el(
      "tr",
      {},
      el("td", {}, a.attempt === 1 ? "first try" : `repair ${a.attempt - 1}`),
      el("td", { class: "num" }, fmt(a.accepted)),
      el("td", { class: "num" }, fmt(a.rejected)),
      el("td", {}, bar(a.rate || 0, 1, a.rate === null ? "-" : `${Math.round(a.rate * 100)}%`))
    )
  );
  return el(
    "div",
    {},
    el("p", { class: "muted" }, `Share of items accepted, ${series.seconds_per_bin} s per bar since the run began (line: 50%).`),
    rateChart,
    el("h3", {}, "Acceptance per attempt"),
    rows.length ? table(["attempt", "accepted", "rejected", "rate"], rows) : el("p", { class: "muted" }, "No attempts yet.")
  );
}

function renderQuotas(quotas) {
  const blocks = Object.entries(quotas.axes).map(([axis, buckets]) =>
    el(
      "div",
      { class: "axis" },
      el("h3", {}, axis),
      table(
        ["bucket", "count", "quota", ""],
        buckets.map((b) =>
          el(
            "tr",
            { class: b.quota !== null && b.count >= b.quota ? "met" : "" },
            el("td", {}, b.bucket),
            el("td", { class: "num" }, fmt(b.count)),
            el("td", { class: "num" }, b.quota === null ? "-" : fmt(b.quota)),
            el("td", {}, bar(b.count, b.quota || b.count || 1, ""))
          )
        )
      )
    )
  );
  const standing = quotas.met === null
    ? el("p", { class: "muted" }, quotas.note)
    : quotas.shortfalls.length
    ? el("ul", { class: "shortfalls" }, quotas.shortfalls.map((s) => el("li", {}, s)))
    : quotas.met
    ? el("p", { class: "ok" }, "Every quota and threshold is met.")
    : el("p", { class: "muted" }, "The thresholds hold; buckets still short are in the tables.");
  return el("div", {}, el("div", { class: "axes" }, blocks), el("h3", {}, "Thresholds"), standing);
}

function renderCoverage(layout, maps) {
  const grids = maps[state.heatmap];
  const toggle = el(
    "div",
    { class: "toggle" },
    ["run", "all_runs"].map((which) =>
      el(
        "button",
        {
          class: state.heatmap === which ? "on" : "",
          onclick: () => {
            state.heatmap = which;
            layout.rerender();
          },
        },
        which === "run" ? "this run" : "all runs of the spec"
      )
    )
  );
  const max = Math.max(1, ...Object.values(grids).flat(2));
  const maps_ = maps.complexity_type.map((kind) => {
    const rows = maps.capacity_level.map((capacity, i) =>
      el(
        "tr",
        {},
        el("th", {}, capacity),
        maps.authenticity_target.map((target, j) => {
          const count = grids[kind][i][j];
          return el(
            "td",
            {
              class: count ? "cell filled" : "cell empty",
              style: count ? `--heat:${(0.15 + (0.85 * count) / max).toFixed(2)}` : null,
              "data-cell": `${capacity}|${target}|${kind}`,
              "data-count": count,
              title: `${capacity} x ${target} x ${kind}: ${count}`,
            },
            count ? String(count) : ""
          );
        })
      )
    );
    return el(
      "div",
      { class: "heatmap" },
      el("h3", {}, kind),
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, el("th", {}, ""), maps.authenticity_target.map((t) => el("th", { class: "rot" }, t)))),
        el("tbody", {}, rows)
      )
    );
  });
  return el(
    "div",
    {},
    toggle,
    el("p", { class: "muted" }, "Rows: capacity level; columns: authenticity target. Empty cells are hatched."),
    el("div", { class: "heatmaps" }, maps_)
  );
}

function renderFailures(layout, series) {
  const codes = Object.entries(series.reason_totals);
  if (!codes.length) return el("p", { class: "muted", id: "no-failures" }, "No rejected attempts yet.");
  const width = 160;
  const height = 24;
  const rows = codes.map(([code, total]) => {
    const points = series.reasons[code];
    const peak = Math.max(1, ...points);
    const step = width / Math.max(1, points.length);
    const spark = svg(
      "svg",
      { viewBox: `0 0 ${width} ${height}`, class: "spark" },
      points.map((v, i) =>
        v
          ? svg("rect", {
              x: (i * step).toFixed(1),
              y: (height - (v / peak) * height).toFixed(1),
              width: Math.max(1, step - 1).toFixed(1),
              height: ((v / peak) * height).toFixed(1),
            })
          : null
      )
    );
    return el(
      "tr",
      { "data-code": code },
      el("td", {}, el("a", {
        href: "#examples-card",
        class: "reason",
        onclick: (event) => {
          event.preventDefault();
          state.filter = { ...state.filter, kind: "rejected", reason: code };
          loadExamples(layout.api, layout, true);
          document.getElementById("examples-card").scrollIntoView();
        },
      }, code)),
      el("td", { class: "num" }, fmt(total)),
      el("td", {}, spark)
    );
  });
  return el(
    "div",
    {},
    el("p", { class: "muted" }, "Rejected attempts by reason over the run (click a reason for its items)."),
    table(["reason", "attempts", "over time"], rows, { id: "reasons" })
  );
}

function renderWorkers(workers) {
  if (!workers.length) return el("p", { class: "muted" }, "No worker has claimed or called yet.");
  return table(
    ["worker", "state", "claims", "lease expires", "last call", "calls"],
    workers.map((w) =>
      el(
        "tr",
        { "data-worker": w.worker, class: w.state },
        el("td", {}, w.worker),
        el("td", {}, el("span", { class: `status ${w.state}` }, w.state)),
        el("td", { class: "num" }, fmt(w.claims)),
        el("td", {}, when(w.lease_expires)),
        el("td", {}, when(w.last_call)),
        el("td", { class: "num" }, fmt(w.calls))
      )
    ),
    { id: "workers" }
  );
}

function renderCost(cost) {
  const rows = cost.models.map((m) =>
    el(
      "tr",
      {},
      el("td", {}, m.model),
      el("td", {}, m.role),
      el("td", { class: "num" }, fmt(m.calls)),
      el("td", { class: "num" }, fmt(m.prompt_tokens)),
      el("td", { class: "num" }, fmt(m.completion_tokens)),
      el("td", { class: "num" }, m.cost === null ? "-" : `$${m.cost.toFixed(4)}`)
    )
  );
  return el(
    "div",
    {},
    rows.length ? table(["model", "role", "calls", "prompt tokens", "completion tokens", "cost"], rows) : el("p", { class: "muted" }, "No calls yet."),
    el(
      "p",
      {},
      `Tokens per accepted example: ${cost.tokens_per_accepted === null ? "-" : fmt(cost.tokens_per_accepted)}`,
      cost.cost_per_accepted === null ? "" : `; cost per accepted example: $${cost.cost_per_accepted.toFixed(6)}`
    ),
    cost.priced ? null : el("p", { class: "muted" }, "Pass --prices FILE (model: [input, output] per million tokens) to see money.")
  );
}

async function loadExamples(api, layout, force) {
  const f = state.filter;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(f)) if (value) params.set(key, value);
  const data = await getJSON(`${api}/examples?${params}`);
  const key = JSON.stringify([f, data]);
  if (!force && key === state.examplesKey) return;
  state.examplesKey = key;
  const cards = data.examples.map((x) => renderExample(x, data.kind));
  layout.exampleList.replaceChildren(
    cards.length
      ? el("div", { class: "examples", id: `examples-${data.kind}` }, cards)
      : el("p", { class: "muted" }, "None yet.")
  );
  renderReasonChip(layout);
}

// The filters are drawn once (a redraw would close a list the user has open).
function buildFilters(layout, maps) {
  const choose = (name, options) =>
    el(
      "select",
      {
        name,
        onchange: (event) => {
          state.filter = { ...state.filter, [name]: event.target.value };
          if (name === "kind" && event.target.value === "accepted") delete state.filter.reason;
          loadExamples(layout.api, layout, true);
        },
      },
      options.map(([value, label]) => el("option", { value }, label))
    );
  const bucketChoice = (axis) => choose(axis, [["", `any ${axis}`], ...maps[axis].map((b) => [b, b])]);
  layout.kindSelect = choose("kind", [["accepted", "accepted"], ["rejected", "rejected"]]);
  layout.reasonChip = el("span", {});
  layout.examples.replaceChildren(
    el(
      "div",
      { class: "filters" },
      layout.kindSelect,
      bucketChoice("capacity_level"),
      bucketChoice("authenticity_target"),
      bucketChoice("complexity_type"),
      layout.reasonChip
    ),
    layout.exampleList
  );
}

function renderReasonChip(layout) {
  layout.kindSelect.value = state.filter.kind || "accepted";
  const reason = state.filter.reason;
  layout.reasonChip.replaceChildren(
    reason
      ? el(
          "button",
          {
            onclick: () => {
              delete state.filter.reason;
              loadExamples(layout.api, layout, true);
            },
          },
          `reason: ${reason} x`
        )
      : ""
  );
}

function renderExample(x, kind) {
  const head = el(
    "div",
    { class: "example-head" },
    el("b", {}, x.scenario_id),
    ` ${x.capacity_level} x ${x.authenticity_target} x ${x.complexity_type}, attempt ${x.attempt}, ${x.model}`
  );
  if (kind === "accepted") {
    return el(
      "article",
      { class: "example accepted" },
      head,
      el(
        "p",
        { class: "numbers" },
        `capacity ${x.effective_capacity}, needs ${x.support_needed}, gives ${x.support_provided} (ceiling ${x.support_ceiling}), authenticity ${x.authenticity_score}`
      ),
      el("p", {}, el("b", {}, "context: "), x.context),
      el("p", {}, el("b", {}, "response: "), x.response),
      el("p", {}, el("b", {}, "reasoning: "), x.reasoning)
    );
  }
  const item = x.item || {};
  return el(
    "article",
    { class: "example rejected" },
    head,
    el("ul", { class: "reasons" }, x.reasons.map((r) => el("li", {}, r))),
    Object.keys(item).length
      ? el("dl", { class: "item" }, Object.entries(item).map(([k, v]) => [el("dt", {}, k), el("dd", {}, typeof v === "string" ? v : JSON.stringify(v))]))
      : el("p", { class: "muted" }, "No item (the reply had none for this scenario).")
  );
}

// --- start --------------------------------------------------------------------------------

if (body.dataset.page === "runs") runsPage();
else if (body.dataset.page === "run") runPage(body.dataset.run);
