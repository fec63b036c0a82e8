/* Admin "Analytics" page: every figure comes from /api/v1/analytics/* (session cookie +
   CSRF header) and is refreshed in place every few seconds; charts are Chart.js, served from
   static/vendor. User content (post text, community names) only ever goes in textContent. */
"use strict";

(() => {
  const config = JSON.parse(document.getElementById("analytics-config").textContent);
  const root = document.getElementById("analytics-dashboard");
  const state = {
    scope: "",
    granularity: "hour",
    metric: "engagement_score",
    period: "day",
    batch: "latest",
    run: null,
    paused: false,
    timer: null,
    busy: false,
    refreshes: 0,
  };
  const COLORS = {
    likes: "#e11d48",
    comments: "#2563eb",
    shares: "#16a34a",
    views: "#94a3b8",
    score: "#f59e0b",
    predicted: "#8b5cf6",
    actual: "#0ea5e9",
    model: "#2563eb",
    persistence: "#94a3b8",
    szabo: "#f59e0b",
  };
  const METRIC_NAMES = {
    engagement_score: "Score",
    views: "Views",
    likes: "Likes",
    net_likes: "Net likes",
    comments: "Comments",
    shares: "Shares",
  };
  const STATE_NAMES = { green: "OK", amber: "Warning", red: "Alert" };
  const RUN_STATUS = { succeeded: "ok", failed: "failed", running: "running" };
  const RUN_METRICS = [
    ["mae_log1p", "MAE, log1p (lower is better)", 4],
    ["spearman", "Spearman rank correlation", 3],
    ["precision_at_10", "Precision at 10", 3],
    ["ndcg_at_10", "NDCG at 10", 3],
  ];
  const FEATURE_PARTS = {
    chance: "Chance of any engagement",
    size: "Size of the engagement",
    engagement: "Engagement",
  };
  const TRIGGERS = { schedule: "on schedule", first: "first training (no model yet)", admin: "Train now (admin)" };
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  const charts = {};
  let trendingTitles = [];

  // --- helpers ---------------------------------------------------------------------------

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function getJSON(url, params) {
    const query = params ? "?" + new URLSearchParams(params).toString() : "";
    const response = await fetch(url + query, {
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": cookie("csrftoken") },
    });
    if (response.status === 401 || response.status === 403) {
      throw new Error("Your admin session has ended: reload the page to sign in again.");
    }
    if (!response.ok) {
      throw new Error(`Could not load ${url} (HTTP ${response.status}); retrying.`);
    }
    return response.json();
  }

  function el(tag, attributes = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      // Through the CSSOM: a style="" attribute is inline style, which the CSP refuses.
      else if (name === "style") Object.assign(node.style, value);
      else node.setAttribute(name, value);
    }
    for (const child of [].concat(children)) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  function number(value, digits) {
    if (value === null || value === undefined) return "–";
    return (digits ? decimal : integer).format(value);
  }

  function pad(value) {
    return String(value).padStart(2, "0");
  }

  function bucketLabel(iso, granularity) {
    const d = new Date(iso);
    const day = `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
    const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    if (granularity === "minute") return time;
    if (granularity === "hour") return `${day} ${time}`;
    return day;
  }

  function timeText(iso) {
    if (!iso) return "never";
    const d = new Date(iso);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
  }

  function ago(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 90) return `${Math.round(seconds)} s ago`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h ago`;
    return `${Math.round(seconds / 86400)} days ago`;
  }

  function setKpi(name, text) {
    for (const node of root.querySelectorAll(`[data-kpi="${name}"]`)) node.textContent = text;
  }

  function cssVar(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }

  function replaceRows(tbody, rows, columns, emptyText) {
    tbody.replaceChildren(
      ...(rows.length
        ? rows
        : [el("tr", { className: "ad-empty-row" }, el("td", { colspan: columns, text: emptyText }))])
    );
  }

  // --- charts ----------------------------------------------------------------------------

  function chartsCreate() {
    Chart.defaults.color = cssVar("--body-quiet-color", "#666");
    Chart.defaults.borderColor = cssVar("--hairline-color", "#e8e8e8");
    Chart.defaults.font.family = cssVar("--font-family-primary", "sans-serif");
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;

    charts.spark = new Chart(document.getElementById("ad-spark-chart"), {
      type: "bar",
      data: { labels: [], datasets: [{ data: [], backgroundColor: cssVar("--primary", "#79aec8"), borderRadius: 2 }] },
      options: {
        plugins: { legend: { display: false }, tooltip: { displayColors: false } },
        scales: { x: { display: false }, y: { display: false, beginAtZero: true } },
      },
    });

    const line = (label, color, extra = {}) => ({
      label,
      data: [],
      borderColor: color,
      backgroundColor: color,
      borderWidth: 2,
      pointRadius: 0,
      pointHoverRadius: 3,
      tension: 0.25,
      ...extra,
    });
    // The newest bucket is still filling up: its segment is dashed.
    const partial = { borderDash: (ctx) => (ctx.p1DataIndex === ctx.chart.data.labels.length - 1 ? [3, 3] : undefined) };
    charts.engagement = new Chart(document.getElementById("ad-engagement-chart"), {
      type: "line",
      data: {
        labels: [],
        datasets: [
          line("Engagement score", COLORS.score, {
            yAxisID: "y1",
            fill: "origin",
            backgroundColor: "rgba(245, 158, 11, 0.15)",
            borderWidth: 2.5,
            order: 5,
            segment: partial,
          }),
          line("Likes", COLORS.likes, { segment: partial }),
          line("Comments", COLORS.comments, { segment: partial }),
          line("Shares", COLORS.shares, { segment: partial }),
          line("Views", COLORS.views, { hidden: true, borderDash: [4, 3] }),
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } } },
        scales: {
          x: { ticks: { maxRotation: 0, autoSkipPadding: 18 }, grid: { display: false } },
          y: { beginAtZero: true, title: { display: true, text: "events" }, ticks: { precision: 0 } },
          y1: {
            beginAtZero: true,
            position: "right",
            title: { display: true, text: "engagement score" },
            grid: { drawOnChartArea: false },
          },
        },
      },
    });

    charts.trending = new Chart(document.getElementById("ad-trending-chart"), {
      type: "bar",
      data: {
        labels: [],
        datasets: [
          { label: "Predicted", data: [], backgroundColor: COLORS.predicted, borderRadius: 3 },
          { label: "Actual", data: [], backgroundColor: COLORS.actual, borderRadius: 3 },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: { callbacks: { title: (items) => trendingTitles[items[0].dataIndex] || "" } },
        },
        scales: {
          x: { grid: { display: false }, ticks: { maxRotation: 0 } },
          y: { beginAtZero: true, title: { display: true, text: "engagement score" } },
        },
      },
    });

    charts.runs = new Chart(document.getElementById("ad-runs-chart"), {
      type: "line",
      data: {
        labels: [],
        datasets: [
          line("Model", COLORS.model, { pointRadius: 3 }),
          line("Persistence", COLORS.persistence, { pointRadius: 3, borderDash: [5, 4] }),
          line("Szabo–Huberman", COLORS.szabo, { pointRadius: 3, borderDash: [2, 3] }),
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } } },
        scales: {
          x: { grid: { display: false } },
          y: { beginAtZero: true, title: { display: true, text: "MAE (log1p) ↓" } },
        },
      },
    });
  }

  // --- sections --------------------------------------------------------------------------

  function healthCard(id, component, value, detail) {
    const card = document.getElementById(id);
    card.dataset.state = component.health.state;
    card.querySelector(".ad-state-label").textContent = STATE_NAMES[component.health.state] || "";
    card.querySelector(".ad-health-value").textContent = value;
    card.querySelector(".ad-health-detail").textContent = detail;
  }

  async function loadSummary() {
    const s = await getJSON(config.urls.summary);
    setKpi("events_per_minute", number(s.events_per_minute, 1));
    setKpi("active_users_24h", number(s.active_users_24h));
    for (const name of ["posts", "likes", "comments", "shares", "views"]) setKpi(name, number(s.today[name]));
    charts.spark.data.labels = s.events_last_5_minutes.map((m) => bucketLabel(m.start, "minute"));
    charts.spark.data.datasets[0].data = s.events_last_5_minutes.map((m) => m.events);
    charts.spark.update("none");

    const outbox = s.outbox;
    healthCard(
      "ad-health-outbox",
      outbox,
      number(outbox.pending),
      [
        outbox.pending ? `oldest waiting ${ago(outbox.oldest_age_seconds).replace(" ago", "")}` : "nothing waiting",
        outbox.failed ? `${number(outbox.failed)} failed` : "",
      ].filter(Boolean).join(" · ")
    );
    const kafka = s.kafka;
    healthCard(
      "ad-health-kafka",
      kafka,
      kafka.reachable ? `${kafka.brokers_up.length} of ${kafka.brokers_up.length + kafka.brokers_down.length}` : "0",
      kafka.health.detail
    );
    const cluster = s.spark_cluster;
    const clusterCard = document.getElementById("ad-health-cluster");
    clusterCard.hidden = cluster.reachable === null;
    if (cluster.reachable !== null) {
      healthCard(
        "ad-health-cluster",
        cluster,
        cluster.reachable ? `${cluster.workers_alive} of ${cluster.workers_alive + cluster.workers_lost}` : "?",
        cluster.health.detail
      );
    }
    const spark = s.spark;
    healthCard(
      "ad-health-spark",
      spark,
      spark.lag_events === null ? "?" : number(spark.lag_events),
      [
        spark.last_batch_at ? `last batch ${spark.last_batch_id} ${ago(spark.last_batch_age_seconds)}` : "no batch yet",
        spark.lag_error ? `lag unknown: ${spark.lag_error}` : "",
        `late events today ${number(spark.late_events_today)} (last batch ${number(spark.late_events_last_batch)})`,
        spark.running ? "job process running" : "no job process on this host",
      ].filter(Boolean).join(" · ")
    );
    const dead = s.dead_letters;
    healthCard(
      "ad-health-dead",
      dead,
      number(dead.last_24h),
      `${number(dead.total)} in total` + (dead.latest_at ? ` · latest ${timeText(dead.latest_at)}` : "")
    );
    const run = s.model_run;
    const mae = run ? runMetric(run, "model", "mae_log1p") : null;
    const persistence = run ? runMetric(run, "persistence", "mae_log1p") : null;
    setKpi("model_mae", mae === null ? "–" : Number(mae).toFixed(3));
    let note = "no model runs yet";
    if (run) note = persistence === null ? `run ${run.version || run.id}` : `persist. ${Number(persistence).toFixed(3)}`;
    setKpi("model_note", note);
    root.querySelector(".ad-tile-model").title = run
      ? `Latest run ${run.version || run.id} (${run.status || "?"}): holdout MAE on log1p engagement`
      : "";

    const overall = document.getElementById("ad-overall");
    overall.dataset.state = s.health;
    overall.textContent = `Pipeline: ${STATE_NAMES[s.health] || s.health}`;
  }

  async function loadSeries() {
    const url = state.scope ? config.urls.community.replace("SLUG", encodeURIComponent(state.scope)) : config.urls.site;
    const series = await getJSON(url, { granularity: state.granularity });
    const chart = charts.engagement;
    chart.data.labels = series.points.map((p) => bucketLabel(p.start, series.granularity));
    const fields = ["engagement_score", "likes", "comments", "shares", "views"];
    fields.forEach((name, index) => {
      chart.data.datasets[index].data = series.points.map((p) => p[name]);
    });
    chart.update("none");
    const t = series.totals;
    document.getElementById("ad-chart-note").textContent =
      `${series.points.length} ${series.granularity} buckets, ${timeText(series.since)} to now (UTC). ` +
      `In range: score ${number(t.engagement_score, 1)}, ${number(t.likes)} likes, ${number(t.comments)} comments, ` +
      `${number(t.shares)} shares, ${number(t.views)} views. Click a legend entry to show or hide a series.`;
  }

  function topRows(top, isPost) {
    return top.results.map((entry, index) => {
      let name;
      if (isPost) {
        name = el("td", { className: "ad-label", title: entry.label }, [
          entry.url ? el("a", { href: entry.url, text: entry.label }) : entry.label,
          el("span", { className: "ad-sub" }, [
            entry.community ? `c/${entry.community}` : "",
            entry.deleted ? el("span", { className: "ad-tag", text: "deleted" }) : null,
          ]),
        ]);
      } else {
        const pick = el("button", { type: "button", className: "ad-link-button", title: "Show in the chart", text: entry.label });
        pick.addEventListener("click", () => scopeSet(entry.community));
        name = el("td", { className: "ad-label" }, pick);
      }
      const m = entry.metrics;
      return el("tr", { "data-id": entry.id, title: `${number(m.views)} views` }, [
        el("td", { text: index + 1 }),
        name,
        el("td", { className: "num ad-strong", text: number(entry.value, state.metric === "engagement_score" ? 1 : 0) }),
        el("td", { className: "num", text: number(m.likes) }),
        el("td", { className: "num", text: number(m.comments) }),
        el("td", { className: "num", text: number(m.shares) }),
      ]);
    });
  }

  async function loadTop() {
    const params = { metric: state.metric, period: state.period, limit: 10 };
    const [communities, posts] = await Promise.all([
      getJSON(config.urls.top, { ...params, entity: "community" }),
      getJSON(config.urls.top, { ...params, entity: "post" }),
    ]);
    for (const head of root.querySelectorAll(".ad-metric-head")) head.textContent = METRIC_NAMES[state.metric];
    replaceRows(document.querySelector("#ad-top-communities tbody"), topRows(communities, false), 6, "No activity in this period.");
    replaceRows(document.querySelector("#ad-top-posts tbody"), topRows(posts, true), 6, "No activity in this period.");
  }

  function showEmpty(prefix, text) {
    const empty = document.getElementById(`${prefix}-empty`);
    empty.textContent = text;
    empty.hidden = !text;
    document.getElementById(`${prefix}-body`).hidden = Boolean(text);
  }

  async function loadPredictions() {
    const data = await getJSON(config.urls.predictions, { limit: 10, batch: state.batch });
    if (!data.results.length) {
      showEmpty(
        "ad-trending",
        state.batch === "evaluated"
          ? "No evaluated predictions yet: a batch is evaluated once its horizon has passed."
          : "No predictions yet: they appear once the trend model has been trained and applied."
      );
      return;
    }
    showEmpty("ad-trending", "");
    const version = data.model_run ? data.model_run.version || `#${data.model_run.id}` : "?";
    document.getElementById("ad-trending-meta").textContent =
      `Model ${version}, predicted at ${timeText(data.as_of)} for the engagement until ` +
      `${timeText(data.horizon_end)}` + (data.complete ? " (actuals final)." : " (actuals so far).");
    trendingTitles = data.results.map((r) => r.label);
    charts.trending.data.labels = data.results.map((r) => `#${r.rank ?? "?"}`);
    charts.trending.data.datasets[0].data = data.results.map((r) => r.predicted);
    charts.trending.data.datasets[1].data = data.results.map((r) => r.actual);
    charts.trending.update("none");
    const rows = data.results.map((r) =>
      el("tr", {}, [
        el("td", { text: r.rank ?? "–" }),
        el("td", { className: "ad-label", title: r.label }, r.url ? el("a", { href: r.url, text: r.label }) : r.label),
        el("td", { className: "num", text: number(r.last_hour, 1) }),
        el("td", { className: "num", text: number(r.predicted, 1) }),
        el("td", { className: "num ad-strong", text: number(r.actual, 1) }),
        el("td", { className: "num", text: number(r.trend_score, 1) }),
      ])
    );
    replaceRows(document.querySelector("#ad-trending tbody"), rows, 6, "");
  }

  function runMetric(run, who, name) {
    const metrics = run.metrics || {};
    const group = metrics[who];
    if (group && typeof group === "object" && name in group) return group[name];
    const flat = metrics[`${who}_${name}`];
    return flat === undefined ? null : flat;
  }

  async function loadRuns() {
    const data = await getJSON(config.urls.modelRuns, { limit: 20 });
    if (!data.results.length) {
      showEmpty("ad-runs", "No model runs yet: each training run will be listed here with its holdout metrics beside the persistence and Szabo–Huberman baselines.");
      return;
    }
    showEmpty("ad-runs", "");
    const runs = [...data.results].reverse();
    charts.runs.data.labels = runs.map((r) => r.version || `#${r.id}`);
    charts.runs.data.datasets[0].data = runs.map((r) => runMetric(r, "model", "mae_log1p"));
    charts.runs.data.datasets[1].data = runs.map((r) => runMetric(r, "persistence", "mae_log1p"));
    charts.runs.data.datasets[2].data = runs.map((r) => runMetric(r, "szabo_huberman", "mae_log1p"));
    charts.runs.update("none");
    const fixed = (value, digits = 3) => (value === null || value === undefined ? "–" : Number(value).toFixed(digits));
    if (!data.results.some((r) => r.id === state.run)) {
      const shown = data.results.find((r) => r.status === "succeeded") || data.results[0];
      state.run = shown.id;
    }
    runDetail(data.results.find((r) => r.id === state.run));
    const rows = data.results.map((r) =>
      el("tr", { className: r.id === state.run ? "ad-selected" : null }, [
        el(
          "td",
          {},
          el("button", {
            type: "button",
            className: "ad-link-button",
            "data-run": r.id,
            title: "Show this run's metrics beside the baselines and its feature importances",
            text: r.version || `#${r.id}`,
          })
        ),
        el("td", { text: r.trained_at ? timeText(r.trained_at).slice(5, 16) : "–" }),
        el(
          "td",
          { title: r.promotion_note || r.error || null },
          r.promoted ? el("span", { className: "ad-tag ad-tag-live", text: "promoted" }) : RUN_STATUS[r.status] || r.status || ""
        ),
        el("td", { className: "num ad-strong", text: fixed(runMetric(r, "model", "mae_log1p")) }),
        el("td", { className: "num", text: fixed(runMetric(r, "persistence", "mae_log1p")) }),
        el("td", { className: "num", text: fixed(runMetric(r, "szabo_huberman", "mae_log1p")) }),
        el("td", { className: "num", text: fixed(runMetric(r, "model", "spearman"), 2) }),
        el("td", { className: "num", text: fixed(runMetric(r, "model", "precision_at_10"), 2) }),
      ])
    );
    replaceRows(document.querySelector("#ad-runs tbody"), rows, 8, "");
    for (const button of root.querySelectorAll("#ad-runs [data-run]")) {
      button.addEventListener("click", () => {
        state.run = Number(button.dataset.run);
        loadRuns().catch(() => {});
      });
    }
  }

  // One run: each holdout metric of the model beside both baselines, and the features that
  // mattered most to each part of the model.
  function runDetail(run) {
    const fixed = (value, digits) => (value === null || value === undefined ? "–" : Number(value).toFixed(digits));
    document.getElementById("ad-run-detail-title").textContent =
      `Run ${run.version || `#${run.id}`}` + (run.algorithm ? ` (${run.algorithm})` : "");
    document.getElementById("ad-run-detail-note").textContent = [
      TRIGGERS[run.trigger] || run.trigger,
      run.promotion_note || run.error || RUN_STATUS[run.status] || run.status,
    ].filter(Boolean).join(" · ");
    const rows = RUN_METRICS.map(([name, label, digits]) =>
      el("tr", {}, [
        el("td", { text: label }),
        el("td", { className: "num ad-strong", text: fixed(runMetric(run, "model", name), digits) }),
        el("td", { className: "num", text: fixed(runMetric(run, "persistence", name), digits) }),
        el("td", { className: "num", text: fixed(runMetric(run, "szabo_huberman", name), digits) }),
      ])
    );
    replaceRows(document.querySelector("#ad-run-metrics tbody"), rows, 4, "");
    const parts = Object.entries(run.feature_importances || {});
    document.getElementById("ad-run-features").replaceChildren(
      ...parts.map(([part, features]) => {
        const strongest = Math.max(...features.map((f) => f.importance), 1e-9);
        return el("div", { className: "ad-features" }, [
          el("h4", { className: "ad-h4", text: `Features that mattered most: ${(FEATURE_PARTS[part] || part).toLowerCase()}` }),
          el(
            "ol",
            { className: "ad-feature-list" },
            features.map((f) =>
              el("li", { title: `${f.feature}: ${(100 * f.importance).toFixed(1)}% of the gain` }, [
                el("span", { className: "ad-feature-name", text: f.feature }),
                el("span", {
                  className: "ad-feature-bar",
                  style: { width: `${Math.max(2, Math.round((100 * f.importance) / strongest))}%` },
                }),
                el("span", { className: "ad-feature-value", text: `${(100 * f.importance).toFixed(0)}%` }),
              ])
            )
          ),
        ]);
      })
    );
  }

  // --- refresh loop and controls ---------------------------------------------------------

  async function refresh() {
    if (state.busy) return;
    state.busy = true;
    try {
      const results = await Promise.allSettled([loadSummary(), loadSeries(), loadTop(), loadPredictions(), loadRuns()]);
      const failure = results.find((r) => r.status === "rejected");
      const error = document.getElementById("ad-error");
      error.hidden = !failure;
      error.textContent = failure ? failure.reason.message : "";
      state.refreshes += 1;
      root.dataset.refreshes = String(state.refreshes);
      const now = new Date();
      document.getElementById("ad-updated").textContent =
        `Updated ${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}:${pad(now.getUTCSeconds())} UTC` +
        (state.paused ? " · paused" : ` · every ${config.refreshSeconds} s`);
    } finally {
      state.busy = false;
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    if (state.paused) return;
    state.timer = setTimeout(async () => {
      if (!document.hidden) await refresh();
      schedule();
    }, config.refreshSeconds * 1000);
  }

  function pressed(group, attribute, value) {
    for (const button of root.querySelectorAll(`[${attribute}]`)) {
      if (button.closest(".ad-segmented") === group) button.setAttribute("aria-pressed", String(button.getAttribute(attribute) === value));
    }
  }

  function scopeSet(slug) {
    const select = document.getElementById("ad-scope");
    if (![...select.options].some((o) => o.value === slug)) {
      select.append(el("option", { value: slug, text: slug }));
    }
    select.value = slug;
    state.scope = slug;
    loadSeries().catch(() => {});
    document.getElementById("ad-chart-title").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function controlsBind() {
    document.getElementById("ad-scope").addEventListener("change", (event) => {
      state.scope = event.target.value;
      loadSeries().catch(() => {});
    });
    for (const button of root.querySelectorAll("[data-granularity]")) {
      button.addEventListener("click", () => {
        state.granularity = button.dataset.granularity;
        pressed(button.closest(".ad-segmented"), "data-granularity", state.granularity);
        loadSeries().catch(() => {});
      });
    }
    for (const button of root.querySelectorAll("[data-batch]")) {
      button.addEventListener("click", () => {
        state.batch = button.dataset.batch;
        pressed(button.closest(".ad-segmented"), "data-batch", state.batch);
        loadPredictions().catch(() => {});
      });
    }
    for (const button of root.querySelectorAll("[data-period]")) {
      button.addEventListener("click", () => {
        state.period = button.dataset.period;
        pressed(button.closest(".ad-segmented"), "data-period", state.period);
        loadTop().catch(() => {});
      });
    }
    document.getElementById("ad-metric").addEventListener("change", (event) => {
      state.metric = event.target.value;
      loadTop().catch(() => {});
    });
    const pause = document.getElementById("ad-pause");
    pause.addEventListener("click", () => {
      state.paused = !state.paused;
      pause.setAttribute("aria-pressed", String(state.paused));
      pause.textContent = state.paused ? "Resume" : "Pause";
      if (state.paused) clearTimeout(state.timer);
      else refresh().then(schedule);
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && !state.paused) refresh().then(schedule);
    });
  }

  chartsCreate();
  controlsBind();
  refresh().then(schedule);
})();
