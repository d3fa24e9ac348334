#!/usr/bin/env node
// The `streamlab` command (Node 24 runs the TypeScript sources directly).
await import('../src/cli/main.ts');
