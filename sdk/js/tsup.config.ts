import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", engine: "src/engine/index.ts", browser: "src/browser/index.ts", openfeature: "src/openfeature/server.ts", "openfeature-web": "src/openfeature/web.ts" },
  format: ["esm"],
  target: "node18",
  dts: true,
  clean: true,
  sourcemap: true,
});
