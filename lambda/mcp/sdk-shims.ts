/**
 * Stands in for `@modelcontextprotocol/server/_shims` in the function bundles (an
 * esbuild alias, lib/bundling.ts). The SDK's Node shims give every `Server` an
 * Ajv validator (a large library, loaded at cold start); its Workers shims
 * give the CfWorker one but also build every protocol schema at load
 * (`preloadSchemas()`). This module gives the CfWorker validator, which the SDK
 * supports on every runtime, and Node's own `process`, and builds nothing.
 * The server never asks it to validate anything (it sends no elicitation).
 */
import process from 'node:process';

export { CfWorkerJsonSchemaValidator as DefaultJsonSchemaValidator } from '@modelcontextprotocol/server/validators/cf-worker';
export { process };
