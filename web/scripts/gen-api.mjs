// Regenerate src/api/schema.d.ts from the server's OpenAPI document (run after changing an endpoint).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

const python = process.env.PYTHON ?? "../.venv/bin/python";
const spec = execFileSync(python, [
  "-c",
  "import json; from experimently.app import create_app; from experimently.config import Settings; " +
    "print(json.dumps(create_app(Settings(secret_key='x'*32)).openapi()))",
]);
writeFileSync("openapi.json", spec);
execFileSync("npx", ["openapi-typescript", "openapi.json", "-o", "src/api/schema.d.ts", "--default-non-nullable", "false"], { stdio: "inherit" });
