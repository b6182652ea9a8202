import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse } from '@babel/parser';

/**
 * The code-shape limits of this repository, checked: in packages/{name}/src, bench and tooling (tests
 * excluded), no function over 60 lines of its own (the lines of a nested function count for that function,
 * not for the one around it), no file over 400 lines, no line over 130 characters, no import cycle of any
 * kind (type-only imports and exports included, and a dynamic `import()` of a relative module too), no file
 * beside a folder of the same name, and nothing at the root of packages/db/src but the public entry and the
 * modules that belong to no layer (ROOT_FILES). Prints every violation and exits 1 if there is any.
 *
 *   npx tsx tooling/scripts/check-shape.ts            # the whole repository
 *   npx tsx tooling/scripts/check-shape.ts --verbose  # also the longest functions and files
 */

export const LIMITS = { functionLines: 60, fileLines: 400, lineLength: 130 };

/** What may sit at the root of packages/db/src: the public entry, and loading optional peers (used by every layer). */
export const ROOT_FILES: Record<string, readonly string[]> = { 'packages/db/src': ['index.ts', 'optional.ts'] };

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const SKIP_DIRS = new Set(['node_modules', 'dist', 'test', 'tests', '.cgk', 'coverage', 'reports', '.stryker-tmp']);

/** A syntax node as @babel/parser produces it (only what this script reads). */
interface Node {
  type: string;
  loc: { start: { line: number }; end: { line: number } };
  [key: string]: unknown;
}

export interface FunctionShape {
  file: string;
  line: number;
  name: string;
  ownLines: number;
}

export interface Violation {
  kind: 'function' | 'file' | 'line' | 'cycle' | 'layout';
  where: string;
  message: string;
}

const FUNCTION_TYPES = new Set([
  'FunctionDeclaration',
  'FunctionExpression',
  'ArrowFunctionExpression',
  'ObjectMethod',
  'ClassMethod',
  'ClassPrivateMethod',
]);
const NOT_CHILDREN = new Set([
  'loc',
  'start',
  'end',
  'extra',
  'range',
  'leadingComments',
  'trailingComments',
  'innerComments',
  'comments',
]);

/** The TypeScript files the limits apply to, relative to the repository root. */
export function sourceFiles(root = ROOT): string[] {
  const roots = [join(root, 'bench'), join(root, 'tooling')];
  const packages = join(root, 'packages');
  if (existsSync(packages)) for (const name of readdirSync(packages)) roots.push(join(packages, name, 'src'));
  return roots
    .filter((dir) => existsSync(dir))
    .flatMap((dir) => walk(dir))
    .map((file) => relative(root, file))
    .sort();
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return SKIP_DIRS.has(name) ? [] : walk(path);
    return /\.(ts|mts)$/.test(name) && !/\.(test|spec)\.ts$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function parseFile(path: string): Node {
  const text = readFileSync(path, 'utf8');
  return parse(text, { sourceType: 'module', plugins: ['typescript'] }).program as unknown as Node;
}

function children(node: Node): Node[] {
  const found: Node[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (NOT_CHILDREN.has(key)) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item && typeof item === 'object' && typeof (item as Node).type === 'string') found.push(item as Node);
    }
  }
  return found;
}

const span = (node: Node) => node.loc.end.line - node.loc.start.line + 1;

/** Every function of a file with its own line count: its span less the inner lines of the functions directly in it. */
export function functionShapes(file: string, root = ROOT): FunctionShape[] {
  const shapes: FunctionShape[] = [];
  const visit = (node: Node, parent: Node | undefined): Node[] => {
    const nested = children(node).flatMap((child) => visit(child, node));
    if (!FUNCTION_TYPES.has(node.type)) return nested;
    const ownLines = span(node) - nested.reduce((sum, inner) => sum + Math.max(0, span(inner) - 1), 0);
    shapes.push({ file, line: node.loc.start.line, name: functionName(node, parent), ownLines });
    return [node];
  };
  visit(parseFile(join(root, file)), undefined);
  return shapes;
}

function functionName(node: Node, parent: Node | undefined): string {
  const nameOf = (value: unknown): string | undefined => {
    const id = value as { type?: string; name?: string; id?: { name?: string }; value?: unknown } | undefined;
    if (!id) return undefined;
    if (id.type === 'PrivateName') return `#${id.id?.name}`;
    return id.name ?? (typeof id.value === 'string' ? id.value : undefined);
  };
  return (
    nameOf(node.id) ?? nameOf(node.key) ?? nameOf(parent?.id) ?? nameOf(parent?.key) ?? nameOf(parent?.left) ?? '<anonymous>'
  );
}

/**
 * Every module a file imports: static imports and re-exports (type-only ones included: a cycle of types is
 * still two modules that cannot be read apart) and dynamic `import()` of relative modules, resolved to files.
 */
export function moduleImports(file: string, root = ROOT): string[] {
  const program = parseFile(join(root, file));
  const specifiers: string[] = [];
  for (const node of program.body as Node[]) {
    const source = (node.source as { value?: string } | null | undefined)?.value;
    if (source) specifiers.push(source);
  }
  const visit = (node: Node): void => {
    if (node.type === 'ImportExpression' || (node.type === 'CallExpression' && (node.callee as Node).type === 'Import')) {
      const arg = ((node.source ?? (node.arguments as Node[])[0]) as { value?: unknown } | undefined)?.value;
      if (typeof arg === 'string' && arg.startsWith('.')) specifiers.push(arg);
    }
    for (const child of children(node)) visit(child);
  };
  visit(program);
  return specifiers
    .map((spec) => resolveImport(spec, join(root, file), root))
    .filter((path): path is string => path !== undefined);
}

