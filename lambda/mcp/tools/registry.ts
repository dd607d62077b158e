/**
 * The registry: the tools the server offers, each with its listing, its default
 * scopes and its module, loaded on the tool's first call. It is built from a
 * list of tool modules (index.ts) and their catalog: the generated one in the
 * MCP function, so that initialize and tools/list never build a zod schema.
 */
import type { AnyTool, ToolCatalog, ToolListing } from './tool.js';

/** Loaders of tool modules by tool name, in tools/list order; each module's default export is its tool. */
export type ToolModules = Readonly<Record<string, () => Promise<{ readonly default: unknown }>>>;

/**
 * The list as written, checked: a key that is not its module's tool name is a
 * type error (and, should a cast hide it, fails the tool's first call).
 */
export function toolList<Modules extends { readonly [Name in keyof Modules]: () => Promise<{ readonly default: { readonly name: Name } }> }>(
  modules: Modules,
): Modules {
  return modules;
}

export interface ToolEntry {
  readonly listing: ToolListing;
  readonly defaultScopes: readonly string[];
  /** The tool's module, loaded once, on first use. */
  load(): Promise<AnyTool>;
}

export function toolRegistry(modules: ToolModules, catalog: ToolCatalog): ToolEntry[] {
  const names = Object.keys(modules);
  const listed = catalog.listings.map((listing) => listing.name);
  if (names.join() !== listed.join()) {
    throw new Error(`The tool catalog lists ${listed.join(', ')} but the tool modules are ${names.join(', ')}: regenerate it (npm run generate)`);
  }
  return catalog.listings.map((listing) => {
    let loaded: Promise<AnyTool> | undefined;
    const load = async () => {
      const tool = (await modules[listing.name]!()).default as AnyTool;
      if (tool.name !== listing.name) throw new Error(`The module listed as ${listing.name} defines ${tool.name}`);
      return tool;
    };
    return { listing, defaultScopes: catalog.defaultScopes[listing.name] ?? [], load: () => (loaded ??= load()) };
  });
}

/**
 * Every tool of `modules`, loaded (the generator and the tests; the MCP function
 * loads a tool on its first call). One after another: Jest's ES module loader
 * fails when two first imports of a shared dependency (zod) run at once.
 */
export async function loadTools(modules: ToolModules): Promise<AnyTool[]> {
  const tools: AnyTool[] = [];
  for (const load of Object.values(modules)) tools.push((await load()).default as AnyTool);
  return tools;
}
