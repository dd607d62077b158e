/**
 * zod, left to itself, compiles a parser (`new Function`) for each object
 * schema the first time it parses with it: worth it over many parses of one
 * schema. A Lambda instance's first requests parse each of dozens of schemas
 * (the settings', the MCP SDK's, a tool's) once or a few times, and compiling
 * them costs the first tools/call more than interpreting them does. zod reads
 * the setting when it builds a schema, so this module is imported before any
 * module that builds one. The setting lives on `globalThis`: it holds for the
 * zod copy bundled in sdk-path.js as for the one in index.js.
 */
import { config } from 'zod/mini';

config({ jitless: true });
