// Copy Swagger UI and ReDoc from their npm packages into the dist, so /api/docs and /api/redoc need no
// CDN (an offline install shows the same pages). Run by `npm run build` after Vite.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const out = "../src/experimently/console/dist/docs-assets";
const swagger = dirname(require.resolve("swagger-ui-dist/package.json"));
const redoc = dirname(require.resolve("redoc/package.json"));
mkdirSync(join(out, "swagger-ui"), { recursive: true });
mkdirSync(join(out, "redoc"), { recursive: true });
for (const name of ["swagger-ui.css", "swagger-ui-bundle.js"]) {
  copyFileSync(join(swagger, name), join(out, "swagger-ui", name));
}
copyFileSync(join(redoc, "bundles", "redoc.standalone.js"), join(out, "redoc", "redoc.standalone.js"));
writeFileSync(
  join(out, "swagger-init.js"),
  `window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  persistAuthorization: false, oauth2RedirectUrl: undefined });\n`,
);
console.log("docs assets copied");
