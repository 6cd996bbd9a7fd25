// Serves the demo page, the npm package under /pkg/, and GET /user/segments answered by the
// package's Node build with the same contract as the Worker adapter (ETag = snapshot version, 304).
//
//   cargo xtask build-js
//   edgeseg build --definitions snapshots/data/demo.json --members js/test/members.csv --out target/js/test.snapshot
//   node examples/browser/serve.mjs target/js/pkg target/js/test.snapshot 8787
//   open http://127.0.0.1:8787/ with a cookie edgeseg_uid=alice (premium) or bob (free)
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

export async function serve(pkgDir, snapshotPath, port = 0) {
  const { Engine } = createRequire(import.meta.url)(resolve(pkgDir, "nodejs/edgeseg.js"));
  const engine = Engine.load(await readFile(snapshotPath));
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://localhost");
    try {
      if (url.pathname === "/user/segments") {
        const d = engine.decide({ method: req.method, host: req.headers.host, path: req.url, headers: Object.entries(req.headers) });
        const etag = `"${d.snapshot_version}"`;
        const headers = { etag, "cache-control": "private, no-cache", vary: "cookie" };
        if ((req.headers["if-none-match"] ?? "").split(",").some((t) => t.trim().replace(/^W\//, "") === etag)) {
          res.writeHead(304, headers).end();
        } else {
          res.writeHead(200, { ...headers, "content-type": "application/json" });
          res.end(JSON.stringify({ tier: d.tier, segments: d.segments, version: d.snapshot_version }));
        }
        return;
      }
      const [base, rel] = url.pathname.startsWith("/pkg/") ? [pkgDir, url.pathname.slice(5)] : [here, url.pathname === "/" ? "index.html" : url.pathname.slice(1)];
      const file = join(base, normalize(rel).replace(/^(\.\.[/\\])+/, ""));
      const body = await readFile(file);
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch (e) {
      res.writeHead(e.code === "ENOENT" ? 404 : 500, { "content-type": "text/plain" }).end(String(e));
    }
  });
  await new Promise((ok) => server.listen(port, "127.0.0.1", ok));
  return server;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [pkg = "target/js/pkg", snap = "target/js/test.snapshot", port = "8787"] = process.argv.slice(2);
  const server = await serve(resolve(pkg), resolve(snap), Number(port));
  console.log(`edgeseg demo on http://127.0.0.1:${server.address().port}/`);
}
