// Builds the console into layers/core/stepwise/api/console_assets/: one hashed JS bundle, one
// hashed CSS file and index.html, plus manifest.json with the sha256 of every source file (a
// test compares it with console/ so a source change without a rebuild fails the suite).
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";

const OUT = new URL("../layers/core/stepwise/api/console_assets/", import.meta.url).pathname;
const here = new URL(".", import.meta.url).pathname;

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const result = await esbuild.build({
  entryPoints: { app: join(here, "src/main.js"), style: join(here, "src/style.css") },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2020"],
  entryNames: "[name]-[hash]",
  outdir: OUT,
  metafile: true,
  legalComments: "eof",
  logLevel: "warning",
});
const outputs = Object.keys(result.metafile.outputs).map((p) => p.split("/").pop());
const js = outputs.find((f) => f.endsWith(".js"));
const css = outputs.find((f) => f.endsWith(".css"));
const page = readFileSync(join(here, "index.html"), "utf8").replace("{{js}}", `/console/${js}`).replace("{{css}}", `/console/${css}`);
writeFileSync(join(OUT, "index.html"), page);

const sources = {};
const walk = (dir) => {
  for (const entry of readdirSync(join(here, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") walk(rel);
    } else {
      sources[rel] = createHash("sha256").update(readFileSync(join(here, rel))).digest("hex");
    }
  }
};
walk("");
writeFileSync(join(OUT, "manifest.json"), JSON.stringify({ entry: "index.html", js, css, sources }, null, 2) + "\n");
for (const f of [...outputs, "index.html"]) console.log(f);