function resolveImport(spec: string, from: string, root: string): string | undefined {
  let base: string;
  if (spec.startsWith('.')) base = resolve(dirname(from), spec);
  else if (spec.startsWith('@cgk/')) {
    const [name, ...sub] = spec.slice('@cgk/'.length).split('/');
    base = join(root, 'packages', name!, 'src', sub.length > 0 ? sub.join('/') : 'index');
  } else return undefined;
  const stem = base.replace(/\.(js|ts|mjs|mts)$/, '');
  for (const candidate of [`${stem}.ts`, `${stem}.mts`, join(stem, 'index.ts')]) {
    if (existsSync(candidate)) return relative(root, candidate);
  }
  return undefined;
}

/** Strongly connected components of the import graph (every kind of import) that are cycles (Tarjan). */
export function importCycles(files: readonly string[], root = ROOT): string[][] {
  const graph = new Map<string, string[]>();
  const pending = [...files];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (graph.has(file)) continue;
    const edges = moduleImports(file, root);
    graph.set(file, edges);
    pending.push(...edges.filter((edge) => !graph.has(edge)));
  }
  return stronglyConnected(graph).filter(
    (component) => component.length > 1 || graph.get(component[0]!)!.includes(component[0]!),
  );
}

function stronglyConnected(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (let member = stack.pop()!; ; member = stack.pop()!) {
      onStack.delete(member);
      component.push(member);
      if (member === node) break;
    }
    components.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) connect(node);
  return components;
}

/** Every violation of the limits in `files`. */
export function checkShape(files: readonly string[], root = ROOT): Violation[] {
  const violations: Violation[] = [];
  for (const file of files) {
    const lines = readFileSync(join(root, file), 'utf8').replace(/\n$/, '').split('\n');
    if (lines.length > LIMITS.fileLines) {
      violations.push({ kind: 'file', where: file, message: `${lines.length} lines (limit ${LIMITS.fileLines})` });
    }
    lines.forEach((text, i) => {
      const length = [...text].length;
      if (length > LIMITS.lineLength)
        violations.push({
          kind: 'line',
          where: `${file}:${i + 1}`,
          message: `${length} characters (limit ${LIMITS.lineLength})`,
        });
    });
    for (const shape of functionShapes(file, root)) {
      if (shape.ownLines <= LIMITS.functionLines) continue;
      violations.push({
        kind: 'function',
        where: `${file}:${shape.line}`,
        message: `${shape.name}: ${shape.ownLines} lines (limit ${LIMITS.functionLines})`,
      });
    }
  }
  for (const cycle of importCycles(files, root)) {
    violations.push({ kind: 'cycle', where: cycle[0]!, message: `import cycle: ${cycle.join(' -> ')}` });
  }
  violations.push(...layoutViolations(files));
  return violations;
}

/** A file beside a folder of its own name (`cache.ts` next to `cache/`), and files at a root that allows only a few. */
export function layoutViolations(files: readonly string[]): Violation[] {
  const found: Violation[] = [];
  const dirs = new Set(files.map((file) => dirname(file)));
  for (const file of files) {
    const stem = file.replace(/\.(ts|mts)$/, '');
    if ([...dirs].some((dir) => dir === stem || dir.startsWith(`${stem}/`)))
      found.push({ kind: 'layout', where: file, message: `a file beside the folder ${stem}/: move it into the folder` });
    const allowed = ROOT_FILES[dirname(file)];
    if (allowed && !allowed.includes(file.slice(dirname(file).length + 1)))
      found.push({
        kind: 'layout',
        where: file,
        message: `only ${allowed.join(', ')} belong at ${dirname(file)}/: move it into its layer's folder`,
      });
  }
  return found;
}

function main(argv: readonly string[]): number {
  const files = sourceFiles();
  const violations = checkShape(files);
  if (argv.includes('--verbose')) {
    const shapes = files.flatMap((file) => functionShapes(file)).sort((a, b) => b.ownLines - a.ownLines);
    for (const s of shapes.slice(0, 10)) console.log(`longest function ${s.file}:${s.line} ${s.name}: ${s.ownLines} lines`);
  }
  for (const kind of ['function', 'file', 'cycle', 'layout', 'line'] as const) {
    for (const v of violations.filter((x) => x.kind === kind)) console.log(`${kind.padEnd(8)} ${v.where}  ${v.message}`);
  }
  const count = (kind: Violation['kind']) => violations.filter((v) => v.kind === kind).length;
  const { functionLines, fileLines, lineLength } = LIMITS;
  const counts = [
    `functions over ${functionLines} lines: ${count('function')}`,
    `files over ${fileLines} lines: ${count('file')}`,
    `import cycles: ${count('cycle')}`,
    `misplaced files: ${count('layout')}`,
    `lines over ${lineLength} characters: ${count('line')}`,
  ];
  console.log(`check-shape: ${files.length} files; ${counts.join('; ')}`);
  return violations.length === 0 ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname))
  process.exitCode = main(process.argv.slice(2));
