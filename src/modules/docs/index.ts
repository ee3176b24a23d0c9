// GET /docs: the interactive API reference (Scalar), served whole by this service. @elysiajs/openapi's
// own page loads @scalar/api-reference@latest from a public CDN: unpinned, unchecked, and blank
// without internet. Here the script is the pinned npm package's standalone browser bundle,
// embedded in the compiled binary like PGlite's files, and the page may load nothing from
// anywhere else (its Content-Security-Policy). The OpenAPI document stays @elysiajs/openapi's.
import { Elysia } from "elysia";
// A path, not the package name: the package's exports do not include its browser bundle.
import scalarBundle from "../../../node_modules/@scalar/api-reference/dist/browser/standalone.js" with { type: "file" };

const SCRIPT_PATH = "/docs/scalar.js";

/**
 * Scalar renders its styles at run time (inline <style> elements and style attributes), which no
 * hash can name, so styles alone may be inline; scripts come only from this service, and the page
 * connects only to it (the OpenAPI document). The configuration turns off what would reach Scalar's
 * own servers: its fonts' CDN, telemetry, the hosted client and the AI agent.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function page(specPath: string, title: string): string {
  const configuration = JSON.stringify({
    url: specPath,
    theme: "elysiajs",
    withDefaultFonts: false,
    hideClientButton: true,
    showDeveloperTools: "never",
    telemetry: false,
    agent: { disabled: true },
  });
  // A data block (type="application/json") is never run, so the policy needs no hash for it.
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(title)}</title>
    <link rel="icon" href="data:," />
  </head>
  <body>
    <script id="api-reference" type="application/json" data-configuration="${escapeHtml(configuration)}"></script>
    <script src="${SCRIPT_PATH}"></script>
  </body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function docsPage({ specPath, title }: { specPath: string; title: string }) {
  const html = page(specPath, title);
  return new Elysia({ name: "docs-page" })
    .get(
      "/docs",
      () =>
        new Response(html, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "content-security-policy": CONTENT_SECURITY_POLICY,
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
          },
        }),
      { detail: { hide: true } },
    )
    .get(
      SCRIPT_PATH,
      () =>
        new Response(Bun.file(scalarBundle), {
          headers: {
            "content-type": "text/javascript; charset=utf-8",
            "x-content-type-options": "nosniff",
            // Revalidated, not kept: a new release of the service may bring a new bundle.
            "cache-control": "no-cache",
          },
        }),
      { detail: { hide: true } },
    );
}
