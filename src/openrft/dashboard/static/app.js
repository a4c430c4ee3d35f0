// Hash router: each route renders into #view; live pages re-render every few seconds.

import { api, apiKey, AuthError, setApiKey } from "./api.js";
import { el } from "./dom.js";
import { comparePage, evalPage, evalsPage, runPage } from "./evals.js";
import { jobPage, jobsPage } from "./jobs.js";
import { playgroundPage } from "./playground.js";
import { rolloutsPage } from "./rollouts.js";

const REFRESH_MS = 3000;
const view = document.getElementById("view");
let timer = null;
let rendering = 0;

const routes = [
  [/^\/$/, () => jobsPage, "jobs"],
  [/^\/jobs\/([^/]+)$/, ([id]) => (v, _p, again) => jobPage(v, id, again), "jobs"],
  [/^\/jobs\/([^/]+)\/rollouts$/, ([id]) => (v, p) => rolloutsPage(v, id, p), "jobs"],
  [/^\/evals$/, () => evalsPage, "evals"],
  [/^\/evals\/([^/]+)$/, ([id]) => (v) => evalPage(v, id), "evals"],
  [/^\/evals\/([^/]+)\/runs\/([^/]+)$/, ([e, r]) => (v) => runPage(v, e, r), "evals"],
  [/^\/compare$/, () => (v, p) => comparePage(v, p), "evals"],
  [/^\/playground$/, () => playgroundPage, "playground"],
];

function login(message) {
  const key = el("input", { type: "password", "aria-label": "API key", autocomplete: "current-password" });
  const form = el(
    "form",
    {
      class: "login",
      onsubmit: (e) => {
        e.preventDefault();
        setApiKey(key.value.trim());
        render();
      },
    },
    el("h1", {}, "Sign in"),
    message ? el("p", { class: "error" }, message) : null,
    el("label", {}, "API key (a project key, or one of the server's OPENRFT_API_KEYS)", key),
    el("button", { type: "submit" }, "Sign in"),
  );
  view.replaceChildren(form);
  key.focus();
}

// The project the key is signed into (every page shows only that project's jobs, evals and graders).
let signedInto = null;

async function showProject() {
  const badge = document.getElementById("project");
  if (!apiKey()) {
    signedInto = null;
    badge.hidden = true;
    return;
  }
  if (signedInto?.key !== apiKey()) signedInto = { key: apiKey(), me: await api("/v1/openrft/me") };
  const { project, admin } = signedInto.me;
  badge.textContent = `project ${project}${admin ? " (admin: every project)" : ""}`;
  badge.title = admin ? "An admin key sees every project's resources" : "This key sees only this project";
  badge.hidden = false;
}

async function render() {
  clearTimeout(timer);
  const token = ++rendering;
  document.getElementById("logout").hidden = !apiKey();
  if (!apiKey()) {
    await showProject();
    return login();
  }
  try {
    await showProject();
  } catch (error) {
    if (error instanceof AuthError) {
      setApiKey("");
      return login(error.message);
    }
  }
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  const match = routes.map(([re, page, nav]) => [path.match(re), page, nav]).find(([m]) => m);
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", match && a.dataset.nav === match[2]));
  const next = el("div", { class: "page" });
  try {
    if (!match) {
      next.append(el("h1", {}, "Not found"), el("p", {}, el("a", { href: "#/" }, "Back to jobs")));
    } else {
      const live = await match[1](match[0].slice(1))(next, params, render);
      if (live && token === rendering) timer = setTimeout(render, REFRESH_MS);
    }
  } catch (error) {
    if (error instanceof AuthError) {
      setApiKey("");
      return login(error.message);
    }
    next.append(el("p", { class: "error" }, `Could not load this page: ${error.message}`));
  }
  if (token === rendering) {
    view.replaceChildren(next);
    view.dataset.ready = String(token);
  }
}

document.getElementById("logout").addEventListener("click", () => {
  setApiKey("");
  render();
});
window.addEventListener("hashchange", render);
render();
