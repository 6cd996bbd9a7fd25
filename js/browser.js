// edgeseg browser helper: personalise a page from `/user/segments`.
//
// Polls the endpoint the Worker adapter serves (with `If-None-Match`, so an unchanged snapshot costs
// a 304), accepts pushed messages (`{version}` → re-fetch, or a whole `{tier, segments, version}`),
// optionally adds segments evaluated locally from request-context rules (an `Engine` loaded with a
// snapshot and `segmentsFor(context)`: without an identity only rule segments that need no consent
// can match, so nothing personal is guessed), and shows the elements marked
// `data-edgeseg-show="<segment> …"` (or `tier:<tier>`) that match, hiding the others.

/** Shows elements whose `data-edgeseg-show` names a segment in `view.segments` or `tier:<view.tier>`. */
export function apply(root, view) {
  const have = new Set(view.segments ?? []);
  if (view.tier) have.add(`tier:${view.tier}`);
  for (const el of root.querySelectorAll("[data-edgeseg-show]")) {
    const wanted = el.getAttribute("data-edgeseg-show").split(/[\s,]+/).filter(Boolean);
    el.hidden = !wanted.some((w) => have.has(w));
  }
  const html = root.documentElement ?? root.ownerDocument?.documentElement;
  if (html && view.tier) html.setAttribute("data-edgeseg-tier", view.tier);
}

/**
 * Starts personalising. Returns a controller: `refresh()`, `push(message)`, `stop()`, `view`.
 * @param {import("./browser.d.ts").PersonaliseOptions} [options]
 */
export function personalise(options = {}) {
  const url = options.url ?? "/user/segments";
  const root = options.root ?? document;
  const doFetch = options.fetch ?? ((...a) => fetch(...a));
  let etag = null;
  let server = { tier: null, segments: [], version: null };
  let timer = null;
  let stopped = false;

  const controller = {
    view: { tier: null, segments: [], version: null },
    async refresh() {
      const headers = etag ? { "if-none-match": etag } : {};
      const res = await doFetch(url, { headers, credentials: "same-origin", cache: "no-cache" });
      if (res.status === 304) return false;
      if (!res.ok) throw new Error(`edgeseg: ${url} answered ${res.status}`);
      etag = res.headers.get("etag");
      server = await res.json();
      render();
      return true;
    },
    async push(message) {
      if (message && Array.isArray(message.segments)) {
        server = message;
        etag = message.version != null ? `"${message.version}"` : null;
        render();
      } else if (message?.version == null || message.version !== server.version) {
        await controller.refresh();
      }
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };

  function render() {
    const local = options.engine ? options.engine.segmentsFor(options.context?.() ?? defaultContext()) : [];
    const segments = [...new Set([...(server.segments ?? []), ...local])];
    const view = { tier: server.tier, segments, version: server.version };
    const changed = JSON.stringify(view) !== JSON.stringify(controller.view);
    controller.view = view;
    apply(root, view);
    if (changed) options.onChange?.(view);
  }

  const interval = options.intervalMs ?? 30_000;
  async function loop() {
    try {
      await controller.refresh();
    } catch (err) {
      options.onError?.(err);
    }
    if (!stopped && interval > 0) timer = setTimeout(loop, interval);
  }
  controller.ready = loop();
  return controller;
}

function defaultContext() {
  return { url: location.href, headers: { "user-agent": navigator.userAgent } };
}
