// `bun run check:promises`: fails on a promise that nobody awaits, in the service, its tests and the
// example. A floating promise loses its rejection: a write whose failure nobody logs, an expectation
// that never runs. Biome's `noFloatingPromises` infers types without the compiler and misses
// promises typed through other packages; this check asks TypeScript's own checker. bun:test types
// `expect(p).rejects.toThrow()` as returning void, so no type-aware rule can see that it floats:
// `.rejects` and `.resolves` chains are named here by their shape.
// A promise is handled by `await`, by `void` (ignored on purpose), by `.catch(handler)`, or by a
// `.then` given a rejection handler.
import { relative, resolve } from "node:path";
import ts from "typescript";

const root = resolve(import.meta.dir, "..");
const projects = [root, resolve(root, "examples/nextjs")];

function isThenable(checker: ts.TypeChecker, type: ts.Type): boolean {
  if (type.isUnion()) return type.types.some((member) => isThenable(checker, member));
  const then = type.getProperty("then");
  if (!then) return false;
  return checker.getTypeOfSymbol(then).getCallSignatures().length > 0;
}

function handlesRejection(call: ts.CallExpression): boolean {
  if (!ts.isPropertyAccessExpression(call.expression)) return false;
  const method = call.expression.name.text;
  return (method === "catch" && call.arguments.length >= 1) || (method === "then" && call.arguments.length >= 2);
}

/** `x = promise` keeps the promise for someone to await later. */
function isAssignment(expression: ts.Expression): boolean {
  return (
    ts.isBinaryExpression(expression) &&
    expression.operatorToken.kind >= ts.SyntaxKind.FirstAssignment &&
    expression.operatorToken.kind <= ts.SyntaxKind.LastAssignment
  );
}

/** `expect(x).rejects.toThrow()` and the like: async matchers whose types say void. */
function isAsyncMatcher(expression: ts.Expression): boolean {
  let node: ts.Expression = expression;
  while (ts.isCallExpression(node) || ts.isPropertyAccessExpression(node)) {
    if (ts.isPropertyAccessExpression(node) && ["rejects", "resolves"].includes(node.name.text)) return true;
    node = node.expression;
  }
  return false;
}

const findings: string[] = [];
for (const project of projects) {
  const config = ts.readConfigFile(resolve(project, "tsconfig.json"), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, project);
  const program = ts.createProgram(parsed.fileNames, { ...parsed.options, incremental: false, noEmit: true });
  const checker = program.getTypeChecker();
  for (const source of program.getSourceFiles()) {
    if (source.isDeclarationFile || !source.fileName.startsWith(project) || source.fileName.includes("node_modules")) {
      continue;
    }
    if (project === root && source.fileName.startsWith(projects[1]!)) continue;
    const visit = (node: ts.Node) => {
      if (ts.isExpressionStatement(node)) {
        const { expression } = node;
        const floating =
          !ts.isVoidExpression(expression) &&
          !ts.isAwaitExpression(expression) &&
          !isAssignment(expression) &&
          !(ts.isCallExpression(expression) && handlesRejection(expression)) &&
          (isAsyncMatcher(expression) || isThenable(checker, checker.getTypeAtLocation(expression)));
        if (floating) {
          const { line, character } = source.getLineAndCharacterOfPosition(expression.getStart(source));
          findings.push(
            `${relative(root, source.fileName)}:${line + 1}:${character + 1}: ${expression.getText(source)}`,
          );
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
}

for (const finding of findings) console.log(`floating promise: ${finding}`);
console.log(`${findings.length} floating promise${findings.length === 1 ? "" : "s"}`);
process.exit(findings.length === 0 ? 0 : 1);
