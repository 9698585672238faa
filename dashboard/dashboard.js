// The dashboard: reads the JSON API from the browser every few seconds and draws it. Every
// value from the API goes into the page as text (textContent), never as markup.
"use strict";

(() => {
  const API = location.pathname.replace(/\/dashboard\/?$/, "") || "/api";
  const KEY = "batch-jobs.function-key";
  const EVERY_MS = 3000;
  const PAGE = 20;
  const FAILED_PAGE = 10;
  const STATE_NAMES = {
    running: "running",
    completed: "completed",
    completed_with_failures: "completed with failures",
    cancelled: "cancelled",
  };

  const $ = (id) => document.getElementById(id);
  const view = {
    filter: "",
    wanted: PAGE, // tasks the list shows; "More tasks" asks for more
    more: false,
    taskId: null,
    task: null,
    failed: [], // failed jobs shown in the task view
    failedMore: null, // where the next page of failed jobs starts
    timer: null,
  };

  // -- the function key ---------------------------------------------------------------------

  function keyFromAddress() {
    const url = new URL(location.href);
    const code = url.searchParams.get("code");
    if (code) {
      sessionStorage.setItem(KEY, code);
      url.searchParams.delete("code"); // out of the address bar, the history and bookmarks
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
  }

  let asking = null; // one question at a time, however many calls were refused
  let asked = false; // asked unprompted once; after that, only when "Function key" is used

  function askForKey() {
    if (!asking) {
      asking = new Promise((resolve) => {
        const dialog = $("key");
        const input = $("key-input");
        input.value = "";
        dialog.addEventListener(
          "close",
          () => {
            const key = input.value.trim();
            if (dialog.returnValue === "yes" && key) {
              sessionStorage.setItem(KEY, key);
              resolve(true);
            } else {
              resolve(false);
            }
            asking = null;
          },
          { once: true },
        );
        dialog.showModal();
        input.focus();
      });
    }
    return asking;
  }

  // -- the API ------------------------------------------------------------------------------

  class ApiError extends Error {}

  async function call(path, { method = "GET", json = true, again = true } = {}) {
    const headers = { Accept: json ? "application/json" : "*/*" };
    const key = sessionStorage.getItem(KEY);
    if (key) headers["x-functions-key"] = key;
    let response;
    try {
      response = await fetch(API + path, { method, headers, cache: "no-store" });
    } catch (error) {
      throw new ApiError(`The service cannot be reached (${error.message}).`);
    }
    if (response.status === 401 || response.status === 403) {
      if (again && (!asked || asking)) {
        asked = true;
        if (await askForKey()) return call(path, { method, json, again: false });
      }
      throw new ApiError(
        "The service refused the function key (or none was given). " +
          'Use "Function key" at the top to enter one.',
      );
    }
    if (!response.ok) throw new ApiError(await describe(response));
    return json ? response.json() : response;
  }

  async function describe(response) {
    let text = `The service answered ${response.status} ${response.statusText}`.trim() + ".";
    try {
      const document = await response.json();
      if (document && typeof document.error === "string") {
        text = document.error.charAt(0).toUpperCase() + document.error.slice(1);
        const details = (document.details || []).map((d) => {
          const where = [d.index === undefined ? "" : `item ${d.index}`, d.field]
            .filter(Boolean)
            .join(", ");
          return where ? `${where}: ${d.message}` : d.message;
        });
        if (details.length) text += ` (${details.join("; ")})`;
      }
    } catch {
      // not JSON: the status says it all
    }
    const wait = response.headers.get("Retry-After");
    return wait ? `${text} Try again in ${wait} s.` : text;
  }

  // -- helpers ------------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function span(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h} h ${m % 60} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }

  function timesOf(task) {
    const created = Date.parse(task.created_at);
    const finished = task.status === "running" ? null : Date.parse(task.finished_at || task.updated_at);
    const now = Date.now();
    return {
      age: span((now - created) / 1000),
      duration: span(((finished ?? now) - created) / 1000),
      finished: finished !== null,
    };
  }

  function progress(task) {
    const c = task.counts;
    const total = task.total || 1;
    const done = c.completed + c.failed + c.cancelled;
    const percent = Math.floor((100 * done) / total);
    const box = el("div", "progress");
    box.setAttribute("role", "progressbar");
    box.setAttribute("aria-valuemin", "0");
    box.setAttribute("aria-valuemax", "100");
    box.setAttribute("aria-valuenow", String(percent));
    box.setAttribute("aria-label", `${done} of ${task.total} jobs finished`);
    const track = el("div", "track");
    for (const [name, count] of [["done", c.completed], ["fail", c.failed], ["gone", c.cancelled]]) {
      const part = el("span", name);
      part.style.width = `${(100 * count) / total}%`;
      track.append(part);
    }
    box.append(track, el("span", "pct", `${percent} %`));
    return box;
  }

  function metadata(task) {
    const box = el("div", "meta");
    const data = task.metadata;
    if (data && typeof data === "object") {
      for (const [name, value] of Object.entries(data)) {
        box.append(el("span", "", `${name}: ${typeof value === "string" ? value : JSON.stringify(value)}`));
      }
    }
    return box;
  }

  // A task's place in its chain of stages: links to the stage before and after it, the
  // stages still to come, and why its last end could not submit the next one.
  function chainOf(task) {
    const parts = [];
    const link = (label, taskId) => {
      const row = el("p", "stage");
      const to = el("a", "mono", taskId.slice(0, 8));
      to.href = `#task/${taskId}`;
      to.title = taskId;
      row.append(el("span", "", `${label} `), to);
      return row;
    };
    if (task.previous) parts.push(link("Previous stage", task.previous));
    if (task.next) parts.push(link("Next stage", task.next));
    if (task.then) {
      const names = [];
      for (let stage = task.then; stage; stage = stage.then) {
        names.push(`${stage.kind} over ${stage.over}${stage.when === "finished" ? ", when finished" : ""}`);
      }
      parts.push(el("p", "stage then", `Then: ${names.join(" → ")}`));
    }
    if (task.stage_error) parts.push(el("p", "stage error", task.stage_error));
    return parts;
  }

  function stateBadge(status) {
    return el("span", `state ${status}`, STATE_NAMES[status] || status);
  }

  function pairs(list, entries) {
    list.replaceChildren(
      ...entries.map(([name, value]) => {
        const row = el("div");
        row.append(el("dt", "", name), el("dd", "", String(value)));
        return row;
      }),
    );
  }

  // -- overview -----------------------------------------------------------------------------

  async function loadStats() {
    const stats = await call("/stats");
    $("running-tasks").textContent = String(stats.running_tasks);
    $("queues").replaceChildren(
      ...stats.queues.map((q) => {
        const row = el("tr");
        const poison = el("td", q.poison ? "alarm" : "", String(q.poison));
        row.append(el("td", "", q.queue), el("td", "", String(q.depth)), poison);
        return row;
      }),
    );
    drawChart(stats.per_minute);
  }

  function drawChart(minutes) {
    const NS = "http://www.w3.org/2000/svg";
    const width = Math.max(240, Math.round($("chart").clientWidth) || 600); // drawn in pixels
    const top = 14;
    const bottom = 118;
    const most = Math.max(1, ...minutes.map((m) => m.completed + m.failed));
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} 140`);
    svg.setAttribute("role", "img");
    const completed = minutes.reduce((sum, m) => sum + m.completed, 0);
    const failed = minutes.reduce((sum, m) => sum + m.failed, 0);
    svg.setAttribute("aria-label", `Last hour: ${completed} jobs completed, ${failed} failed`);
    const slot = width / minutes.length;
    const scale = (bottom - top) / most;
    minutes.forEach((m, i) => {
      const at = new Date(m.minute).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      const group = document.createElementNS(NS, "g");
      const title = document.createElementNS(NS, "title");
      title.textContent = `${at}: ${m.completed} completed, ${m.failed} failed`;
      group.append(title);
      let y = bottom;
      for (const [name, count] of [["completed", m.completed], ["failed", m.failed]]) {
        if (!count) continue;
        const h = Math.max(1, count * scale);
        y -= h;
        const bar = document.createElementNS(NS, "rect");
        bar.setAttribute("class", name);
        bar.setAttribute("x", String(i * slot + 1));
        bar.setAttribute("y", String(y));
        bar.setAttribute("width", String(Math.max(1, slot - 2)));
        bar.setAttribute("height", String(h));
        group.append(bar);
      }
      svg.append(group);
    });
    const axis = document.createElementNS(NS, "line");
    axis.setAttribute("class", "axis");
    for (const [name, value] of [["x1", 0], ["x2", width], ["y1", bottom + 0.5], ["y2", bottom + 0.5]]) {
      axis.setAttribute(name, String(value));
    }
    svg.append(axis);
    for (const [text, x, y, anchor] of [
      [`${most} / min`, 0, 10, "start"],
      ["60 min ago", 0, 134, "start"],
      ["now", width, 134, "end"],
    ]) {
      const label = document.createElementNS(NS, "text");
      label.setAttribute("x", String(x));
      label.setAttribute("y", String(y));
      label.setAttribute("text-anchor", anchor);
      label.textContent = text;
      svg.append(label);
    }
    $("chart").replaceChildren(svg);
  }

  // -- the task list ------------------------------------------------------------------------

  async function loadTasks() {
    const found = [];
    let after = null;
    // A filtered page may end early (it passed over many other tasks): follow it a little.
    for (let pages = 0; pages < 5 && found.length < view.wanted; pages += 1) {
      const query = new URLSearchParams({ limit: String(Math.min(100, view.wanted - found.length)) });
      if (view.filter) query.set("state", view.filter);
      if (after) query.set("continuation", after);
      const page = await call(`/tasks?${query}`);
      found.push(...page.tasks);
      after = page.continuation;
      if (!after) break;
    }
    view.more = Boolean(after);
    renderTasks(found);
  }

  function renderTasks(tasks) {
    const list = $("tasks");
    const old = new Map([...list.children].map((item) => [item.dataset.taskId, item]));
    const items = tasks.map((task) => {
      const item = old.get(task.task_id) || newTaskItem(task.task_id);
      fillTaskItem(item, task);
      return item;
    });
    list.replaceChildren(...items);
    $("no-tasks").hidden = tasks.length > 0;
    $("more-tasks").hidden = !view.more;
  }

  function newTaskItem(taskId) {
    const item = el("li", "task");
    item.dataset.taskId = taskId;
    item.tabIndex = 0;
    item.setAttribute("role", "link");
    item.addEventListener("click", () => openTask(taskId));
    item.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        openTask(taskId);
      }
    });
    return item;
  }

  function fillTaskItem(item, task) {
    const c = task.counts;
    const times = timesOf(task);
    item.dataset.status = task.status;
    item.setAttribute("aria-label", `Task ${task.task_id}, ${task.kind}, ${STATE_NAMES[task.status] || task.status}`);
    const who = el("div", "who");
    who.append(stateBadge(task.status), " ", el("span", "kind", task.kind));
    if (task.priority && task.priority !== "normal") {
      who.append(" ", el("span", `priority ${task.priority}`, `${task.priority} priority`));
    }
    who.append(el("div", "id mono", task.task_id.slice(0, 8)), metadata(task));
    if (task.previous || task.next || task.then || task.stage_error) {
      const words = [];
      if (task.previous) words.push(`after ${task.previous.slice(0, 8)}`);
      if (task.next) words.push(`next ${task.next.slice(0, 8)}`);
      if (task.stage_error) words.push("next stage not submitted");
      else if (!task.next && task.then) words.push(`then ${task.then.kind}`);
      who.append(el("div", "chain-line", words.join(" · ")));
    }
    const parts = [`${c.completed + c.failed + c.cancelled} of ${task.total} finished`];
    for (const [count, name] of [[c.completed, "completed"], [c.failed, "failed"],
      [c.cancelled, "cancelled"], [c.in_progress, "running"], [c.pending, "pending"]]) {
      if (count) parts.push(`${count} ${name}`);
    }
    const counts = el("div", "counts-line", parts.join(" · "));
    const when = el("div", "when");
    when.append(
      el("div", "", `submitted ${times.age} ago`),
      el("div", "", `${times.finished ? "took" : "running for"} ${times.duration}`),
    );
    item.replaceChildren(who, progress(task), counts, when);
  }

  // -- one task -----------------------------------------------------------------------------

  function openTask(taskId) {
    location.hash = `#task/${taskId}`;
  }

  function route() {
    const match = /^#task\/([0-9a-fA-F-]{36})$/.exec(location.hash);
    const taskId = match ? match[1].toLowerCase() : null;
    if (taskId !== view.taskId) {
      view.taskId = taskId;
      view.task = null;
      view.failed = [];
      view.failedMore = null;
      $("action-note").textContent = "";
      $("task-id").textContent = taskId || "";
      $("task-state").replaceChildren();
      $("failed-jobs").replaceChildren();
    }
    $("task").hidden = !taskId;
    $("list").hidden = Boolean(taskId);
    $("overview").hidden = Boolean(taskId);
    refreshNow();
  }

  async function loadTask() {
    const taskId = view.taskId;
    const [task, jobs] = await Promise.all([
      call(`/tasks/${taskId}`),
      call(`/tasks/${taskId}/jobs?status=failed&limit=${Math.max(FAILED_PAGE, view.failed.length)}`),
    ]);
    if (taskId !== view.taskId) return; // the user moved on meanwhile
    view.task = task;
    view.failed = jobs.jobs;
    view.failedMore = jobs.continuation;
    renderTask();
  }

  function renderTask() {
    const task = view.task;
    const c = task.counts;
    const times = timesOf(task);
    $("task-title").textContent = `Task ${task.task_id.slice(0, 8)}`;
    $("task-id").textContent = task.task_id;
    $("task-state").replaceWith(Object.assign(stateBadge(task.status), { id: "task-state" }));
    $("task-kind").textContent = task.kind;
    $("task-priority").textContent = `${task.priority || "normal"} priority`;
    $("task-priority").className = `priority ${task.priority || "normal"}`;
    $("task-progress").replaceChildren(progress(task));
    pairs($("task-counts"), [
      ["total", task.total],
      ["pending", c.pending],
      ["running", c.in_progress],
      ["completed", c.completed],
      ["failed", c.failed],
      ["cancelled", c.cancelled],
    ]);
    pairs($("task-times"), [
      ["submitted", new Date(task.created_at).toLocaleString()],
      ["age", times.age],
      [times.finished ? "took" : "running for", times.duration],
    ]);
    $("task-metadata").replaceChildren(metadata(task));
    const chain = chainOf(task);
    $("task-chain").replaceChildren(...chain);
    $("task-chain").hidden = chain.length === 0;
    // The service retries a task once it has finished, never a cancelled one.
    $("retry").disabled = c.failed === 0 || task.status !== "completed_with_failures";
    $("cancel").disabled = task.status !== "running";
    $("download").disabled = task.status === "running";
    $("download").title = task.status === "running" ? "Results can be downloaded once the task has finished" : "";
    renderFailed();
  }

  function renderFailed() {
    $("failed-jobs").replaceChildren(
      ...view.failed.map((job) => {
        const item = el("li", "job");
        item.dataset.jobId = job.job_id;
        const head = el("div", "mono", `job ${job.job_id} · ${job.attempts} attempt${job.attempts === 1 ? "" : "s"}`);
        item.append(head, el("p", "error", job.error || "(no error recorded)"));
        return item;
      }),
    );
    $("no-failed").hidden = view.failed.length > 0;
    $("more-failed").hidden = !view.failedMore;
  }

  async function moreFailed() {
    const taskId = view.taskId;
    const query = new URLSearchParams({ status: "failed", limit: String(FAILED_PAGE) });
    query.set("continuation", view.failedMore);
    try {
      const page = await call(`/tasks/${taskId}/jobs?${query}`);
      if (taskId !== view.taskId) return;
      view.failed = view.failed.concat(page.jobs);
      view.failedMore = page.continuation;
      renderFailed();
    } catch (error) {
      showProblem([error.message]);
    }
  }

  function confirmAction(text, yes) {
    return new Promise((resolve) => {
      const dialog = $("confirm");
      $("confirm-text").textContent = text;
      $("confirm-yes").textContent = yes;
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  async function act(button, work) {
    button.disabled = true;
    try {
      $("action-note").textContent = await work();
      clearProblem();
    } catch (error) {
      $("action-note").textContent = "";
      showProblem([error.message]);
    } finally {
      refreshNow();
    }
  }

  async function retry() {
    const failed = view.task.counts.failed;
    const sure = await confirmAction(
      `Run the ${failed} failed job${failed === 1 ? "" : "s"} of this task again? ` +
        "Each starts over from its first attempt.",
      "Retry failed jobs",
    );
    if (!sure) return;
    await act($("retry"), async () => {
      const answer = await call(`/tasks/${view.taskId}/retry`, { method: "POST" });
      return `${answer.requeued} failed job${answer.requeued === 1 ? "" : "s"} sent to run again.`;
    });
  }

  async function cancel() {
    const sure = await confirmAction(
      "Cancel this task? Jobs that have not started will not run; running ones finish.",
      "Cancel task",
    );
    if (!sure) return;
    await act($("cancel"), async () => {
      await call(`/tasks/${view.taskId}`, { method: "DELETE" });
      return "Cancel requested: jobs not yet started will not run.";
    });
  }

  async function download() {
    await act($("download"), async () => {
      const response = await call(`/tasks/${view.taskId}/results`, { json: false });
      const url = URL.createObjectURL(await response.blob());
      const link = el("a");
      link.href = url;
      link.download = `task-${view.taskId}-results.ndjson`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      return "Results downloaded.";
    });
  }

  // -- refreshing ---------------------------------------------------------------------------

  function showProblem(messages) {
    const box = $("problem");
    box.textContent = messages.join("\n");
    box.hidden = false;
  }

  function clearProblem() {
    $("problem").hidden = true;
    $("problem").textContent = "";
  }

  async function refresh() {
    const work = view.taskId ? [loadTask()] : [loadStats(), loadTasks()];
    const results = await Promise.allSettled(work);
    const problems = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
    if (problems.length) showProblem([...new Set(problems)]);
    else clearProblem();
    $("refreshed").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  let queue = Promise.resolve();
  function refreshNow() {
    // One refresh at a time; one asked for meanwhile runs right after, then the timer again.
    clearTimeout(view.timer);
    queue = queue
      .then(refresh)
      .catch((error) => showProblem([error.message]))
      .then(() => {
        clearTimeout(view.timer);
        view.timer = setTimeout(refreshNow, EVERY_MS);
      });
    return queue;
  }

  // -- start --------------------------------------------------------------------------------

  keyFromAddress();
  $("state").addEventListener("change", (event) => {
    view.filter = event.target.value;
    view.wanted = PAGE;
    refreshNow();
  });
  $("more-tasks").addEventListener("click", () => {
    view.wanted += PAGE;
    refreshNow();
  });
  $("more-failed").addEventListener("click", moreFailed);
  $("back").addEventListener("click", () => {
    location.hash = "";
  });
  $("retry").addEventListener("click", retry);
  $("cancel").addEventListener("click", cancel);
  $("download").addEventListener("click", download);
  $("change-key").addEventListener("click", async () => {
    if (await askForKey()) refreshNow();
  });
  window.addEventListener("hashchange", route);
  route();
})();
